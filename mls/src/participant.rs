//! One participant's MLS state for one meeting: the group, and the handshake steps the app
//! drives (create, key package, join, commit, process).
//!
//! Sans-IO like the rest: the app sends what these calls return through the relay and feeds in
//! what arrives. A commit is not applied by its author until the relay has ordered it
//! ([`Participant::apply_own`]); a commit that lost the race is dropped
//! ([`Participant::discard_own`]). Randomness comes from mls-rs's RustCrypto provider (the OS,
//! or `crypto.getRandomValues` in the browser): unlike the SFrame core, MLS cannot take its
//! randomness as arguments through mls-rs's API.
//!
//! Credentials carry no name or device: a basic credential whose bytes are the member's own
//! signature public key, which the leaf shows anyway (mls-rs refuses two leaves with one
//! identity, so an empty credential would not do). Names travel in encrypted messages.

use std::collections::{BTreeMap, BTreeSet};

use mls_rs::client_builder::{
    BaseConfig, IntoConfigOutput, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::error::MlsError;
use mls_rs::extension::ExtensionType;
use mls_rs::group::{CommitEffect, ReceivedMessage};
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::identity::SigningIdentity;
use mls_rs::psk::{ExternalPskId, PreSharedKey};
use mls_rs::{
    CipherSuite, CipherSuiteProvider, Client, CryptoProvider, Extension, ExtensionList, MlsMessage,
};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use veilig_e2ee::{MlsPsk, SafetyCode, MLS_PSK_ID};

use crate::epoch::{EpochKeys, EXPORTER_LABEL, SUITE};
use crate::rules::{LinkRules, Refused};
use crate::Error;

/// MLS cipher suite 1: `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`.
pub const MLS_SUITE: CipherSuite = CipherSuite::CURVE25519_AES128;

type Config = IntoConfigOutput<
    WithMlsRules<
        LinkRules,
        WithIdentityProvider<
            BasicIdentityProvider,
            WithCryptoProvider<RustCryptoProvider, BaseConfig>,
        >,
    >,
>;

fn client(psk: &MlsPsk) -> Result<Client<Config>, Error> {
    let crypto = RustCryptoProvider::default();
    let suite = crypto
        .cipher_suite_provider(MLS_SUITE)
        .ok_or(Error::Suite)?;
    let (secret, public) = suite.signature_key_generate().map_err(|_| Error::Suite)?;
    let credential = BasicCredential::new(public.to_vec()).into_credential();
    Ok(Client::builder()
        .crypto_provider(crypto)
        .identity_provider(BasicIdentityProvider)
        .mls_rules(LinkRules)
        .extension_type(LABEL_EXTENSION)
        .signing_identity(SigningIdentity::new(credential, public), secret, MLS_SUITE)
        .psk(
            ExternalPskId::new(MLS_PSK_ID.to_vec()),
            PreSharedKey::new(psk.as_bytes().to_vec()),
        )
        .build())
}

/// What a commit sends: the commit for the members, and the Welcome for the newcomers (if it
/// adds any), both as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The MLS commit (PublicMessage), for every member.
    pub commit: Vec<u8>,
    /// The Welcome, for the newcomers.
    pub welcome: Option<Vec<u8>>,
}

/// What processing a commit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    /// We moved to a new epoch.
    NewEpoch(u64),
    /// The commit removed us: the group's keys are gone.
    Removed,
}

/// A private-use leaf extension holding the relay's label for the member (its participant id in
/// the room): not a name or device, just what the relay calls this connection, so members can
/// act on the relay's `left` notices. As unauthenticated as the notices themselves.
pub const LABEL_EXTENSION: ExtensionType = ExtensionType::new(0xF7E1);

fn label_extensions(label: &[u8]) -> ExtensionList {
    let mut list = ExtensionList::default();
    if !label.is_empty() {
        list.set(Extension::new(LABEL_EXTENSION, label.to_vec()));
    }
    list
}

/// The label of the link tag (see [`Participant::link_tag`]).
pub const LINK_TAG_LABEL: &[u8] = b"veilig/1 link tag";

/// Bytes in a link tag.
pub const LINK_TAG_LEN: usize = 32;

/// Someone who made a key package and waits for a Welcome. Its client holds the key package's
/// private keys.
pub struct Newcomer {
    client: Client<Config>,
    psk: MlsPsk,
}

impl core::fmt::Debug for Newcomer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Newcomer")
    }
}

impl Newcomer {
    /// A newcomer holding the link (its PSK) and a key package for the members, as on the wire.
    pub fn new(psk: &MlsPsk) -> Result<(Self, Vec<u8>), Error> {
        Self::labelled(psk, b"")
    }

    /// [`Newcomer::new`], its leaf carrying the relay's `label` for it (see
    /// [`LABEL_EXTENSION`]).
    pub fn labelled(psk: &MlsPsk, label: &[u8]) -> Result<(Self, Vec<u8>), Error> {
        let client = client(psk)?;
        let key_package = client
            .generate_key_package_message(ExtensionList::default(), label_extensions(label), None)?
            .to_bytes()?;
        Ok((
            Newcomer {
                client,
                psk: psk.clone(),
            },
            key_package,
        ))
    }

