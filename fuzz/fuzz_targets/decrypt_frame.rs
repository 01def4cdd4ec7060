//! Fuzz target: untrusted bytes into [`FrameDecryptor::decrypt`] (every codec) and
//! [`FrameDecryptor::open_message`].
//!
//! The first input byte picks one of two modes (bit 0):
//!
//! - **raw** (even): the rest of the input is one frame off the network, decrypted under every
//!   codec and as a message (twice over, so that a valid frame also meets the replay check). A
//!   random frame cannot carry a valid tag, so this mode mostly explores the parsers: clear
//!   prefixes, H.264 unescaping, SFrame headers. The seeds include frames with valid tags (made
//!   by `seeds/gen.py`, an independent implementation of RFC 9605) so that it starts from some.
//! - **session** (odd): the rest is a script of operations over up to three honest senders
//!   ([`FrameEncryptor`]s under the same base key, some registered as local with
//!   `claim_local`) and one decryptor with small [`DecryptorLimits`] (or the defaults). Frames
//!   and messages are
//!   encrypted, then delivered from any of four sources, through any codec or as a message,
//!   after input-chosen mutations (bit flips, overwrites, insertions, removals, truncation). This
//!   is how the fuzzer reaches what needs a valid tag: replay windows, KID collisions between
//!   sources, reflected local frames, KIDs retired by their own source, KIDs refused over a limit.
//!
//! Invariants checked (a failed one aborts like a panic, and libFuzzer saves the input):
//! - nothing panics;
//! - on `Err` the output buffer is empty; `Ok(None)` only for a zero-length frame;
//! - a decryption that succeeds yields exactly what an honest sender encrypted under that
//!   header: `clear prefix ‖ plaintext` for a frame, the message for a message. So a mutated
//!   frame is either refused or, if the mutation left it meaning the same (H.264 unescaping is
//!   not injective), decrypts to the original bytes;
//! - encryption: the output keeps the clear prefix, carries the expected header, and for H.264
//!   contains no start code after the prefix;
//! - the decryptor's decisions and per-source counters agree with a small reference model of the
//!   rules in `receiver.rs`'s and `kids.rs`'s docs (retired KIDs for good, KID ownership, replay
//!   window, each source retiring its own least recently used KID, the limits). An unmutated
//!   frame delivered through its own codec gets exactly the verdict the model predicts, so a
//!   fresh frame is never dropped and a replayed one never accepted.
//!
//! What it does not do: find cryptographic forgeries (AES-GCM is trusted), or drive more than
//! one base key: frames under another key are just "authentication failed".
#![no_main]

use std::collections::{BTreeSet, HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use veilig_e2ee::codec::unescape_start_codes;
use veilig_e2ee::receiver::{DecryptorLimits, KidLimit};
use veilig_e2ee::replay::{Replay, WINDOW};
use veilig_e2ee::suite::TAG_LEN;
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, Counter, DecryptError, EncryptError, FrameDecryptor,
    FrameEncryptor, Header, Kid, SourceId, SourceStats,
};

/// The base key of every frame here; `seeds/gen.py` uses the same one.
const BASE_KEY: &[u8; 32] = b"veilig fuzz base key, not secret";
const CODECS: [Codec; 5] = [Codec::Opus, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::H264];
const SOURCES: u8 = 4;
const MAX_OPS: usize = 64;
/// `live_per_source`, `kids_per_source` and (`max_sources`, `max_kids`), each picked by two
/// bits of the mode; the last of each is the default.
const LIVE_PER_SOURCE: [usize; 4] = [1, 2, 3, 4];
const KIDS_PER_SOURCE: [usize; 4] = [1, 2, 5, 64];
const STORE: [(usize, usize); 4] = [(1, 3), (2, 6), (3, 16), (128, 16_384)];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        raw(mode, rest);
    } else {
        Session::new(mode, rest).run();
    }
});

