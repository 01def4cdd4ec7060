//! A `<video>` or `<audio>` element playing a `MediaStreamTrack` (Yew cannot set
//! `srcObject` as an attribute, so it is set on the node after render).

use wasm_bindgen::JsCast;
use web_sys::{HtmlMediaElement, MediaStream, MediaStreamTrack};
use yew::prelude::*;

use crate::timeline::{self, Milestone};

/// Marks [`Milestone::FirstRemoteFrame`] (once per page) when `element` presents its first
/// frame: the time from opening the link to seeing someone, read by the benchmark.
fn mark_first_remote_frame(element: &HtmlMediaElement) {
    let Ok(request) = js_sys::Reflect::get(element, &"requestVideoFrameCallback".into()) else {
        return;
    };
    let Some(request) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&request) else {
        return;
    };
    let callback = wasm_bindgen::closure::Closure::once_into_js(move || {
        timeline::mark(Milestone::FirstRemoteFrame);
    });
    let _ = request.call1(element, &callback);
}

/// Props: the track, and whether it is our own (muted, mirrored).
#[derive(Properties, PartialEq)]
pub struct Props {
    /// What to play.
    pub track: MediaStreamTrack,
    /// Our own preview: muted, mirrored.
    #[prop_or_default]
    pub local: bool,
    /// For tests and styling.
    #[prop_or_default]
    pub testid: AttrValue,
    /// Where audio plays: an `audiooutput` device id (`setSinkId`); the default if `None`.
    #[prop_or_default]
    pub sink: Option<AttrValue>,
}

/// Plays `element`'s audio on the output device `id`, where the browser can.
fn set_sink(element: &HtmlMediaElement, id: &str) {
    let Ok(set) = js_sys::Reflect::get(element, &"setSinkId".into()) else {
        return;
    };
    let Some(set) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&set) else {
        return;
    };
    if let Ok(done) = set.call1(element, &id.into()) {
        // A device unplugged meanwhile: audio stays on the default output.
        if let Ok(done) = done.dyn_into::<js_sys::Promise>() {
            let ignore =
                wasm_bindgen::closure::Closure::<dyn FnMut(wasm_bindgen::JsValue)>::new(|_| {});
            let _ = done.catch(&ignore);
            ignore.forget();
        }
    }
}

/// Plays the track.
#[function_component]
pub fn MediaElement(props: &Props) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with(props.sink.clone(), move |sink| {
            if let (Some(element), Some(sink)) = (node.cast::<HtmlMediaElement>(), sink) {
                set_sink(&element, sink);
            }
        });
    }
    {
        let node = node.clone();
        let track = Clone::clone(&props.track);
        let local = props.local;
        use_effect_with(track, move |track| {
            if let Some(element) = node.cast::<HtmlMediaElement>() {
                let tracks = js_sys::Array::of1(track);
                if let Ok(stream) = MediaStream::new_with_tracks(&tracks) {
                    element.set_src_object(Some(&stream));
                    if track.kind() == "video" && !local {
                        mark_first_remote_frame(&element);
                    }
                    // A newer track may interrupt this play(); that rejection is expected.
                    if let Ok(playing) = element.play() {
                        let ignore = wasm_bindgen::closure::Closure::<
                            dyn FnMut(wasm_bindgen::JsValue),
                        >::new(|_| {});
                        let _ = playing.catch(&ignore);
                        ignore.forget();
                    }
                }
            }
        });
    }
    if props.track.kind() == "audio" {
        html! { <audio ref={node} autoplay=true data-testid={props.testid.clone()} /> }
    } else {
        let class = if props.local { "local" } else { "" };
        html! {
            <video ref={node} class={class} autoplay=true playsinline=true muted={props.local}
                data-testid={props.testid.clone()} />
        }
    }
}