    /// Joins from a Welcome and the link tag its committer sent with it. Fails for a Welcome that
    /// needs the link's PSK when we hold another link, for a Welcome not made for our key
    /// package, and for a group not bound to our link: one whose link tag does not match (a
    /// relay's own group, which it could otherwise welcome us into).
    pub fn join(&self, welcome: &[u8], link_tag: &[u8]) -> Result<Participant, Error> {
        let welcome = MlsMessage::from_bytes(welcome)?;
        let (group, _) = self.client.join_group(None, &welcome, None)?;
        let participant = Participant {
            group,
            psk: self.psk.clone(),
        };
        if participant.link_tag()?.as_slice() != link_tag {
            return Err(Error::NotTheLinksGroup);
        }
        Ok(participant)
    }
}

/// A member of a meeting's MLS group.
pub struct Participant {
    group: mls_rs::Group<Config>,
    psk: MlsPsk,
}

impl core::fmt::Debug for Participant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Participant")
            .field("epoch", &self.group.current_epoch())
            .field("leaf", &self.group.current_member_index())
            .finish_non_exhaustive()
    }
}

impl Participant {
    /// The first participant: creates the meeting's group, alone in it at epoch 0.
    pub fn create(psk: &MlsPsk) -> Result<Self, Error> {
        Self::create_labelled(psk, b"")
    }

    /// [`Participant::create`], our leaf carrying the relay's `label` for us.
    pub fn create_labelled(psk: &MlsPsk, label: &[u8]) -> Result<Self, Error> {
        let group =
            client(psk)?.create_group(ExtensionList::default(), label_extensions(label), None)?;
        Ok(Participant {
            group,
            psk: psk.clone(),
        })
    }