fn suite(bit: u8) -> CipherSuite {
    if bit & 1 == 0 {
        CipherSuite::Aes128GcmSha256
    } else {
        CipherSuite::Aes256GcmSha512
    }
}

/// `mode`: bit 1 the suite, bits 2–7 how many leading bytes are the context when the frame is
/// also opened as a message.
fn raw(mode: u8, frame: &[u8]) {
    let mut decryptor = FrameDecryptor::new(suite(mode >> 1), &BaseKey::new(BASE_KEY));
    let mut out = Vec::new();
    // With default limits and at most a handful of KIDs nothing is evicted, so a (KID, counter)
    // is accepted at most once and a KID only ever from its first source.
    let mut accepted = HashSet::new();
    let mut owners = HashMap::new();
    let mut accept = |header: Header, source: SourceId| {
        assert!(
            accepted.insert((header.kid, header.ctr)),
            "{header:?} accepted twice"
        );
        let owner = *owners.entry(header.kid).or_insert(source);
        assert_eq!(owner, source, "{:?} accepted from two sources", header.kid);
    };
    let split = usize::from(mode >> 2).min(frame.len());
    for _ in 0..2 {
        for (source, codec) in (0..).map(SourceId).zip(CODECS) {
            let result = decryptor.decrypt(source, codec, frame, &mut out);
            match result {
                Err(_) => assert!(out.is_empty(), "{codec:?}: output left after {result:?}"),
                Ok(None) => assert!(frame.is_empty() && out.is_empty()),
                Ok(Some(header)) => {
                    check_frame_layout(codec, frame, header, &out);
                    accept(header, source);
                }
            }
        }
        for (context, message) in [frame.split_at(split), (&[][..], frame)] {
            let source = SourceId(CODECS.len() as u64);
            let result = decryptor.open_message(source, context, message, &mut out);
            match result {
                Err(_) => assert!(out.is_empty(), "message: output left after {result:?}"),
                Ok(header) => {
                    let (parsed, header_len) =
                        Header::parse(message).expect("opened, so it parses");
                    assert_eq!(parsed, header);
                    assert_eq!(out.len(), message.len() - header_len - TAG_LEN);
                    accept(header, source);
                }
            }
        }
    }
}

/// A frame that decrypted: the output is its clear prefix and then as many bytes as the SFrame
/// ciphertext after it encrypts.
fn check_frame_layout(codec: Codec, frame: &[u8], header: Header, out: &[u8]) {
    let prefix = codec
        .clear_prefix_len(frame)
        .expect("decrypted, so the prefix rule held");
    assert!(
        out.starts_with(&frame[..prefix]),
        "{codec:?}: clear prefix changed"
    );
    let sframe = sframe_part(codec, &frame[prefix..]);
    let (parsed, header_len) = Header::parse(&sframe).expect("decrypted, so the header parses");
    assert_eq!(parsed, header);
    assert_eq!(
        out.len(),
        prefix + sframe.len() - header_len - TAG_LEN,
        "{codec:?}: plaintext length"
    );
}

/// The SFrame ciphertext in a frame's tail: unescaped for H.264.
fn sframe_part(codec: Codec, tail: &[u8]) -> Vec<u8> {
    if codec.escapes_start_codes() {
        let mut unescaped = Vec::new();
        unescape_start_codes(tail, &mut unescaped).expect("decrypted, so canonically escaped");
        unescaped
    } else {
        tail.to_vec()
    }
}

/// Reads the session script; past its end every read is zero, so any input is a valid script.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn uint(&mut self, bytes: usize) -> u64 {
        (0..bytes).fold(0, |acc, _| acc << 8 | u64::from(self.u8()))
    }

    /// A length byte, then up to that many bytes.
    fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.u8()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}

struct Sender {
    encryptor: FrameEncryptor,
    kid: Kid,
}

