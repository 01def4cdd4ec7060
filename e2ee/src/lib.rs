//! Veilig's end-to-end encryption core: SFrame ([RFC 9605]) for WebRTC media frames, and the
//! key schedule that turns an invite link into keys.
//!
//! This crate does no IO. It never reads a clock, a random number generator, the network or the
//! DOM, and it never logs. Everything comes in as arguments: the link secret, KIDs chosen by the
//! caller's CSPRNG, and frames as byte slices. That keeps it testable natively with `cargo test`
//! and lets the same code run unchanged in the browser's encoded-transform worker.
//!
//! ```text
//!  invite link ──► key_schedule::RoomKeys ──► media base key ──► FrameEncryptor (one per local track)
//!  /room#secret        (HKDF, optional            │                   │ frame ─► prefix‖header‖ct‖tag
//!                       PBKDF2 passphrase)        └────────────► FrameDecryptor (one per room)
//!                                                                     │ prefix‖header‖ct‖tag ─► frame
//! ```
//!
//! The pieces, each in its own module:
//! - [`header`]: the SFrame header (KID and counter), encoded and parsed.
//! - [`suite`]: the two AES-GCM cipher suites and the RFC's per-KID key and salt derivation.
//! - [`codec`]: which leading bytes of each codec's frames stay in the clear for the
//!   packetizer and the SFU, and the H.264 start-code escaping.
//! - [`sframe`]: encrypting and decrypting one SFrame ciphertext, codec-agnostic.
//! - [`sender`] and [`receiver`]: per-track encryption with a rising counter, and per-room
//!   decryption with replay windows and KID-collision detection.
//! - [`kids`]: which KIDs the receiver keeps, per source, in bounded memory, and why a retired
//!   KID never comes back.
//! - [`key_schedule`]: invite link → media key, metadata key and the safety code.
//! - [`external`]: the same frames with AES-GCM done by an outside engine (WebCrypto), for the
//!   sizes where that is faster.
//!
//! # Panic policy
//! A panic in this crate is a bug. Untrusted input (frames from the network, links typed by
//! people) never panics: it yields an error value, and the caller drops the frame and counts it.
//!
//! [RFC 9605]: https://www.rfc-editor.org/rfc/rfc9605
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod external;
pub mod header;
pub mod key_schedule;
pub mod kids;
pub mod receiver;
pub mod replay;
pub mod sender;
pub mod sframe;
pub mod suite;

mod error;

pub use codec::Codec;
pub use error::{DecryptError, DropReason, EncryptError, Error};
pub use external::{ExternalOpen, ExternalSeal};
pub use header::{Counter, Header, Kid};
pub use key_schedule::{AccessValue, InviteLink, MlsPsk, RoomKeys, SafetyCode, MLS_PSK_ID};
pub use receiver::{FrameDecryptor, SourceId, SourceStats};
pub use sender::FrameEncryptor;
pub use suite::{BaseKey, CipherSuite};
