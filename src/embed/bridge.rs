//! The browser side of the embedding API: one `message` listener on this window, and
//! `postMessage` to the parent. Thin on purpose: the format is [`super::messages`], the
//! bookkeeping [`super::events`]; this only checks where a message comes from, hands commands
//! to the [`Call`], and posts events.
//!
//! A message is obeyed only if `event.origin` is the link's `embed=` origin *and*
//! `event.source` is our parent window: another frame of the same origin, a popup, or the page
//! itself cannot drive the meeting. Events are posted with that origin as `targetOrigin`, never
//! `*`, so if the parent has navigated elsewhere the browser drops them. No bridge exists (no
//! listener) without `embed=`, or when the meeting is not in a frame.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Window};
use yew::Callback;

use super::events::Reporter;
use super::messages::{parse_command, Command, ErrorCode, Event};
use crate::call::session::{Call, CallEvent, Decryption, Failure, Status};
use crate::link_options::Origin;

/// The embedding API of one meeting page; the listener goes when this is dropped.
pub struct Bridge {
    origin: Origin,
    window: Window,
    parent: Window,
    call: RefCell<Option<Call>>,
    reporter: RefCell<Reporter>,
    on_left: Callback<()>,
    listener: Closure<dyn FnMut(MessageEvent)>,
}

impl Bridge {
    /// Starts listening for `origin`'s commands and tells it we are `ready`; `None` if this
    /// page is not in a frame. `on_left` is called after a `leave` command left the call.
    pub fn install(origin: Origin, on_left: Callback<()>) -> Option<Rc<Bridge>> {
        let window = web_sys::window()?;
        let parent = window.parent().ok().flatten()?;
        if js_sys::Object::is(&parent, &window) {
            return None;
        }
        let bridge = Rc::new_cyclic(|weak: &Weak<Bridge>| {
            let weak = weak.clone();
            let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(bridge) = weak.upgrade() {
                    bridge.on_message(&event);
                }
            });
            Bridge {
                origin,
                window: window.clone(),
                parent,
                call: RefCell::new(None),
                reporter: RefCell::new(Reporter::default()),
                on_left,
                listener,
            }
        });
        window
            .add_event_listener_with_callback("message", bridge.listener.as_ref().unchecked_ref())
            .ok()?;
        bridge.post(&Event::Ready);
        Some(bridge)
    }

    /// The call to drive and report on, from now on (a fresh report for each call).
    pub fn attach(&self, call: Call) {
        *self.reporter.borrow_mut() = Reporter::default();
        *self.call.borrow_mut() = Some(call);
        self.report_local();
    }

    /// Everything the call reports passes here; what the host may know is posted.
    pub fn observe(&self, event: &CallEvent) {
        let events: Vec<Event> = {
            let mut reporter = self.reporter.borrow_mut();
            match event {
                CallEvent::You(_) => reporter.joined().into_iter().collect(),
                CallEvent::Participants(list) => reporter.participants(list),
                CallEvent::Decryption(health) => health
                    .iter()
                    .filter(|(_, state)| **state != Decryption::Waiting)
                    .filter_map(|(who, state)| {
                        reporter.decryption(
                            who,
                            matches!(
                                state,
                                Decryption::Failing | Decryption::Refusing | Decryption::OutOfStep
                            ),
                        )
                    })
                    .collect(),
                CallEvent::Status(Status::Ended) => reporter.left().into_iter().collect(),
                CallEvent::Status(Status::Failed(failure)) => vec![Event::Error {
                    code: match failure {
                        Failure::RoomFull => ErrorCode::RoomFull,
                        Failure::Version => ErrorCode::Version,
                        Failure::Encryption => ErrorCode::Encryption,
                        // The embedding API keeps one code for every refusal.
                        Failure::Refused | Failure::AccessDenied => ErrorCode::Refused,
                        Failure::ServerMisbehaved => ErrorCode::ServerMisbehaved,
                    },
                }],
                CallEvent::DeviceRefused(_) => vec![Event::Error {
                    code: ErrorCode::DeviceRefused,
                }],
                _ => Vec::new(),
            }
        };
        for event in &events {
            self.post(event);
        }
        if matches!(event, CallEvent::Status(Status::Ended)) {
            self.call.borrow_mut().take();
        } else {
            self.report_local();
        }
    }

    fn report_local(&self) {
        let Some(call) = self.call.borrow().clone() else {
            return;
        };
        let (microphone, camera) = call.local_state();
        let changed = self.reporter.borrow_mut().local(microphone, camera);
        if let Some(event) = changed {
            self.post(&event);
        }
    }

    fn on_message(&self, event: &MessageEvent) {
        let from_parent = event
            .source()
            .is_some_and(|source| js_sys::Object::is(&source, &self.parent));
        if event.origin() != self.origin.as_str() || !from_parent {
            web_sys::console::warn_1(&"Veilig: ignored a message from another window".into());
            return;
        }
        let text = js_sys::JSON::stringify(&event.data())
            .ok()
            .and_then(|text| text.as_string())
            .unwrap_or_default();
        match parse_command(&text) {
            Ok(command) => self.run(command),
            Err(error) => {
                web_sys::console::warn_1(&format!("Veilig: ignored a message: {error}").into())
            }
        }
    }

    fn run(&self, command: Command) {
        // Cloned out: the call reports back into `observe` while it works.
        let Some(call) = self.call.borrow().clone() else {
            return self.post(&Event::Error {
                code: ErrorCode::NotInMeeting,
            });
        };
        match command {
            Command::SetMicrophone { on } => call.set_mic(on),
            Command::SetCamera { on } => call.set_camera(on),
            Command::StopScreenShare => call.set_screen(None),
            Command::SetDisplayName { name } => call.set_name(&name),
            Command::Leave => {
                call.leave();
                self.on_left.emit(());
            }
            Command::StartScreenShare => {
                let (parent, origin) = (self.parent.clone(), self.origin.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    match crate::call::media::share_screen().await {
                        Ok(track) => call.set_screen(Some(track)),
                        Err(_) => post_to(
                            &parent,
                            &origin,
                            &Event::Error {
                                code: ErrorCode::ScreenShareRefused,
                            },
                        ),
                    }
                });
            }
        }
        self.report_local();
    }

    fn post(&self, event: &Event) {
        post_to(&self.parent, &self.origin, event);
    }
}

/// Posts `event` to `parent`, for `origin` only.
fn post_to(parent: &Window, origin: &Origin, event: &Event) {
    let Ok(message) = js_sys::JSON::parse(&event.to_json()) else {
        return;
    };
    let _ = parent.post_message(&message, origin.as_str());
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self
            .window
            .remove_event_listener_with_callback("message", self.listener.as_ref().unchecked_ref());
    }
}