/// Something an honest sender encrypted, kept for delivery (and redelivery).
struct Item {
    /// `None` for a message.
    codec: Option<Codec>,
    /// `None` for a zero-length frame, which passes through unencrypted.
    header: Option<Header>,
    /// Authenticated in the clear: the clear prefix of a frame, the context of a message.
    metadata: Vec<u8>,
    /// What was encrypted: the frame after its prefix, or the message.
    sealed: Vec<u8>,
    /// `header ‖ ciphertext ‖ tag`, unescaped.
    sframe: Vec<u8>,
    /// What the network carries: `metadata ‖ sframe` (escaped for H.264) for a frame, `sframe`
    /// for a message.
    wire: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Path<'a> {
    Frame(Codec),
    Message(&'a [u8]),
}

struct Session<'a> {
    script: Reader<'a>,
    decryptor: FrameDecryptor,
    senders: Vec<Sender>,
    items: Vec<Item>,
    /// Item index by (KID, counter): unique, since senders have distinct KIDs.
    by_header: HashMap<(Kid, Counter), usize>,
    model: Model,
    stats: HashMap<SourceId, SourceStats>,
    out: Vec<u8>,
}

impl<'a> Session<'a> {
    /// `mode`: bit 1 the suite, bits 2–3 `live_per_source`, bits 4–5 `kids_per_source`, bits
    /// 6–7 `max_sources` and `max_kids`. Then, from the script: the number of senders and each
    /// one's KID, first counter and whether it is local.
    fn new(mode: u8, script: &'a [u8]) -> Self {
        let suite = suite(mode >> 1);
        let base = BaseKey::new(BASE_KEY);
        let (max_sources, max_kids) = STORE[usize::from(mode >> 6 & 3)];
        let limits = DecryptorLimits {
            live_per_source: LIVE_PER_SOURCE[usize::from(mode >> 2 & 3)],
            kids_per_source: KIDS_PER_SOURCE[usize::from(mode >> 4 & 3)],
            max_sources,
            max_kids,
        };
        let mut session = Session {
            script: Reader(script),
            decryptor: FrameDecryptor::with_limits(suite, &base, limits),
            senders: Vec::new(),
            items: Vec::new(),
            by_header: HashMap::new(),
            model: Model::new(limits),
            stats: HashMap::new(),
            out: Vec::new(),
        };
        let count = 1 + session.script.u8() % 3;
        for _ in 0..count {
            let setup = session.script.u8();
            let kid = session.read_kid(setup);
            if session.senders.iter().any(|s| s.kid == kid) {
                continue; // Two senders sharing a KID would reuse nonces: honest clients never do.
            }
            let mut encryptor = FrameEncryptor::new(suite, &base, kid);
            let first_ctr = match setup >> 3 & 3 {
                0 => 0,
                1 => u64::from(session.script.u8()),
                2 => u64::MAX - u64::from(session.script.u8() % 4),
                _ => session.script.uint(8),
            };
            encryptor.advance_counter_to(first_ctr);
            session.senders.push(Sender { encryptor, kid });
            if setup & 0x20 != 0 {
                session.claim_local(kid);
            }
        }
        session
    }

    /// A KID of 3, 8, 32 or 64 bits, or (selector 4) one of the senders'.
    fn read_kid(&mut self, selector: u8) -> Kid {
        match selector & 7 {
            0 => Kid(u64::from(self.script.u8() & 7)),
            1 => Kid(self.script.uint(1)),
            2 => Kid(self.script.uint(4)),
            4 if !self.senders.is_empty() => {
                self.senders[usize::from(self.script.u8()) % self.senders.len()].kid
            }
            _ => Kid(self.script.uint(8)),
        }
    }

