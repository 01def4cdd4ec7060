//! The WebSocket to the relay: protocol messages out, protocol messages and the close in.
//!
//! Thin: it knows the message format (`veilig-protocol`), not the call. Nothing secret goes
//! through it: the relay sees the room id, SDP and encrypted blobs only.

use std::rc::Rc;

use veilig_protocol::{ClientMessage, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the socket reports.
#[derive(Debug)]
pub enum SignalingEvent {
    /// Connected: send `join` now.
    Open,
    /// A message from the relay.
    Message(ServerMessage),
    /// The relay sent something that is not the protocol: the connection is useless.
    Garbled,
    /// Closed, by either side, with the WebSocket close code.
    Closed(u16),
}

/// One WebSocket to the relay.
pub struct Signaling {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

/// The signaling URL for the page's own origin: `ws(s)://HOST/ws`.
pub fn url_for_page() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}

impl Signaling {
    /// Opens the socket; `on_event` hears everything that happens to it.
    pub fn connect(url: &str, on_event: Rc<dyn Fn(SignalingEvent)>) -> Result<Signaling, JsValue> {
        let socket = WebSocket::new(url)?;
        let on_open = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut()>::new(move || on_event(SignalingEvent::Open))
        };
        let on_message = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let parsed = event
                    .data()
                    .as_string()
                    .and_then(|text| ServerMessage::decode(&text).ok());
                on_event(match parsed {
                    Some(message) => SignalingEvent::Message(message),
                    None => SignalingEvent::Garbled,
                });
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_event(SignalingEvent::Closed(event.code()))
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Signaling {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a message if the socket is open (a closed socket reports itself by its close).
    pub fn send(&self, message: &ClientMessage) {
        let _ = self.socket.send_with_str(&message.encode());
    }

    /// Closes the socket without reporting it: the caller is leaving on purpose.
    pub fn close(&self) {
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.close();
    }
}
