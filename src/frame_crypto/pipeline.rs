//! One transform: a stream of encoded frames from one local track (encrypt) or one remote track
//! (decrypt), piped through a `TransformStream` whose `transform` is Rust.
//!
//! Per frame, on the wasm engine: the frame's bytes are copied into a reused buffer (one copy
//! in), the core encrypts or decrypts into another reused buffer, and the result is copied into
//! a new `ArrayBuffer` that replaces the frame's data (one copy out). Rust allocates nothing once
//! the buffers have grown to the largest frame.
//!
//! On the WebCrypto engine the frame's bytes still come in (the codec rule and the receiver's
//! checks read them), WebCrypto reads the plaintext or ciphertext straight from the frame's own
//! buffer, and the output is assembled in JavaScript memory. The transform then returns a
//! promise, so the stream holds the next frame until this one is done: frames keep their order
//! and exactly one is in flight, which is why its state fits in one `Option`.
//!
//! A frame that fails anything is not enqueued: the decoder never sees it, the relay never
//! sees plaintext. Each drop is counted by reason.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use veilig_e2ee::{Codec, ExternalOpen, ExternalSeal, Kid, SourceId};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    ReadableStream, RtcEncodedAudioFrame, RtcEncodedVideoFrame, TransformStream,
    TransformStreamDefaultController, WritableStream,
};

use super::codec_table::{CodecTable, MediaKind};
use super::engine::Engine;
use super::keyring::{Keyring, SharedKeyring};
use super::messages::{Direction, TransformOptions};
use super::webcrypto;

/// A frame being processed: the encoded-frame object, where to pass it on, and its original
/// bytes (JavaScript memory).
struct Incoming {
    frame: JsValue,
    controller: TransformStreamDefaultController,
    data: Uint8Array,
}

/// The frame in WebCrypto's hands.
struct InFlight {
    incoming: Incoming,
    plan: Plan,
}

enum Plan {
    Seal(ExternalSeal),
    Open(ExternalOpen),
}

/// The state of one transform.
pub struct Pipeline {
    id: u32,
    direction: Direction,
    kind: MediaKind,
    codecs: CodecTable,
    keyring: SharedKeyring,
    input: Vec<u8>,
    output: Vec<u8>,
    aad: Vec<u8>,
    in_flight: Option<InFlight>,
}

/// A running transform: its state and the JavaScript callbacks that call into it. Dropping it
/// frees the callbacks; the worker keeps it until the stream ends or the page detaches it.
pub struct Attached {
    pipeline: Rc<RefCell<Pipeline>>,
    _transform: Closure<dyn FnMut(JsValue, TransformStreamDefaultController) -> JsValue>,
    _done: Rc<Closure<dyn FnMut(JsValue)>>,
    _failed: Rc<Closure<dyn FnMut(JsValue)>>,
}

impl Attached {
    /// Starts piping `readable` through a new transform into `writable`. The returned promise
    /// settles when the stream ends.
    pub fn start(
        options: &TransformOptions,
        keyring: &SharedKeyring,
        readable: &ReadableStream,
        writable: &WritableStream,
    ) -> Result<(Attached, Promise), JsValue> {
        {
            let mut ring = keyring.borrow_mut();
            ring.add_transform(options.id, options.direction);
        }
        if options.direction == Direction::Send {
            if let Some(kid) = options.kid {
                keyring.borrow_mut().request_kid(options.id, Kid(kid));
            }
            Keyring::add_sender(keyring, options.id);
        }
        let pipeline = Rc::new(RefCell::new(Pipeline {
            id: options.id,
            direction: options.direction,
            kind: options.kind,
            codecs: CodecTable::new(
                options.kind,
                options.codecs.iter().map(|(pt, mime)| (*pt, mime.as_str())),
            ),
            keyring: keyring.clone(),
            input: Vec::new(),
            output: Vec::new(),
            aad: Vec::new(),
            in_flight: None,
        }));

        let done = {
            let pipeline = pipeline.clone();
            Rc::new(Closure::<dyn FnMut(JsValue)>::new(
                move |result: JsValue| {
                    pipeline.borrow_mut().finish(Some(result));
                },
            ))
        };
        let failed = {
            let pipeline = pipeline.clone();
            Rc::new(Closure::<dyn FnMut(JsValue)>::new(
                move |_error: JsValue| {
                    pipeline.borrow_mut().finish(None);
                },
            ))
        };
        let transform = {
            let pipeline = pipeline.clone();
            let done = done.clone();
            let failed = failed.clone();
            Closure::<dyn FnMut(JsValue, TransformStreamDefaultController) -> JsValue>::new(
                move |frame: JsValue, controller: TransformStreamDefaultController| {
                    let pending = pipeline.borrow_mut().on_frame(frame, controller);
                    match pending {
                        Some(promise) => promise.then2(&done, &failed).into(),
                        None => JsValue::UNDEFINED,
                    }
                },
            )
        };

        let transformer = js_sys::Object::new();
        js_sys::Reflect::set(&transformer, &"transform".into(), transform.as_ref())?;
        let stream = TransformStream::new_with_transformer(&transformer)?;
        let piped = readable
            .pipe_through(&web_sys::ReadableWritablePair::new(
                &stream.readable(),
                &stream.writable(),
            ))
            .pipe_to(writable);
        Ok((
            Attached {
                pipeline,
                _transform: transform,
                _done: done,
                _failed: failed,
            },
            piped,
        ))
    }