    fn run(mut self) {
        for _ in 0..MAX_OPS {
            if self.script.is_empty() {
                break;
            }
            match self.script.u8() % 8 {
                0 | 1 => self.encrypt_frame(),
                2 => self.seal_message(),
                3..=5 => self.deliver(),
                6 => self.inject(),
                _ => self.membership(),
            }
        }
        let mut sources: Vec<_> = self.decryptor.sources().collect();
        let mut expected: Vec<_> = self.stats.iter().map(|(&s, &stats)| (s, stats)).collect();
        sources.sort_by_key(|&(source, _)| source);
        expected.sort_by_key(|&(source, _)| source);
        assert_eq!(sources, expected, "per-source counters");
    }

    fn sender(&mut self) -> Option<usize> {
        let pick = usize::from(self.script.u8());
        (!self.senders.is_empty()).then(|| pick % self.senders.len())
    }

    fn encrypt_frame(&mut self) {
        let Some(index) = self.sender() else { return };
        let codec = CODECS[usize::from(self.script.u8()) % CODECS.len()];
        let template = self.script.u8();
        let mut frame = codec_template(codec, template).to_vec();
        frame.extend_from_slice(self.script.bytes());
        let sender = &mut self.senders[index];
        let next = sender.encryptor.next_counter();
        let mut wire = Vec::new();
        let result = sender.encryptor.encrypt(codec, &frame, &mut wire);
        let prefix = codec.clear_prefix_len(&frame);
        let header = match (result, prefix) {
            (Ok(None), _) => {
                assert!(frame.is_empty() && wire.is_empty());
                assert_eq!(
                    sender.encryptor.next_counter(),
                    next,
                    "an empty frame used a counter"
                );
                None
            }
            (Err(error), _) => {
                assert!(wire.is_empty(), "output left after {error:?}");
                match prefix {
                    Err(codec_error) => assert_eq!(error, EncryptError::Codec(codec_error)),
                    Ok(_) => assert_eq!(
                        (error, next),
                        (EncryptError::CounterExhausted(sender.kid), None)
                    ),
                }
                return;
            }
            (Ok(Some(header)), Ok(_)) => {
                let ctr = next.expect("encrypted, so a counter was left");
                assert_eq!(header, Header::new(sender.kid, ctr));
                assert_eq!(
                    sender.encryptor.next_counter(),
                    ctr.0.checked_add(1).map(Counter)
                );
                Some(header)
            }
            (Ok(Some(_)), Err(error)) => panic!("encrypted a frame its codec refuses: {error:?}"),
        };
        let prefix = prefix.unwrap_or(0).min(frame.len());
        let (metadata, sealed) = frame.split_at(prefix);
        let item = if let Some(header) = header {
            assert!(
                wire.starts_with(metadata),
                "{codec:?}: clear prefix changed"
            );
            let tail = &wire[prefix..];
            if codec.escapes_start_codes() {
                assert_ne!(
                    metadata.last(),
                    Some(&0),
                    "an H.264 prefix ends in its slice's NAL header"
                );
                let emulation = tail
                    .windows(3)
                    .position(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2);
                assert_eq!(
                    emulation, None,
                    "start code in the escaped tail {tail:02x?}"
                );
                assert!(!tail.ends_with(&[0, 0]), "escaped tail ends in 00 00");
            }
            let sframe = sframe_part(codec, tail);
            let (bytes, header_len) = header.to_bytes();
            assert!(sframe.starts_with(&bytes[..header_len]), "header bytes");
            assert_eq!(
                sframe.len(),
                header_len + sealed.len() + TAG_LEN,
                "ciphertext length"
            );
            Item {
                codec: Some(codec),
                header: Some(header),
                metadata: metadata.to_vec(),
                sealed: sealed.to_vec(),
                sframe,
                wire,
            }
        } else {
            Item {
                codec: Some(codec),
                header: None,
                metadata: Vec::new(),
                sealed: Vec::new(),
                sframe: Vec::new(),
                wire,
            }
        };
        self.keep(item);
    }

