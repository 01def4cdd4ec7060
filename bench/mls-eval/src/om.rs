//! The evaluation's steps in openmls 0.9 with its RustCrypto provider.

use openmls::prelude::tls_codec::{Deserialize, Serialize};
use openmls::prelude::*;
use openmls::schedule::{ExternalPsk, PreSharedKeyId, Psk};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::{MemoryStorage, RustCrypto};

use crate::{Library, PSK, PSK_ID, SFRAME_LABEL};

const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// openmls's provider, with storage that can be copied (for [`Library::fork`]).
#[derive(Default)]
pub struct Provider {
    crypto: RustCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MemoryStorage;
    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }
    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }
    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}

/// One openmls member.
pub struct Member {
    provider: Provider,
    signer: SignatureKeyPair,
    group: MlsGroup,
}

/// A newcomer's provider (holding its key package's private keys) and signer.
pub struct Newcomer {
    provider: Provider,
}

/// The openmls side of the evaluation.
pub struct OpenMls;

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn psk_id() -> PreSharedKeyId {
    PreSharedKeyId::external(PSK_ID.to_vec(), vec![0; 32])
}

fn identity(provider: &Provider, with_psk: bool) -> (SignatureKeyPair, CredentialWithKey) {
    let signer = SignatureKeyPair::new(SUITE.signature_algorithm()).expect("signature key");
    signer.store(provider.storage()).expect("store signer");
    if with_psk {
        psk_id().store(provider, &PSK).expect("store psk");
    }
    let credential = CredentialWithKey {
        // No name, no device: the credential is the signature key itself.
        credential: BasicCredential::new(signer.public().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    (signer, credential)
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

fn new_newcomer(with_psk: bool) -> (Newcomer, Vec<u8>) {
    let provider = Provider::default();
    let (signer, credential) = identity(&provider, with_psk);
    let bundle = KeyPackage::builder()
        .build(SUITE, &provider, &signer, credential)
        .expect("key package");
    let bytes = MlsMessageOut::from(bundle.key_package().clone())
        .tls_serialize_detached()
        .expect("serialize");
    (Newcomer { provider }, bytes)
}

/// Whether a staged commit may be merged: one that adds anyone must carry the link's PSK.
/// openmls 0.9 has no public getter for a PSK proposal's id, so its TLS encoding is read:
/// `psktype = 1 (external) ‖ psk_id<V> ‖ psk_nonce<V>`.
fn admissible(commit: &StagedCommit) -> bool {
    let mut expected = vec![1u8];
    expected.extend(
        VLBytes::new(PSK_ID.to_vec())
            .tls_serialize_detached()
            .expect("serialize"),
    );
    commit.add_proposals().next().is_none()
        || commit.psk_proposals().any(|p| {
            p.psk_proposal()
                .tls_serialize_detached()
                .is_ok_and(|bytes| bytes.starts_with(&expected))
        })
}

impl Library for OpenMls {
    const NAME: &'static str = "openmls 0.9.2";
    type Member = Member;
    type Newcomer = Newcomer;

    fn create() -> Member {
        let provider = Provider::default();
        let (signer, credential) = identity(&provider, true);
        let group = MlsGroup::builder()
            .ciphersuite(SUITE)
            .with_wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(true)
            .build(&provider, &signer, credential)
            .expect("group");
        Member {
            provider,
            signer,
            group,
        }
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
        let kps = key_packages
            .iter()
            .map(|bytes| {
                let message = MlsMessageIn::tls_deserialize_exact(bytes).map_err(err)?;
                let MlsMessageBodyIn::KeyPackage(kp) = message.extract() else {
                    return Err("not a key package".to_owned());
                };
                kp.validate(m.provider.crypto(), ProtocolVersion::Mls10)
                    .map_err(err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = m.group.commit_builder().propose_adds(kps);
        if psk {
            let id = PreSharedKeyId::new(
                SUITE,
                m.provider.rand(),
                Psk::External(ExternalPsk::new(PSK_ID.to_vec())),
            )
            .map_err(err)?;
            builder = builder.add_proposal(Proposal::PreSharedKey(Box::new(
                PreSharedKeyProposal::new(id),
            )));
        }
        let bundle = builder
            .load_psks(m.provider.storage())
            .map_err(err)?
            .build(m.provider.rand(), m.provider.crypto(), &m.signer, |_| true)
            .map_err(err)?
            .stage_commit(&m.provider)
            .map_err(err)?;
        let (commit, welcome, _) = bundle.into_messages();
        let commit = commit.tls_serialize_detached().map_err(err)?;
        let welcome = welcome
            .ok_or("no welcome")?
            .tls_serialize_detached()
            .map_err(err)?;
        if merge {
            m.group.merge_pending_commit(&m.provider).map_err(err)?;
        } else {
            m.group
                .clear_pending_commit(m.provider.storage())
                .map_err(err)?;
        }
        Ok((commit, welcome))
    }

    fn remove(m: &mut Member, leaf: u32) -> Result<Vec<u8>, String> {
        let (commit, _, _) = m
            .group
            .remove_members(&m.provider, &m.signer, &[LeafNodeIndex::new(leaf)])
            .map_err(err)?;
        m.group.merge_pending_commit(&m.provider).map_err(err)?;
        commit.tls_serialize_detached().map_err(err)
    }

    fn process(m: &mut Member, commit: &[u8]) -> Result<(), String> {
        let message = MlsMessageIn::tls_deserialize_exact(commit).map_err(err)?;
        let protocol = message.try_into_protocol_message().map_err(err)?;
        let processed = m
            .group
            .process_message(&m.provider, protocol)
            .map_err(err)?;
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            return Err("not a commit".into());
        };
        if !admissible(&staged) {
            return Err("a commit adding a member without the link's PSK".into());
        }
        m.group
            .merge_staged_commit(&m.provider, *staged)
            .map_err(err)
    }

    fn join(n: Newcomer, welcome: &[u8]) -> Result<Member, String> {
        let message = MlsMessageIn::tls_deserialize_exact(welcome).map_err(err)?;
        let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
            return Err("not a welcome".into());
        };
        let group = StagedWelcome::new_from_welcome(&n.provider, &join_config(), welcome, None)
            .map_err(err)?
            .into_group(&n.provider)
            .map_err(err)?;
        // The signer was stored by public key; read it back.
        let public = group
            .own_leaf_node()
            .ok_or("no leaf")?
            .signature_key()
            .clone();
        let signer = SignatureKeyPair::read(
            n.provider.storage(),
            public.as_slice(),
            SUITE.signature_algorithm(),
        )
        .ok_or("no signer")?;
        Ok(Member {
            provider: n.provider,
            signer,
            group,
        })
    }

    fn fork(m: &Member) -> Member {
        let values = m.provider.storage.values.read().expect("lock").clone();
        let provider = Provider {
            crypto: RustCrypto::default(),
            storage: MemoryStorage {
                values: values.into(),
            },
        };
        let group = MlsGroup::load(provider.storage(), m.group.group_id())
            .expect("load")
            .expect("stored group");
        let signer = SignatureKeyPair::read(
            provider.storage(),
            m.signer.public(),
            SUITE.signature_algorithm(),
        )
        .expect("signer");
        Member {
            provider,
            signer,
            group,
        }
    }

    fn epoch(m: &Member) -> u64 {
        m.group.epoch().as_u64()
    }

    fn authenticator(m: &Member) -> Vec<u8> {
        m.group.epoch_authenticator().as_slice().to_vec()
    }

    fn sframe_base_key(m: &Member) -> Vec<u8> {
        m.group
            .export_secret(m.provider.crypto(), SFRAME_LABEL, b"", 16)
            .unwrap_or_default() // a removed member has none
    }

    fn leaf(m: &Member) -> u32 {
        m.group.own_leaf_index().u32()
    }
}
