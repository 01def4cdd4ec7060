//! A meeting of real mls-rs participants, with the relay's one job done in order: every commit
//! reaches every other member, the Welcome and its link tag reach the newcomer.
#![allow(dead_code)]

use veilig_e2ee::{Codec, InviteLink, MlsPsk, RoomKeys, SourceId};
use veilig_mls::{EpochKeys, Newcomer, Participant, Processed};

/// The PSK of link `room#secret` (no passphrase).
pub fn psk(room: &str, secret: u8) -> MlsPsk {
    let link = InviteLink::new(room, &[secret; 16], false).unwrap();
    RoomKeys::derive(&link, None).unwrap().mls_psk
}

/// The meeting's participants, in join order (not leaf order).
pub struct Meeting {
    pub psk: MlsPsk,
    pub members: Vec<Participant>,
}

impl Meeting {
    pub fn new(psk: MlsPsk) -> Self {
        let creator = Participant::create(&psk).unwrap();
        Meeting {
            psk,
            members: vec![creator],
        }
    }

    /// A meeting created by a member whose leaf carries the relay label `label`.
    pub fn labelled(psk: MlsPsk, label: &str) -> Self {
        let creator = Participant::create_labelled(&psk, label.as_bytes()).unwrap();
        Meeting {
            psk,
            members: vec![creator],
        }
    }

    /// A newcomer joins: `committer` commits the add, the others process it, the newcomer
    /// joins from the Welcome and the link tag.
    pub fn join(&mut self, committer: usize) -> usize {
        self.join_labelled(committer, "")
    }

    /// [`Meeting::join`] by a newcomer whose leaf carries the relay label `label`.
    pub fn join_labelled(&mut self, committer: usize, label: &str) -> usize {
        let (newcomer, key_package) = Newcomer::labelled(&self.psk, label.as_bytes()).unwrap();
        let out = self.members[committer].commit_add(&[&key_package]).unwrap();
        self.members[committer].apply_own().unwrap();
        let tag = self.members[committer].link_tag().unwrap();
        for (i, member) in self.members.iter_mut().enumerate() {
            if i != committer {
                assert!(matches!(
                    member.process(&out.commit),
                    Ok(Processed::NewEpoch(_))
                ));
            }
        }
        let joined = newcomer.join(&out.welcome.unwrap(), &tag).unwrap();
        self.members.push(joined);
        self.members.len() - 1
    }

    /// `committer` removes member `leaver`, who does not process it; returns the leaver's state
    /// as it was (what a participant who left keeps).
    pub fn remove(&mut self, committer: usize, leaver: usize) -> Participant {
        let leaf = self.members[leaver].leaf();
        let out = self.members[committer].commit_remove(&[leaf]).unwrap();
        self.members[committer].apply_own().unwrap();
        let gone = self.members.remove(leaver);
        let committer = if committer > leaver {
            committer - 1
        } else {
            committer
        };
        for (i, member) in self.members.iter_mut().enumerate() {
            if i != committer {
                member.process(&out.commit).unwrap();
            }
        }
        gone
    }

    /// Everyone is at one epoch with one safety code and one roster.
    pub fn assert_converged(&self) {
        let first = &self.members[0];
        for member in &self.members {
            assert_eq!(member.epoch(), first.epoch());
            assert_eq!(member.safety_code().unwrap(), first.safety_code().unwrap());
            assert_eq!(member.members(), first.members());
        }
        assert_eq!(first.members().len(), self.members.len());
    }
}

/// An Opus frame from `keys`' owner on stream `context`, as on the wire.
pub fn frame(keys: &mut EpochKeys, context: u64, payload: &[u8]) -> Vec<u8> {
    let mut encryptor = keys.encryptor(context).unwrap();
    let mut out = Vec::new();
    encryptor
        .encrypt(Codec::Opus, payload, &mut out)
        .unwrap()
        .unwrap();
    out
}

/// Whether `keys` open `wire` (checking the sender first, as the app will).
pub fn opens(keys: &EpochKeys, wire: &[u8]) -> bool {
    let Ok((header, _)) = veilig_e2ee::Header::parse(&wire[1..]) else {
        return false;
    };
    if keys.sender_of(header.kid).is_none() {
        return false;
    }
    let mut out = Vec::new();
    keys.decryptor()
        .decrypt(SourceId(1), Codec::Opus, wire, &mut out)
        .is_ok()
}

/// Whether `keys` open `wire` by key alone, skipping the sender check: what a participant who
/// left would try with everything it kept.
pub fn opens_by_key(keys: &EpochKeys, wire: &[u8]) -> bool {
    let mut out = Vec::new();
    keys.decryptor()
        .decrypt(SourceId(1), Codec::Opus, wire, &mut out)
        .is_ok()
}
