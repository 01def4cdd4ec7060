//! Which codec an encoded frame is in, so the right clear-prefix rule applies to it.
//!
//! Browsers tell the codec per frame in the frame's metadata: `mimeType` (Chromium, Safari) and
//! `payloadType` (all). Reading `mimeType` makes a fresh string per frame, so the worker reads
//! the payload type, and asks for the mime type only the first time it sees a payload type; the
//! answer is remembered per transform. Where a browser gives no mime type, the page's table from
//! the negotiated SDP (`a=rtpmap`) answers, and where that is missing too, the kind of track
//! does: Opus for audio, VP8 for video, the only codecs the relay negotiates.
//!
//! Pure and allocation-free after the first frame of each payload type.

use veilig_e2ee::Codec;

/// Audio or video: the only thing known about a track before its first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// Microphone.
    Audio,
    /// Camera or screen.
    Video,
}

impl MediaKind {
    /// The kind named `audio` or `video`.
    pub fn parse(name: &str) -> Option<MediaKind> {
        match name {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }

    /// The codec assumed when a frame says nothing about its codec.
    pub fn default_codec(self) -> Codec {
        match self {
            MediaKind::Audio => Codec::Opus,
            MediaKind::Video => Codec::Vp8,
        }
    }
}

/// What a payload type was found to mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Unseen,
    Known(Codec),
    /// A codec the core has no rule for (RED, for instance): its frames are dropped rather than
    /// guessed at, since a wrong rule would put the wrong bytes in the clear.
    Unsupported,
}

/// Payload type → codec for one transform.
#[derive(Clone, Debug)]
pub struct CodecTable {
    kind: MediaKind,
    entries: [Entry; 128],
}

/// A frame in a codec the E2EE core has no clear-prefix rule for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsupportedCodec;

impl CodecTable {
    /// An empty table for a track of `kind`, seeded with the page's SDP-derived `known` entries
    /// (payload type, mime type).
    pub fn new<'a>(kind: MediaKind, known: impl IntoIterator<Item = (u8, &'a str)>) -> Self {
        let mut table = CodecTable {
            kind,
            entries: [Entry::Unseen; 128],
        };
        for (pt, mime) in known {
            table.learn(pt, Some(mime));
        }
        table
    }

    /// The codec of a frame with payload type `pt` (if the browser gave one). `mime_type` is
    /// called at most once per payload type, to read the frame's mime type.
    pub fn codec_of(
        &mut self,
        pt: Option<u8>,
        mime_type: impl FnOnce() -> Option<String>,
    ) -> Result<Codec, UnsupportedCodec> {
        let Some(pt) = pt.filter(|pt| *pt < 128) else {
            return match mime_type() {
                Some(mime) => Codec::from_mime_type(&mime).ok_or(UnsupportedCodec),
                None => Ok(self.kind.default_codec()),
            };
        };
        if self.entries[usize::from(pt)] == Entry::Unseen {
            self.learn(pt, mime_type().as_deref());
        }
        match self.entries[usize::from(pt)] {
            Entry::Known(codec) => Ok(codec),
            Entry::Unsupported => Err(UnsupportedCodec),
            Entry::Unseen => Ok(self.kind.default_codec()),
        }
    }

    fn learn(&mut self, pt: u8, mime: Option<&str>) {
        let Some(slot) = self.entries.get_mut(usize::from(pt)) else {
            return;
        };
        *slot = match mime {
            Some(mime) => match Codec::from_mime_type(mime) {
                Some(codec) => Entry::Known(codec),
                None => Entry::Unsupported,
            },
            // No mime type: the kind's default, decided once.
            None => Entry::Known(self.kind.default_codec()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mime_type_is_read_once_per_payload_type() {
        let mut table = CodecTable::new(MediaKind::Video, []);
        let mut asked = 0;
        for _ in 0..5 {
            let codec = table.codec_of(Some(96), || {
                asked += 1;
                Some("video/VP9".into())
            });
            assert_eq!(codec, Ok(Codec::Vp9));
        }
        assert_eq!(asked, 1);
    }

    #[test]
    fn sdp_entries_answer_without_asking_the_frame() {
        let mut table = CodecTable::new(MediaKind::Video, [(102, "video/H264")]);
        assert_eq!(
            table.codec_of(Some(102), || panic!("not asked")),
            Ok(Codec::H264)
        );
    }

    #[test]
    fn without_any_hint_the_kind_decides() {
        let mut audio = CodecTable::new(MediaKind::Audio, []);
        let mut video = CodecTable::new(MediaKind::Video, []);
        assert_eq!(audio.codec_of(Some(111), || None), Ok(Codec::Opus));
        assert_eq!(video.codec_of(None, || None), Ok(Codec::Vp8));
    }

    #[test]
    fn unknown_codecs_are_refused_not_guessed() {
        let mut table = CodecTable::new(MediaKind::Audio, [(63, "audio/red")]);
        assert_eq!(table.codec_of(Some(63), || None), Err(UnsupportedCodec));
        assert_eq!(
            table.codec_of(None, || Some("audio/G722".into())),
            Err(UnsupportedCodec)
        );
    }

    #[test]
    fn out_of_range_payload_types_fall_back_to_the_mime_type() {
        let mut table = CodecTable::new(MediaKind::Video, []);
        assert_eq!(
            table.codec_of(Some(200), || Some("video/AV1".into())),
            Ok(Codec::Av1)
        );
    }
}