    /// The transform's id.
    pub fn id(&self) -> u32 {
        self.pipeline.borrow().id
    }
}

impl Pipeline {
    /// Handles one frame; returns the promise of a WebCrypto call still running for it.
    fn on_frame(
        &mut self,
        frame: JsValue,
        controller: TransformStreamDefaultController,
    ) -> Option<Promise> {
        let data = Uint8Array::new(&self.frame_data(&frame));
        let len = data.length() as usize;
        if len == 0 {
            // Empty frames carry nothing to protect (and use no counter).
            let _ = controller.enqueue_with_chunk(&frame);
            return None;
        }
        let codec = match self.codec_of(&frame) {
            Some(codec) => codec,
            None => {
                self.keyring
                    .borrow_mut()
                    .counters(self.id)
                    .unsupported_codec += 1;
                return None;
            }
        };
        self.input.resize(len, 0);
        data.copy_to(&mut self.input);
        let incoming = Incoming {
            frame,
            controller,
            data,
        };
        match self.direction {
            Direction::Send => self.encrypt(codec, incoming),
            Direction::Receive => self.decrypt(codec, incoming),
        }
    }

    fn encrypt(&mut self, codec: Codec, incoming: Incoming) -> Option<Promise> {
        let mut ring = self.keyring.borrow_mut();
        let policy = ring.policy;
        let Some(sender) = ring.senders.get_mut(&self.id) else {
            ring.counters(self.id).no_key += 1;
            return None;
        };
        let len = self.input.len();
        match policy.choose(codec, len, sender.webcrypto.is_some()) {
            Engine::Wasm => {
                let result = sender
                    .encryptor
                    .encrypt(codec, &self.input, &mut self.output);
                let counters = ring.counters(self.id);
                match result {
                    Ok(_) => {
                        counters.encrypted += 1;
                        counters.wasm += 1;
                        drop(ring);
                        self.emit_output(&incoming);
                    }
                    Err(_) => counters.unknown_format += 1,
                }
                None
            }
            Engine::WebCrypto => {
                let plan = match sender.encryptor.begin_external(codec, &self.input) {
                    Ok(Some(plan)) => plan,
                    Ok(None) | Err(_) => {
                        ring.counters(self.id).unknown_format += 1;
                        return None;
                    }
                };
                let key = sender.webcrypto.clone()?;
                drop(ring);
                plan.aad(&self.input, &mut self.aad);
                let plaintext = incoming.data.subarray(plan.prefix_len as u32, len as u32);
                let promise = webcrypto::seal(&key, &plan.nonce, &self.aad, &plaintext).ok()?;
                self.in_flight = Some(InFlight {
                    incoming,
                    plan: Plan::Seal(plan),
                });
                Some(promise)
            }
        }
    }