    /// The current epoch's link tag: `MLS-Exporter("veilig/1 link tag", mls_psk, 32)`. Only a
    /// member of this epoch who holds the link can compute it. A committer sends it with the
    /// Welcome (after applying its commit), and the newcomer checks it: mls-rs does not tell a
    /// joiner which PSKs a Welcome used, and without this check a relay could welcome a newcomer
    /// into a group of its own. It reveals nothing of the PSK: the exporter is keyed by the
    /// epoch's secret.
    pub fn link_tag(&self) -> Result<[u8; LINK_TAG_LEN], Error> {
        let tag = self
            .group
            .export_secret(LINK_TAG_LABEL, self.psk.as_bytes(), LINK_TAG_LEN)?;
        let mut out = [0u8; LINK_TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// A commit adding the newcomers of `key_packages`, with the link's PSK. Pending until
    /// [`Participant::apply_own`] or [`Participant::discard_own`].
    pub fn commit_add(&mut self, key_packages: &[&[u8]]) -> Result<Outgoing, Error> {
        self.commit_adds(key_packages, true)
    }

    fn commit_adds(&mut self, key_packages: &[&[u8]], with_psk: bool) -> Result<Outgoing, Error> {
        self.build_commit(key_packages, &[], with_psk)
    }

    fn build_commit(
        &mut self,
        key_packages: &[&[u8]],
        leaves: &[u32],
        with_psk: bool,
    ) -> Result<Outgoing, Error> {
        let mut builder = self.group.commit_builder();
        for &leaf in leaves {
            builder = builder.remove_member(leaf)?;
        }
        for key_package in key_packages {
            builder = builder.add_member(MlsMessage::from_bytes(key_package)?)?;
        }
        if with_psk {
            builder = builder.add_external_psk(ExternalPskId::new(MLS_PSK_ID.to_vec()))?;
        }
        let output = builder.build()?;
        Ok(Outgoing {
            commit: output.commit_message.to_bytes()?,
            welcome: output
                .welcome_messages
                .first()
                .map(MlsMessage::to_bytes)
                .transpose()?,
        })
    }

    /// One commit removing the members at `leaves` and adding the newcomers of `key_packages`
    /// (with the link's PSK if it adds anyone): a lost Welcome or a rejoin replaces a leaf with a
    /// fresh key package in one epoch. Pending like [`Participant::commit_add`].
    pub fn commit_changes(
        &mut self,
        key_packages: &[&[u8]],
        leaves: &[u32],
    ) -> Result<Outgoing, Error> {
        self.build_commit(key_packages, leaves, !key_packages.is_empty())
    }

    /// The link tag of the epoch our pending commit will start: what goes with its Welcome, sent
    /// with the commit before the relay has ordered it (computed on a copy of the group).
    pub fn pending_link_tag(&self) -> Result<[u8; LINK_TAG_LEN], Error> {
        let mut next = Participant {
            group: self.group.clone(),
            psk: self.psk.clone(),
        };
        next.group.apply_pending_commit()?;
        next.link_tag()
    }

    /// The leaves whose relay label is `label`.
    pub fn leaves_labelled(&self, label: &[u8]) -> Vec<u32> {
        self.group
            .roster()
            .members_iter()
            .filter(|member| {
                member
                    .extensions
                    .get(LABEL_EXTENSION)
                    .is_some_and(|ext| ext.extension_data == label)
            })
            .map(|member| member.index)
            .collect()
    }

    /// The signature key of the member at `leaf`.
    pub fn identity_at(&self, leaf: u32) -> Option<Vec<u8>> {
        self.group
            .roster()
            .members_iter()
            .find(|member| member.index == leaf)
            .map(|member| member.signing_identity.signature_key.to_vec())
    }

    /// The leaf of the member whose signature key is `identity`, if one is in the group.
    pub fn leaf_of(&self, identity: &[u8]) -> Option<u32> {
        self.group
            .roster()
            .members_iter()
            .find(|member| member.signing_identity.signature_key.as_ref() == identity)
            .map(|member| member.index)
    }

    /// A commit removing the members at `leaves` (who left, or whom a member removes). Pending
    /// like [`Participant::commit_add`].
    pub fn commit_remove(&mut self, leaves: &[u32]) -> Result<Outgoing, Error> {
        self.build_commit(&[], leaves, false)
    }

    /// What a client that ignores the link would commit: adds without the PSK. For the tests
    /// that show every member refuses it; the app never calls it.
    #[doc(hidden)]
    pub fn commit_add_without_link(&mut self, key_packages: &[&[u8]]) -> Result<Outgoing, Error> {
        self.commit_adds(key_packages, false)
    }

    /// Applies our pending commit: the relay ordered it first for this epoch.
    pub fn apply_own(&mut self) -> Result<u64, Error> {
        self.group.apply_pending_commit()?;
        Ok(self.group.current_epoch())
    }

    /// Drops our pending commit: another member's commit for this epoch came first.
    pub fn discard_own(&mut self) {
        self.group.clear_pending_commit();
    }

    /// Processes another member's commit, as the relay ordered it. Refused (and nothing
    /// changes) if it adds anyone without the link's PSK, is for another epoch or group, or does
    /// not verify.
    pub fn process(&mut self, commit: &[u8]) -> Result<Processed, Error> {
        let message = MlsMessage::from_bytes(commit)?;
        match self.group.process_incoming_message(message)? {
            ReceivedMessage::Commit(description) => match description.effect {
                CommitEffect::NewEpoch(_) => Ok(Processed::NewEpoch(self.group.current_epoch())),
                CommitEffect::Removed { .. } => Ok(Processed::Removed),
                CommitEffect::ReInit(_) => Err(Error::NotACommit),
            },
            _ => Err(Error::NotACommit),
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.group.current_epoch()
    }

    /// Our leaf index.
    pub fn leaf(&self) -> u32 {
        self.group.current_member_index()
    }

    /// The occupied leaves.
    pub fn members(&self) -> BTreeSet<u32> {
        self.group
            .roster()
            .members_iter()
            .map(|member| member.index)
            .collect()
    }

    /// The occupied leaves, each with its relay label (empty if it has none).
    pub fn labelled_members(&self) -> BTreeMap<u32, Vec<u8>> {
        self.group
            .roster()
            .members_iter()
            .map(|member| {
                let label = member
                    .extensions
                    .get(LABEL_EXTENSION)
                    .map(|ext| ext.extension_data)
                    .unwrap_or_default();
                (member.index, label)
            })
            .collect()
    }

    /// The safety code of the current epoch.
    pub fn safety_code(&self) -> Result<SafetyCode, Error> {
        let authenticator = self.group.epoch_authenticator()?;
        SafetyCode::from_epoch_authenticator(&authenticator).ok_or(Error::ShortAuthenticator)
    }

    /// The current epoch's SFrame keys (RFC 9605 §5.2).
    pub fn epoch_keys(&self) -> Result<EpochKeys, Error> {
        let base = self
            .group
            .export_secret(EXPORTER_LABEL, b"", SUITE.key_len())?;
        let authenticator = self.group.epoch_authenticator()?;
        EpochKeys::new(
            self.group.current_epoch(),
            &base,
            self.labelled_members(),
            self.leaf(),
            &authenticator,
        )
    }
}

/// mls-rs errors, with the link rule's refusals told apart.
pub(crate) fn from_mls(error: MlsError) -> Error {
    if let MlsError::MlsRulesError(inner) = &error {
        if let Some(refused) = inner.inner_dyn_error().downcast_ref::<Refused>() {
            return Error::Refused(*refused);
        }
    }
    if matches!(error, MlsError::MissingRequiredPsk) {
        return Error::WelcomeWithoutLink;
    }
    Error::Mls(error)
}

/// The signature key a key package's leaf will show: how members tell which leaf a key package
/// became.
pub fn key_package_identity(key_package: &[u8]) -> Result<Vec<u8>, Error> {
    let package = MlsMessage::from_bytes(key_package)?
        .into_key_package()
        .ok_or(Error::NotAKeyPackage)?;
    Ok(package.signing_identity().signature_key.to_vec())
}

/// The epoch a handshake message (a commit) was made in, read without processing it.
pub fn message_epoch(message: &[u8]) -> Result<u64, Error> {
    MlsMessage::from_bytes(message)?
        .epoch()
        .ok_or(Error::NotACommit)
}