    fn seal_message(&mut self) {
        let Some(index) = self.sender() else { return };
        let context = self.script.bytes();
        let message = self.script.bytes();
        let sender = &mut self.senders[index];
        let next = sender.encryptor.next_counter();
        let mut wire = Vec::new();
        match sender.encryptor.seal_message(context, message, &mut wire) {
            Err(error) => {
                assert!(wire.is_empty());
                assert_eq!(
                    (error, next),
                    (EncryptError::CounterExhausted(sender.kid), None)
                );
            }
            Ok(header) => {
                assert_eq!(Some(header), next.map(|ctr| Header::new(sender.kid, ctr)));
                let item = Item {
                    codec: None,
                    header: Some(header),
                    metadata: context.to_vec(),
                    sealed: message.to_vec(),
                    sframe: wire.clone(),
                    wire,
                };
                self.keep(item);
            }
        }
    }

    fn keep(&mut self, item: Item) {
        if let Some(header) = item.header {
            let previous = self
                .by_header
                .insert((header.kid, header.ctr), self.items.len());
            assert_eq!(previous, None, "{header:?} used twice by honest senders");
        }
        self.items.push(item);
    }

    /// Delivers a kept item, perhaps mutated, from some source, through some codec or as a
    /// message.
    fn deliver(&mut self) {
        let pick = usize::from(self.script.u8());
        if self.items.is_empty() {
            return;
        }
        let item = &self.items[pick % self.items.len()];
        let source = SourceId(u64::from(self.script.u8() % SOURCES));
        let via = self.script.u8() % 8;
        // `None` for a message, with its context.
        let (codec, context, original) = match via {
            0 => (Some(item.codec.unwrap_or(Codec::Vp9)), &[][..], &item.wire),
            1..=5 => (Some(CODECS[usize::from(via - 1)]), &[][..], &item.wire),
            6 => (None, &item.metadata[..], &item.sframe),
            _ => (None, self.script.bytes(), &item.sframe),
        };
        let mut bytes = original.clone();
        for _ in 0..self.script.u8() % 4 {
            mutate(
                &mut bytes,
                self.script.u8(),
                self.script.u16(),
                self.script.u8(),
            );
        }
        // Only an honest delivery (unchanged bytes, the item's own codec, or its own context
        // when opened as a message) has a verdict known in advance; of the others we only know
        // what a success must look like.
        let honest = bytes == *original
            && match codec {
                Some(codec) => match item.codec {
                    Some(own) => own == codec,
                    // A message is a frame of a codec without clear prefix, if it had no context.
                    None => item.metadata.is_empty() && matches!(codec, Codec::Vp9 | Codec::Av1),
                },
                None => context == item.metadata && item.header.is_some(),
            };
        let known = honest.then_some(item.header);
        let context = context.to_vec();
        let path = codec.map_or(Path::Message(&context), Path::Frame);
        self.decrypt(source, path, &bytes, known);
    }

    /// Attacker-made bytes from some source.
    fn inject(&mut self) {
        let source = SourceId(u64::from(self.script.u8() % SOURCES));
        let via = self.script.u8() % 6;
        let bytes = self.script.bytes();
        if let Some(&codec) = CODECS.get(usize::from(via)) {
            self.decrypt(source, Path::Frame(codec), bytes, None);
        } else {
            let context = self.script.bytes();
            self.decrypt(source, Path::Message(context), bytes, None);
        }
    }

    /// Sources leaving, local tracks starting and ending.
    fn membership(&mut self) {
        match self.script.u8() % 3 {
            0 => {
                let source = SourceId(u64::from(self.script.u8() % SOURCES));
                self.decryptor.forget_source(source);
                self.stats.remove(&source);
                self.model.forget_source(source);
            }
            1 => {
                let selector = self.script.u8();
                let kid = self.read_kid(selector);
                self.claim_local(kid);
            }
            _ => {
                let Some(index) = self.sender() else { return };
                let kid = self.senders[index].kid;
                self.decryptor.release_local(kid);
                self.model.release_local(kid);
            }
        }
    }

