//! One epoch's frame keys, as RFC 9605 §5.2 defines them, feeding the e2ee core.
//!
//! ```text
//! base_key    = MLS-Exporter("SFrame 1.0 Base Key", "", Nk)   Nk = 16 for AES_128_GCM_SHA256_128
//! KID         = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))    (crate::kid)
//! sframe_key, sframe_salt = RFC 9605 §4.4.2 from base_key and KID   (veilig_e2ee::suite)
//! safety code = first 8 bytes of the epoch authenticator, mod 10^16  (SafetyCode)
//! ```
//! Every member of the epoch derives every member's keys (that is SFrame with MLS): a frame's
//! KID says who sent it, but only the MLS signatures on handshake and application messages
//! authenticate a sender against another member.
//!
//! Nonces never repeat: a KID is unique to (epoch, sender, context) and [`EpochKeys::encryptor`]
//! hands out each context once per epoch, so a counter starting at 0 is never reused under one
//! key. A track that restarts in the same epoch takes the next context.
//!
//! Not here: keeping the previous epoch for a short overlap and routing frames to the right
//! epoch ([`crate::keyring`]), or the MLS group itself ([`crate::Participant`]).

use std::collections::{BTreeMap, BTreeSet};

use veilig_e2ee::{BaseKey, CipherSuite, FrameDecryptor, FrameEncryptor, Kid, SafetyCode};

use crate::kid::{self, KidParts};
use crate::Error;

/// RFC 9605 §5.2's exporter label.
pub const EXPORTER_LABEL: &[u8] = b"SFrame 1.0 Base Key";

/// The SFrame cipher suite of MLS meetings.
pub const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

/// Who sent a frame, read from its KID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sender {
    /// The sender's MLS leaf index.
    pub leaf: u32,
    /// Which of the sender's streams.
    pub context: u64,
}

/// One epoch's SFrame keys. `Debug` redacts the base key.
#[derive(Debug)]
pub struct EpochKeys {
    epoch: u64,
    base: BaseKey,
    s: u32,
    members: BTreeSet<u32>,
    /// Each member's relay label (its participant id when it joined; see
    /// [`crate::Participant::leaves_labelled`]), for binding a line to a sender.
    labels: BTreeMap<u32, Vec<u8>>,
    own: u32,
    code: SafetyCode,
    used_contexts: BTreeSet<u64>,
}

impl EpochKeys {
    /// From what the MLS group yields for an epoch. `labels` are the occupied leaves, each with
    /// its relay label (empty if it has none).
    pub(crate) fn new(
        epoch: u64,
        base_key: &[u8],
        labels: BTreeMap<u32, Vec<u8>>,
        own: u32,
        authenticator: &[u8],
    ) -> Result<Self, Error> {
        let members: BTreeSet<u32> = labels.keys().copied().collect();
        let highest = members.last().copied().unwrap_or(own).max(own);
        Ok(EpochKeys {
            epoch,
            base: BaseKey::new(base_key),
            s: kid::sender_bits(highest),
            members,
            labels,
            own,
            code: SafetyCode::from_epoch_authenticator(authenticator)
                .ok_or(Error::ShortAuthenticator)?,
            used_contexts: BTreeSet::new(),
        })
    }

    /// The MLS epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The code everyone in this group state sees.
    pub fn safety_code(&self) -> SafetyCode {
        self.code
    }

    /// Our own leaf index.
    pub fn own_leaf(&self) -> u32 {
        self.own
    }

    /// The occupied leaves of this epoch.
    pub fn members(&self) -> &BTreeSet<u32> {
        &self.members
    }

    /// The RFC 9605 §5.2 base key (for an independent implementation's check; secret).
    pub fn base_key(&self) -> &BaseKey {
        &self.base
    }

    /// The KID of `sender`'s stream `context` in this epoch.
    pub fn kid(&self, sender: u32, context: u64) -> Result<Kid, Error> {
        if !self.members.contains(&sender) {
            return Err(Error::NotAMember(sender));
        }
        let parts = KidParts {
            context,
            sender,
            epoch_bits: kid::epoch_bits(self.epoch),
        };
        kid::encode(parts, self.s).map_err(|_| Error::ContextTooLarge(context))
    }

    /// An encryptor for our stream `context`; each context once per epoch (see the module
    /// docs: this is what keeps nonces unique).
    pub fn encryptor(&mut self, context: u64) -> Result<FrameEncryptor, Error> {
        let kid = self.kid(self.own, context)?;
        if !self.used_contexts.insert(context) {
            return Err(Error::ContextInUse(context));
        }
        Ok(FrameEncryptor::new(SUITE, &self.base, kid))
    }

    /// A decryptor for this epoch's frames. Route frames to it only after
    /// [`EpochKeys::sender_of`] accepted their KID.
    pub fn decryptor(&self) -> FrameDecryptor {
        FrameDecryptor::new(SUITE, &self.base)
    }

    /// The relay label the member at `leaf` joined with (its participant id then), if any.
    pub fn label_of(&self, leaf: u32) -> Option<&[u8]> {
        self.labels
            .get(&leaf)
            .map(Vec::as_slice)
            .filter(|label| !label.is_empty())
    }

    /// The sender of a frame under `kid`, if the KID is this epoch's and names another member.
    pub fn sender_of(&self, kid: Kid) -> Option<Sender> {
        let parts = kid::decode(kid, self.s);
        (parts.epoch_bits == kid::epoch_bits(self.epoch)
            && parts.sender != self.own
            && self.members.contains(&parts.sender)
            && kid::encode(parts, self.s).ok() == Some(kid))
        .then_some(Sender {
            leaf: parts.sender,
            context: parts.context,
        })
    }
}
