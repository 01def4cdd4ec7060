//! Which AES-GCM engine encrypts or decrypts a frame: the core's own, compiled to wasm, or the
//! browser's WebCrypto.
//!
//! Measured in the worker (README, "Frame crypto in the browser"): wasm wins on small frames,
//! where WebCrypto's fixed cost per call (a promise, a copy, a task hop) dominates, and WebCrypto
//! wins on large ones, where the AES instructions wasm cannot use dominate. `Auto` picks by frame
//! size at the crossover, which the worker measures for itself when it gets its first key. Both engines produce the same bytes (`e2ee/tests/
//! external_engine.rs` natively, `tests/frame_crypto_in_browser.rs` in the browsers), so the
//! choice is invisible on the wire.

use veilig_e2ee::Codec;

/// Frames at least this long go to WebCrypto under [`EnginePolicy::Auto`] until the worker has
/// measured the crossover itself (`bench::crossover`, a fraction of a second after the first
/// key). The crossover differs a lot between browsers (README: about 2 KB in Chromium, 10 KB
/// in Firefox, whose WebCrypto costs far more per call); this is Chromium's.
pub const DEFAULT_WEBCRYPTO_FROM: usize = 2000;

/// The engine one frame uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The core's AES-GCM in wasm: synchronous.
    Wasm,
    /// `crypto.subtle`: asynchronous.
    WebCrypto,
}

/// How the worker chooses engines; set by the page (`?engine=` in the URL for tests and
/// benchmarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnginePolicy {
    /// WebCrypto for frames of at least `webcrypto_from` bytes, wasm below.
    Auto {
        /// The crossover in bytes.
        webcrypto_from: usize,
    },
    /// Always wasm.
    Wasm,
    /// WebCrypto whenever possible.
    WebCrypto,
}

impl Default for EnginePolicy {
    fn default() -> Self {
        EnginePolicy::Auto {
            webcrypto_from: DEFAULT_WEBCRYPTO_FROM,
        }
    }
}

impl EnginePolicy {
    /// `auto`, `wasm` or `webcrypto`.
    pub fn parse(name: &str) -> Option<EnginePolicy> {
        match name {
            "auto" => Some(EnginePolicy::default()),
            "wasm" => Some(EnginePolicy::Wasm),
            "webcrypto" => Some(EnginePolicy::WebCrypto),
            _ => None,
        }
    }

    /// The engine for a `len`-byte frame in `codec`. WebCrypto needs its key imported
    /// (asynchronously, so not for a key's first frames), and H.264 stays in wasm because its
    /// SFrame bytes are escaped there anyway.
    pub fn choose(self, codec: Codec, len: usize, webcrypto_key_ready: bool) -> Engine {
        if !webcrypto_key_ready || codec.escapes_start_codes() {
            return Engine::Wasm;
        }
        match self {
            EnginePolicy::Auto { webcrypto_from } if len >= webcrypto_from => Engine::WebCrypto,
            EnginePolicy::Auto { .. } | EnginePolicy::Wasm => Engine::Wasm,
            EnginePolicy::WebCrypto => Engine::WebCrypto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_splits_at_the_crossover() {
        let auto = EnginePolicy::Auto {
            webcrypto_from: 1000,
        };
        assert_eq!(auto.choose(Codec::Opus, 999, true), Engine::Wasm);
        assert_eq!(auto.choose(Codec::Vp8, 1000, true), Engine::WebCrypto);
    }

    #[test]
    fn webcrypto_waits_for_its_key_and_never_takes_h264() {
        let always = EnginePolicy::WebCrypto;
        assert_eq!(always.choose(Codec::Vp8, 10, false), Engine::Wasm);
        assert_eq!(always.choose(Codec::H264, 50_000, true), Engine::Wasm);
        assert_eq!(always.choose(Codec::Opus, 10, true), Engine::WebCrypto);
    }

    #[test]
    fn names_parse() {
        assert_eq!(EnginePolicy::parse("wasm"), Some(EnginePolicy::Wasm));
        assert_eq!(EnginePolicy::parse("auto"), Some(EnginePolicy::default()));
        assert_eq!(EnginePolicy::parse("fast"), None);
    }
}