    fn claim_local(&mut self, kid: Kid) {
        let result = self.decryptor.claim_local(kid);
        let expected = self.model.claim_local(kid);
        assert_eq!(result.is_ok(), expected, "claim_local({kid:?}): {result:?}");
    }

    /// Decrypts and checks. `known`: for an honest delivery, the header the bytes carry
    /// (`None` for an empty frame); `None` when the bytes may be anything.
    fn decrypt(
        &mut self,
        source: SourceId,
        path: Path<'_>,
        bytes: &[u8],
        known: Option<Option<Header>>,
    ) {
        let result = match path {
            Path::Frame(codec) => self.decryptor.decrypt(source, codec, bytes, &mut self.out),
            Path::Message(context) => self
                .decryptor
                .open_message(source, context, bytes, &mut self.out)
                .map(Some),
        };
        count(self.stats.entry(source).or_default(), &result);
        assert_eq!(
            self.decryptor.stats(source),
            self.stats[&source],
            "counters of {source:?}"
        );

        match result {
            Err(error) => assert!(self.out.is_empty(), "output left after {error:?}"),
            Ok(None) => assert!(
                bytes.is_empty() && self.out.is_empty(),
                "Ok(None) for {bytes:02x?}"
            ),
            Ok(Some(header)) => {
                let index = *self
                    .by_header
                    .get(&(header.kid, header.ctr))
                    .unwrap_or_else(|| panic!("accepted {header:?}, which no honest sender used"));
                let item = &self.items[index];
                let expected = match path {
                    Path::Frame(_) => [&item.metadata[..], &item.sealed].concat(),
                    Path::Message(context) => {
                        assert_eq!(context, item.metadata, "opened under another context");
                        item.sealed.clone()
                    }
                };
                assert_eq!(self.out, expected, "{header:?} decrypted to other bytes");
            }
        }

        match known {
            Some(None) => assert_eq!(result, Ok(None)),
            Some(Some(header)) => assert_eq!(
                result,
                self.model.verdict(header, source).map(|()| Some(header)),
                "verdict on an honest delivery"
            ),
            None => {}
        }
        self.model.observe(source, &result);
    }
}

/// Plausible starts of frames, so that most frames fit their codec's clear-prefix rule.
fn codec_template(codec: Codec, template: u8) -> &'static [u8] {
    const VP8_KEY: &[u8] = &[0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
    const VP8_DELTA: &[u8] = &[0x51, 0x2a, 0x00];
    const H264_IDR: &[u8] = &[
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1, 0x65,
    ];
    const H264_DELTA: &[u8] = &[0, 0, 0, 1, 0x41];
    match (codec, template % 3) {
        (_, 0) => &[],
        (Codec::Opus, _) => &[0xfc],
        (Codec::Vp8, 1) => VP8_KEY,
        (Codec::Vp8, _) => VP8_DELTA,
        (Codec::H264, 1) => H264_IDR,
        (Codec::H264, _) => H264_DELTA,
        (Codec::Vp9 | Codec::Av1, _) => &[],
    }
}

fn mutate(bytes: &mut Vec<u8>, kind: u8, position: u16, argument: u8) {
    let at = |len: usize| usize::from(position) % len.max(1);
    match kind % 5 {
        0 if !bytes.is_empty() => {
            let i = at(bytes.len());
            bytes[i] ^= 1 << (argument % 8);
        }
        1 if !bytes.is_empty() => {
            let i = at(bytes.len());
            bytes[i] = argument;
        }
        2 => {
            let i = usize::from(position) % (bytes.len() + 1);
            bytes.insert(i, argument);
        }
        3 if !bytes.is_empty() => {
            let i = at(bytes.len());
            let end = (i + 1 + usize::from(argument % 8)).min(bytes.len());
            bytes.drain(i..end);
        }
        4 => bytes.truncate(usize::from(position) % (bytes.len() + 1)),
        _ => {}
    }
}