    fn decrypt(&mut self, codec: Codec, incoming: Incoming) -> Option<Promise> {
        let source = SourceId(u64::from(self.id));
        let mut ring = self.keyring.borrow_mut();
        let policy = ring.policy;
        let len = self.input.len();
        if !ring.has_keys() {
            ring.counters(self.id).no_key += 1;
            return None;
        }
        if policy.choose(codec, len, true) == Engine::WebCrypto {
            let decryptor = match ring.decryptor_for(source, codec, &self.input) {
                Ok(decryptor) => decryptor,
                Err(why) => {
                    ring.count_undecryptable(self.id, why);
                    return None;
                }
            };
            let plan = match decryptor.begin_external(source, codec, &self.input) {
                Ok(Some(plan)) => plan,
                // Empty frames were passed on earlier; a refused one is counted already.
                Ok(None) | Err(_) => return None,
            };
            let kid = plan.header.kid;
            let ready = ring.remote.get(&kid).and_then(|remote| {
                Some((
                    remote.webcrypto.clone()?,
                    remote.material.nonce(plan.header.ctr),
                ))
            });
            if let Some((key, nonce)) = ready {
                ring.counters(self.id).webcrypto += 1;
                drop(ring);
                plan.aad(&self.input, &mut self.aad);
                let range = plan.sealed_range(len);
                let sealed = incoming.data.subarray(range.start as u32, range.end as u32);
                let promise = webcrypto::open(&key, &nonce, &self.aad, &sealed).ok()?;
                self.in_flight = Some(InFlight {
                    incoming,
                    plan: Plan::Open(plan),
                });
                return Some(promise);
            }
            // The key is not in WebCrypto yet: this frame goes through wasm, and the import
            // starts if the KID has proved itself.
            drop(ring);
            Keyring::prepare_remote(&self.keyring, kid);
            ring = self.keyring.borrow_mut();
        }
        let decryptor = match ring.decryptor_for(source, codec, &self.input) {
            Ok(decryptor) => decryptor,
            Err(why) => {
                ring.count_undecryptable(self.id, why);
                return None;
            }
        };
        let result = decryptor.decrypt(source, codec, &self.input, &mut self.output);
        ring.counters(self.id).wasm += 1;
        drop(ring);
        if let Ok(Some(_)) = result {
            self.emit_output(&incoming);
        }
        None
    }

    /// Completes the frame in flight with WebCrypto's result (`None`: it rejected).
    fn finish(&mut self, result: Option<JsValue>) {
        let Some(InFlight { incoming, plan }) = self.in_flight.take() else {
            return;
        };
        let output = result.and_then(|buffer| buffer.dyn_into::<ArrayBuffer>().ok());
        let assembled = match plan {
            Plan::Seal(plan) => {
                let mut ring = self.keyring.borrow_mut();
                let counters = ring.counters(self.id);
                let Some(sealed) = output else {
                    counters.unknown_format += 1;
                    return;
                };
                counters.encrypted += 1;
                counters.webcrypto += 1;
                drop(ring);
                webcrypto::assemble_sealed(&plan, &incoming.data, &sealed)
            }
            Plan::Open(plan) => {
                let source = SourceId(u64::from(self.id));
                let mut ring = self.keyring.borrow_mut();
                let Some(decryptor) = ring.decryptor_of(plan.header.kid) else {
                    return;
                };
                let accepted = decryptor.finish_external(source, &plan, output.is_some());
                drop(ring);
                let (Ok(_), Some(plaintext)) = (accepted, output) else {
                    return;
                };
                webcrypto::assemble_opened(&plan, &incoming.data, &plaintext)
            }
        };
        self.set_frame_data(&incoming.frame, &assembled.buffer());
        let _ = incoming.controller.enqueue_with_chunk(&incoming.frame);
    }

    /// Replaces the frame's data with `self.output` and passes it on.
    fn emit_output(&self, incoming: &Incoming) {
        let out = Uint8Array::new_with_length(self.output.len() as u32);
        out.copy_from(&self.output);
        self.set_frame_data(&incoming.frame, &out.buffer());
        let _ = incoming.controller.enqueue_with_chunk(&incoming.frame);
    }

    fn frame_data(&self, frame: &JsValue) -> ArrayBuffer {
        match self.kind {
            MediaKind::Video => frame.unchecked_ref::<RtcEncodedVideoFrame>().data(),
            MediaKind::Audio => frame.unchecked_ref::<RtcEncodedAudioFrame>().data(),
        }
    }

    fn set_frame_data(&self, frame: &JsValue, data: &ArrayBuffer) {
        match self.kind {
            MediaKind::Video => frame.unchecked_ref::<RtcEncodedVideoFrame>().set_data(data),
            MediaKind::Audio => frame.unchecked_ref::<RtcEncodedAudioFrame>().set_data(data),
        }
    }

    fn codec_of(&mut self, frame: &JsValue) -> Option<Codec> {
        let result = match self.kind {
            MediaKind::Video => {
                let metadata = frame.unchecked_ref::<RtcEncodedVideoFrame>().get_metadata();
                self.codecs
                    .codec_of(metadata.get_payload_type(), || metadata.get_mime_type())
            }
            MediaKind::Audio => {
                let metadata = frame.unchecked_ref::<RtcEncodedAudioFrame>().get_metadata();
                self.codecs
                    .codec_of(metadata.get_payload_type(), || metadata.get_mime_type())
            }
        };
        result.ok()
    }
}
