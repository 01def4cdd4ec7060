//! The screen for a browser that cannot encrypt a call: what is missing, in plain words, and
//! which browsers work. There is no way past it: Veilig has no unencrypted mode.

use yew::prelude::*;

use crate::encryption::{AttachPath, Unsupported as Why};

/// Props: why this browser cannot take part.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// What is missing.
    pub why: Why,
}

fn reason(why: Why) -> (&'static str, &'static str) {
    match why {
        Why::NoWebRtc => (
            "Deze browser ondersteunt geen videobellen (WebRTC staat uit of ontbreekt).",
            "This browser does not support video calls (WebRTC is off or missing).",
        ),
        Why::NoEncodedTransforms => (
            "Deze browser kan beeld en geluid niet zelf versleutelen.",
            "This browser cannot encrypt audio and video itself.",
        ),
        Why::NoWorkerCrypto => (
            "Deze browser mist onderdelen die nodig zijn voor versleuteling (Web Workers of WebCrypto).",
            "This browser lacks what encryption needs (Web Workers or WebCrypto).",
        ),
        Why::PathMissing(AttachPath::EncodedStreams) => (
            "De link vraagt om de Chromium-methode voor versleuteling (transform=streams), maar deze browser heeft die niet. Haal die optie uit de link.",
            "The link asks for Chromium's encryption method (transform=streams), which this browser lacks. Remove that option from the link.",
        ),
        Why::PathMissing(AttachPath::ScriptTransform) => (
            "De link vraagt om de standaardmethode voor versleuteling (transform=script), maar deze browser heeft die niet. Haal die optie uit de link.",
            "The link asks for the standard encryption method (transform=script), which this browser lacks. Remove that option from the link.",
        ),
    }
}

/// Shown instead of everything else when the browser cannot encrypt.
#[function_component]
pub fn Unsupported(props: &Props) -> Html {
    let (nl, en) = reason(props.why);
    html! {
        <main class="unsupported" data-testid="unsupported" role="alert">
            <h1>{ "Veilig" }</h1>
            <section lang="nl">
                <h2>{ "Deze browser kan niet veilig deelnemen" }</h2>
                <p>{ nl }</p>
                <p>{ "Veilig versleutelt elk gesprek end-to-end, in je eigen browser. Zonder die versleuteling starten we geen gesprek: er is geen onversleutelde modus." }</p>
                <p>{ "Gebruik een recente versie van Firefox (117 of nieuwer), Chrome, Edge of Chromium (141 of nieuwer), of Safari (15.4 of nieuwer)." }</p>
            </section>
            <section lang="en">
                <h2>{ "This browser cannot join safely" }</h2>
                <p>{ en }</p>
                <p>{ "Veilig encrypts every call end to end, in your browser. Without that encryption we do not start a call: there is no unencrypted mode." }</p>
                <p>{ "Please use a recent Firefox (117 or later), Chrome, Edge or Chromium (141 or later), or Safari (15.4 or later)." }</p>
            </section>
        </main>
    }
}