/// The model's own account of what a result counts as (not `DecryptError::reason`).
fn count(stats: &mut SourceStats, result: &Result<Option<Header>, DecryptError>) {
    match result {
        Ok(Some(_)) => stats.decrypted += 1,
        Ok(None) => {}
        Err(DecryptError::Codec(_) | DecryptError::Escaping(_) | DecryptError::Format(_)) => {
            stats.unknown_format += 1
        }
        Err(DecryptError::Authentication) => stats.bad_tag += 1,
        Err(DecryptError::Replay { .. }) => stats.replay += 1,
        Err(DecryptError::KidCollision { .. }) => stats.kid_collision += 1,
        Err(DecryptError::RetiredKid(_)) => stats.retired += 1,
        Err(DecryptError::KidLimit { .. }) => stats.over_limit += 1,
        // The model never requires announcements (tests/announced.rs covers them).
        Err(DecryptError::Unannounced(_)) => stats.unannounced += 1,
    }
}

/// A reference model of the decryptor's KIDs, written from `receiver.rs`'s and `kids.rs`'s
/// docs. Nothing in it depends on iteration order, so it always predicts exactly.
struct Model {
    limits: DecryptorLimits,
    keys: HashMap<Kid, ModelKey>,
    /// Every KID ever retired: the decryptor must never forget one.
    retired: HashSet<Kid>,
    sources: HashMap<SourceId, ModelSource>,
    /// Orders successful uses, for each source's least-recently-used order.
    uses: u64,
}

struct ModelKey {
    /// `None` for a local sender.
    owner: Option<SourceId>,
    accepted: BTreeSet<u64>,
    last_used: u64,
}

#[derive(Default)]
struct ModelSource {
    live: Vec<Kid>,
    admitted: usize,
}

impl ModelKey {
    /// The replay rule of RFC 9605 §9.3 as `replay.rs` documents it, over the full history.
    fn check(&self, ctr: u64) -> Result<(), Replay> {
        match self.accepted.last() {
            Some(&highest) if ctr <= highest && highest - ctr >= WINDOW => Err(Replay::TooOld),
            _ if self.accepted.contains(&ctr) => Err(Replay::Repeated),
            _ => Ok(()),
        }
    }
}

impl Model {
    fn new(limits: DecryptorLimits) -> Self {
        Model {
            limits,
            keys: HashMap::new(),
            retired: HashSet::new(),
            sources: HashMap::new(),
            uses: 0,
        }
    }

    /// Whether `source` may bring a new KID, by the limits in `kids.rs`'s docs.
    fn admission(&self, source: SourceId) -> Result<(), KidLimit> {
        let known = self.sources.get(&source);
        let admitted = known.map_or(0, |s| s.admitted);
        if admitted >= self.limits.kids_per_source || self.limits.live_per_source == 0 {
            Err(KidLimit::SourceKids)
        } else if known.is_none() && self.sources.len() >= self.limits.max_sources {
            Err(KidLimit::Sources)
        } else if self.keys.len() + self.retired.len() >= self.limits.max_kids {
            Err(KidLimit::Kids)
        } else {
            Ok(())
        }
    }

    /// The verdict on a frame that authenticates under `header`, received from `source`.
    fn verdict(&self, header: Header, source: SourceId) -> Result<(), DecryptError> {
        let Header { kid, ctr } = header;
        if self.retired.contains(&kid) {
            Err(DecryptError::RetiredKid(kid))
        } else if let Some(key) = self.keys.get(&kid) {
            if key.owner != Some(source) {
                Err(DecryptError::KidCollision {
                    kid,
                    owner: key.owner,
                })
            } else {
                key.check(ctr.0)
                    .map_err(|why| DecryptError::Replay { kid, ctr, why })
            }
        } else {
            self.admission(source)
                .map_err(|limit| DecryptError::KidLimit { kid, limit })
        }
    }

