//! The errors of frame encryption and decryption, and the crate-wide [`Error`].
//!
//! Decryption errors say which *kind* of drop a frame was (bad tag, replay, unknown format, KID
//! collision, retired KID, a new KID over a limit), because the app counts drops per sender by kind; they never say anything about
//! the key or the plaintext.

use crate::codec::{CodecError, EscapeError};
use crate::header::{Counter, HeaderError, Kid};
use crate::key_schedule::LinkError;
use crate::kids::KidLimit;
use crate::receiver::SourceId;
use crate::replay::Replay;
use crate::sframe::OpenError;
use crate::suite::UnsupportedSuite;

/// Why a local frame could not be encrypted. The frame must then be dropped, never sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    /// The frame does not fit its codec's clear-prefix rule.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The sender key has encrypted 2^64 frames; a new KID is needed.
    #[error("frame counter exhausted for KID {0}")]
    CounterExhausted(Kid),
}

/// Why a received frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The frame does not fit its codec's clear-prefix rule.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// An H.264 tail that is not canonically escaped.
    #[error(transparent)]
    Escaping(#[from] EscapeError),
    /// No valid SFrame header and tag after the clear prefix.
    #[error("not an SFrame ciphertext: {0}")]
    Format(OpenError),
    /// The tag did not verify: another key, or tampering.
    #[error("authentication failed")]
    Authentication,
    /// The counter was seen before, or is too old, for this KID.
    #[error("replayed frame (KID {kid}, counter {ctr:?}): {why}")]
    Replay {
        /// The frame's KID.
        kid: Kid,
        /// The frame's counter.
        ctr: Counter,
        /// Seen before, or too old.
        why: Replay,
    },
    /// The KID was retired (its source moved on to newer KIDs or left, or it was one of our
    /// local KIDs) and may not come back.
    #[error("KID {0} was retired")]
    RetiredKid(Kid),
    /// A KID seen for the first time that would take the decryptor over one of its
    /// [`DecryptorLimits`](crate::receiver::DecryptorLimits). Nothing was stored.
    #[error("KID {kid} refused: {limit}")]
    KidLimit {
        /// The new KID.
        kid: Kid,
        /// The limit it ran into.
        limit: KidLimit,
    },
    /// A KID its source's participant did not announce (see
    /// [`FrameDecryptor::announce`](crate::receiver::FrameDecryptor::announce)): a relay
    /// passing one participant's frames off as another's, or inventing a sender. Checked
    /// before any decryption.
    #[error("KID {0} was not announced for this source")]
    Unannounced(Kid),
    /// A frame that authenticated under a KID another sender owns: two senders sharing a key,
    /// which honest clients never do. Reported, never accepted.
    #[error("KID {kid} already belongs to {owner:?}")]
    KidCollision {
        /// The shared KID.
        kid: Kid,
        /// Who used it first; `None` for one of our own local senders.
        owner: Option<SourceId>,
    },
}

/// The kind of a dropped frame, for per-sender drop counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Did not fit the codec rule or the SFrame format.
    UnknownFormat,
    /// Failed authentication.
    BadTag,
    /// Replayed or too old for its KID's replay window.
    Replay,
    /// Authenticated under a KID another sender owns.
    KidCollision,
    /// Under a retired KID.
    Retired,
    /// A new KID over one of the decryptor's limits.
    OverLimit,
    /// A KID not announced for its source.
    Unannounced,
}

impl DecryptError {
    /// How the app counts this drop.
    pub fn reason(&self) -> DropReason {
        match self {
            DecryptError::Codec(_) | DecryptError::Escaping(_) | DecryptError::Format(_) => {
                DropReason::UnknownFormat
            }
            DecryptError::Authentication => DropReason::BadTag,
            DecryptError::Replay { .. } => DropReason::Replay,
            DecryptError::KidCollision { .. } => DropReason::KidCollision,
            DecryptError::RetiredKid(_) => DropReason::Retired,
            DecryptError::KidLimit { .. } => DropReason::OverLimit,
            DecryptError::Unannounced(_) => DropReason::Unannounced,
        }
    }
}

impl From<OpenError> for DecryptError {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Authentication(_) => DecryptError::Authentication,
            other => DecryptError::Format(other),
        }
    }
}

/// Every error of this crate, for callers that handle them alike.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`HeaderError`].
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// See [`UnsupportedSuite`].
    #[error(transparent)]
    Suite(#[from] UnsupportedSuite),
    /// See [`EncryptError`].
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// See [`DecryptError`].
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// See [`LinkError`].
    #[error(transparent)]
    Link(#[from] LinkError),
}
