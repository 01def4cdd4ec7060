//! The evaluation's steps in AWS's mls-rs 0.57 with its RustCrypto provider.

use mls_rs::client_builder::{BaseConfig, WithCryptoProvider, WithIdentityProvider, WithMlsRules};
use mls_rs::group::ReceivedMessage;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::identity::SigningIdentity;
use mls_rs::mls_rules::{
    CommitDirection, CommitOptions, CommitSource, DefaultMlsRules, EncryptionOptions,
    ProposalBundle,
};
use mls_rs::psk::{ExternalPskId, PreSharedKey};
use mls_rs::{CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, MlsMessage};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;

use crate::{Library, PSK, PSK_ID, SFRAME_LABEL};

const SUITE: CipherSuite = CipherSuite::CURVE25519_AES128;

/// The rule every member applies to every commit, sent or received: a commit that adds anyone
/// must carry the link's PSK.
#[derive(Clone, Debug, Default)]
pub struct LinkRules;

/// A commit adding a member without the link's PSK.
#[derive(Debug)]
pub struct AddWithoutPsk;

impl mls_rs::error::IntoAnyError for AddWithoutPsk {}

impl mls_rs::MlsRules for LinkRules {
    type Error = AddWithoutPsk;

    fn filter_proposals(
        &self,
        direction: CommitDirection,
        _source: CommitSource,
        _roster: &mls_rs::group::Roster,
        _context: &mls_rs::group::GroupContext,
        proposals: ProposalBundle,
    ) -> Result<ProposalBundle, AddWithoutPsk> {
        // Receivers enforce the rule; a sender's own code decides what it commits (and the
        // evaluation needs to send a bad commit to see it refused).
        if direction == CommitDirection::Send {
            return Ok(proposals);
        }
        let adds = !proposals.add_proposals().is_empty();
        let psk = proposals.psk_proposals().iter().any(|p| {
            p.proposal
                .external_psk_id()
                .is_some_and(|id| id.as_ref() == PSK_ID)
        });
        if adds && !psk {
            return Err(AddWithoutPsk);
        }
        Ok(proposals)
    }

    fn commit_options(
        &self,
        roster: &mls_rs::group::Roster,
        context: &mls_rs::group::GroupContext,
        proposals: &ProposalBundle,
    ) -> Result<CommitOptions, AddWithoutPsk> {
        Ok(DefaultMlsRules::default()
            .commit_options(roster, context, proposals)
            .expect("infallible"))
    }

    fn encryption_options(
        &self,
        _roster: &mls_rs::group::Roster,
        _context: &mls_rs::group::GroupContext,
    ) -> Result<EncryptionOptions, AddWithoutPsk> {
        Ok(EncryptionOptions::default())
    }
}

type Config = WithMlsRules<
    LinkRules,
    WithIdentityProvider<BasicIdentityProvider, WithCryptoProvider<RustCryptoProvider, BaseConfig>>,
>;
type Group = mls_rs::Group<mls_rs::client_builder::IntoConfigOutput<Config>>;
type MlsClient = Client<mls_rs::client_builder::IntoConfigOutput<Config>>;

/// One mls-rs member.
pub struct Member {
    group: Group,
}

/// A newcomer: its client holds the key package's private keys.
pub struct Newcomer {
    client: MlsClient,
}

/// The mls-rs side of the evaluation.
pub struct MlsRs;

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn client(with_psk: bool) -> MlsClient {
    let crypto = RustCryptoProvider::default();
    let suite = crypto.cipher_suite_provider(SUITE).expect("suite");
    let (secret, public) = suite.signature_key_generate().expect("signature key");
    // No name, no device: the credential is the signature key itself (mls-rs refuses two leaves
    // with one identity, so an empty credential would not do).
    let credential = BasicCredential::new(public.to_vec()).into_credential();
    let identity = SigningIdentity::new(credential, public);
    let builder = Client::builder()
        .crypto_provider(crypto)
        .identity_provider(BasicIdentityProvider)
        .mls_rules(LinkRules)
        .signing_identity(identity, secret, SUITE);
    let builder = if with_psk {
        builder.psk(
            ExternalPskId::new(PSK_ID.to_vec()),
            PreSharedKey::new(PSK.to_vec()),
        )
    } else {
        builder
    };
    builder.build()
}

fn new_newcomer(with_psk: bool) -> (Newcomer, Vec<u8>) {
    let client = client(with_psk);
    let kp = client
        .generate_key_package_message(ExtensionList::default(), ExtensionList::default(), None)
        .expect("key package");
    (Newcomer { client }, kp.to_bytes().expect("serialize"))
}

impl Library for MlsRs {
    const NAME: &'static str = "mls-rs 0.57.0";
    type Member = Member;
    type Newcomer = Newcomer;

    fn create() -> Member {
        let group = client(true)
            .create_group(ExtensionList::default(), ExtensionList::default(), None)
            .expect("group");
        Member { group }
    }

    fn newcomer() -> (Newcomer, Vec<u8>) {
        new_newcomer(true)
    }

    fn newcomer_without_psk() -> (Newcomer, Vec<u8>) {
        new_newcomer(false)
    }

    fn add(
        m: &mut Member,
        key_packages: &[Vec<u8>],
        psk: bool,
        merge: bool,
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut builder = m.group.commit_builder();
        for bytes in key_packages {
            builder = builder
                .add_member(MlsMessage::from_bytes(bytes).map_err(err)?)
                .map_err(err)?;
        }
        if psk {
            builder = builder
                .add_external_psk(ExternalPskId::new(PSK_ID.to_vec()))
                .map_err(err)?;
        }
        let output = builder.build().map_err(err)?;
        let commit = output.commit_message.to_bytes().map_err(err)?;
        let welcome = output.welcome_messages[0].to_bytes().map_err(err)?;
        if merge {
            m.group.apply_pending_commit().map_err(err)?;
        } else {
            m.group.clear_pending_commit();
        }
        Ok((commit, welcome))
    }

    fn remove(m: &mut Member, leaf: u32) -> Result<Vec<u8>, String> {
        let output = m
            .group
            .commit_builder()
            .remove_member(leaf)
            .map_err(err)?
            .build()
            .map_err(err)?;
        m.group.apply_pending_commit().map_err(err)?;
        output.commit_message.to_bytes().map_err(err)
    }

    fn process(m: &mut Member, commit: &[u8]) -> Result<(), String> {
        let message = MlsMessage::from_bytes(commit).map_err(err)?;
        match m.group.process_incoming_message(message).map_err(err)? {
            ReceivedMessage::Commit(_) => Ok(()),
            _ => Err("not a commit".into()),
        }
    }

    fn join(n: Newcomer, welcome: &[u8]) -> Result<Member, String> {
        let welcome = MlsMessage::from_bytes(welcome).map_err(err)?;
        let (group, _) = n.client.join_group(None, &welcome, None).map_err(err)?;
        Ok(Member { group })
    }

    fn fork(m: &Member) -> Member {
        Member {
            group: m.group.clone(),
        }
    }

    fn epoch(m: &Member) -> u64 {
        m.group.current_epoch()
    }

    fn authenticator(m: &Member) -> Vec<u8> {
        m.group
            .epoch_authenticator()
            .expect("authenticator")
            .to_vec()
    }

    fn sframe_base_key(m: &Member) -> Vec<u8> {
        m.group
            .export_secret(SFRAME_LABEL.as_bytes(), b"", 16)
            .map(|s| s.to_vec())
            .unwrap_or_default()
    }

    fn leaf(m: &Member) -> u32 {
        m.group.current_member_index()
    }
}