    /// Checks a result against the model and applies it.
    fn observe(&mut self, source: SourceId, result: &Result<Option<Header>, DecryptError>) {
        match *result {
            Ok(Some(header)) => {
                assert_eq!(
                    self.verdict(header, source),
                    Ok(()),
                    "accepted {header:?} from {source:?}"
                );
                self.accept(header, source);
            }
            Err(DecryptError::RetiredKid(kid)) => {
                assert!(
                    self.retired.contains(&kid),
                    "{kid:?} refused as retired, and is not"
                );
            }
            Err(DecryptError::KidCollision { kid, owner }) => {
                let known = self.keys.get(&kid).map(|key| key.owner);
                assert_eq!(known, Some(owner), "collision on {kid:?}");
                assert_ne!(owner, Some(source), "collision of {source:?} with itself");
            }
            Err(DecryptError::Replay { kid, ctr, why }) => {
                let key = self
                    .keys
                    .get(&kid)
                    .unwrap_or_else(|| panic!("replay under unknown {kid:?}"));
                assert_eq!(
                    key.owner,
                    Some(source),
                    "replay check before the owner check"
                );
                assert_eq!(
                    key.check(ctr.0),
                    Err(why),
                    "replay verdict on {kid:?} {ctr:?}"
                );
            }
            Err(DecryptError::KidLimit { kid, limit }) => {
                assert!(
                    !self.keys.contains_key(&kid) && !self.retired.contains(&kid),
                    "{kid:?} refused as new, and is known"
                );
                assert_eq!(self.admission(source), Err(limit), "limit on {kid:?}");
            }
            Ok(None)
            | Err(
                DecryptError::Codec(_)
                | DecryptError::Escaping(_)
                | DecryptError::Format(_)
                | DecryptError::Authentication,
            ) => {}
        }
    }

    fn accept(&mut self, header: Header, source: SourceId) {
        self.uses += 1;
        if !self.keys.contains_key(&header.kid) {
            self.admit(source, header.kid);
        }
        let key = self.keys.get_mut(&header.kid).expect("admitted above");
        key.accepted.insert(header.ctr.0);
        key.last_used = self.uses;
    }

    /// A new KID of `source`: it retires the source's own least recently used KID if full.
    fn admit(&mut self, source: SourceId, kid: Kid) {
        let state = self.sources.entry(source).or_default();
        if state.live.len() >= self.limits.live_per_source {
            let keys = &self.keys;
            let (at, _) = state
                .live
                .iter()
                .enumerate()
                .min_by_key(|(_, kid)| keys[kid].last_used)
                .expect("a full source holds a KID");
            let gone = state.live.remove(at);
            self.keys.remove(&gone);
            self.retired.insert(gone);
        }
        state.live.push(kid);
        state.admitted += 1;
        let key = ModelKey {
            owner: Some(source),
            accepted: BTreeSet::new(),
            last_used: 0,
        };
        self.keys.insert(kid, key);
    }

    /// Whether the claim succeeds, as the decryptor must answer.
    fn claim_local(&mut self, kid: Kid) -> bool {
        let free = !self.keys.contains_key(&kid) && !self.retired.contains(&kid);
        if free {
            self.keys.insert(
                kid,
                ModelKey {
                    owner: None,
                    accepted: BTreeSet::new(),
                    last_used: 0,
                },
            );
        }
        free
    }

    fn release_local(&mut self, kid: Kid) {
        if self.keys.get(&kid).is_some_and(|key| key.owner.is_none()) {
            self.keys.remove(&kid);
            self.retired.insert(kid);
        }
    }

    fn forget_source(&mut self, source: SourceId) {
        if let Some(state) = self.sources.remove(&source) {
            for kid in state.live {
                self.keys.remove(&kid);
                self.retired.insert(kid);
            }
        }
    }
}
