//! Veilig's MLS group keys: one MLS group (RFC 9420) per meeting, whose epochs give the SFrame
//! keys of RFC 9605 §5.2, with admission bound to the invite link.
//!
//! ```text
//!  link ─► e2ee RoomKeys.mls_psk ─► external PSK in every commit that adds a member (rules)
//!                                                   │
//!  Participant (mls-rs group) ── commit/process ──► epoch ─► EpochKeys ─► FrameEncryptor (ours)
//!        ▲ Welcome / commits, ordered by the relay          │  base_key = MLS-Exporter(...)
//!        │                                                  ├─► FrameDecryptor (the others')
//!                                                           └─► SafetyCode (epoch authenticator)
//! ```
//! - [`driver`]: who commits what and when (designated committer, takeover, lost Welcome,
//!   rejoin after a missed commit), sans-IO, for the worker and the native test participants.
//! - [`participant`]: the group and its handshake steps.
//! - [`rules`]: the rule every member applies to received commits (the link's PSK on adds).
//! - [`epoch`]: one epoch's frame keys and safety code.
//! - [`kid`]: RFC 9605 §5.2 KIDs (epoch, sender leaf, context).
//! - [`keyring`]: the live epochs (current, and the previous one for a short overlap), frames
//!   routed to their epoch by the KID.
//!
//! This crate does no IO: the app carries handshake messages through the relay. It has no web-sys
//! and tests natively. Who commits, and how races, lost messages and relay restarts resolve, is
//! in docs/mls.md.
//!
//! # Panic policy
//! A panic here is a bug; messages from the network yield errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
pub mod epoch;
pub mod keyring;
pub mod kid;
pub mod participant;
pub mod rules;

pub use epoch::{EpochKeys, Sender};
pub use participant::{
    key_package_identity, message_epoch, Newcomer, Outgoing, Participant, Processed,
};
pub use rules::Refused;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A received commit broke the link rule (see [`rules`]); nothing changed.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// A Welcome needs the link's PSK and we do not have it.
    #[error("this Welcome needs the link's key")]
    WelcomeWithoutLink,
    /// A Welcome into a group not bound to our link (its link tag does not match).
    #[error("this Welcome is not from the link's meeting")]
    NotTheLinksGroup,
    /// Bytes that are not a key package where one was expected.
    #[error("not a key package")]
    NotAKeyPackage,
    /// A handshake message that is not a commit where a commit was expected.
    #[error("not a commit")]
    NotACommit,
    /// A leaf index that is not a member of the epoch.
    #[error("leaf {0} is not a member")]
    NotAMember(u32),
    /// A stream context used before in this epoch (its counter would repeat).
    #[error("context {0} is already in use this epoch")]
    ContextInUse(u64),
    /// No epoch keys: not joined yet, or removed.
    #[error("no epoch keys")]
    NoEpoch,
    /// A stream context too large for the KID.
    #[error("context {0} does not fit in a KID")]
    ContextTooLarge(u64),
    /// The MLS cipher suite is not available.
    #[error("MLS cipher suite unavailable")]
    Suite,
    /// An epoch authenticator shorter than a safety code.
    #[error("epoch authenticator too short")]
    ShortAuthenticator,
    /// Anything else mls-rs refused: bad encoding, wrong epoch or group, bad signature.
    #[error("MLS: {0}")]
    Mls(mls_rs::error::MlsError),
}

impl From<mls_rs::error::MlsError> for Error {
    fn from(error: mls_rs::error::MlsError) -> Self {
        participant::from_mls(error)
    }
}
