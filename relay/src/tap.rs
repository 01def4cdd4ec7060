//! The payload tap: a test-only record of every media frame the relay forwards, and of every
//! frame a browser sent on a line that is not one of its upstream slots, so end-to-end tests
//! can prove the relay only ever held ciphertext, even when it lied about the lines.
//!
//! Compiled only with the `payload-tap` feature and enabled with `--payload-tap FILE`. Each
//! frame becomes one JSON line:
//! ```json
//! {"room":"weekly-sync","sender":"9f2c…","kind":"video","codec":"video/VP8","rtp_time":123456,"payload":"<base64>","stray":false}
//! ```
//! `sender` is the relay's opaque participant id, `rtp_time` the frame's RTP timestamp (90 kHz
//! for video, 48 kHz for Opus), `payload` the frame exactly as the browser's encoded transform
//! produced it (standard base64); `stray` is true for a frame that arrived on a line the
//! relay had relabelled (see `hostile.rs`), which it never forwards.

use veilig_protocol::{ParticipantId, RoomId};

/// Where tapped frames go (a no-op type without the `payload-tap` feature).
#[derive(Clone, Debug)]
pub struct Tap {
    #[cfg(feature = "payload-tap")]
    file: std::sync::Arc<std::sync::Mutex<std::io::BufWriter<std::fs::File>>>,
}

impl Tap {
    /// Opens (appends to) the tap file.
    #[cfg(feature = "payload-tap")]
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Tap {
            file: std::sync::Arc::new(std::sync::Mutex::new(std::io::BufWriter::new(file))),
        })
    }

    /// Records one forwarded frame.
    pub fn record(&self, room: &RoomId, sender: &ParticipantId, data: &str0m::media::MediaData) {
        self.write(room, sender, data, false);
    }

    /// Records a frame a browser sent on a line that is not one of its upstream slots (only a
    /// lying relay gets any): `"stray": true`, never forwarded.
    pub fn record_stray(
        &self,
        room: &RoomId,
        sender: &ParticipantId,
        data: &str0m::media::MediaData,
    ) {
        self.write(room, sender, data, true);
    }

    #[allow(unused_variables)]
    fn write(
        &self,
        room: &RoomId,
        sender: &ParticipantId,
        data: &str0m::media::MediaData,
        stray: bool,
    ) {
        #[cfg(feature = "payload-tap")]
        {
            use base64::Engine as _;
            use std::io::Write as _;
            let codec = data.params.spec().codec;
            let (kind, mime) = match codec {
                str0m::format::Codec::Opus => ("audio", "audio/opus"),
                str0m::format::Codec::Vp8 => ("video", "video/VP8"),
                _ => ("video", "video/unknown"),
            };
            let line = serde_json::json!({
                "room": room.as_str(),
                "sender": sender.as_str(),
                "kind": kind,
                "codec": mime,
                "rtp_time": data.time.numer(),
                "payload": base64::engine::general_purpose::STANDARD.encode(&data.data),
                "stray": stray,
            });
            let mut file = self
                .file
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = writeln!(file, "{line}").and_then(|()| file.flush());
        }
    }
}
