//! The start page: a new meeting in one click (room id and secret made in this browser), or a
//! pasted link or meeting code. Says in two sentences what is protected.

use veilig_e2ee::InviteLink;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::frame_crypto::webcrypto::fill_random;
use crate::i18n::Lang;

/// Props: the UI language.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
}

/// Opens `link` in this tab (the fragment stays in the browser).
fn open(link: &InviteLink) {
    if let Some(window) = web_sys::window() {
        let target = format!("{}#{}", link.path(), link.fragment().as_str());
        let _ = window.location().assign(&target);
    }
}

/// A fresh link from the browser's CSPRNG; `passphrase`: the link says a passphrase is needed.
fn new_link(passphrase: bool) -> Option<InviteLink> {
    let mut random = [0u8; 26];
    fill_random(&mut random).ok()?;
    Some(InviteLink::generate(&random, passphrase))
}

/// The start page.
#[function_component]
pub fn Start(props: &Props) -> Html {
    let text = props.lang.text();
    let input = use_node_ref();
    let error = use_state(|| false);
    let passphrase = use_node_ref();
    let on_new = {
        let passphrase = passphrase.clone();
        Callback::from(move |_: MouseEvent| {
            let wanted = passphrase
                .cast::<HtmlInputElement>()
                .is_some_and(|i| i.checked());
            if let Some(link) = new_link(wanted) {
                super::new_meeting::created(link.room());
                open(&link);
            }
        })
    };
    let on_open = {
        let input = input.clone();
        let error = error.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            match InviteLink::parse(value.trim()) {
                Ok(link) => open(&link),
                Err(_) => error.set(true),
            }
        })
    };
    html! {
        <main class="start" data-testid="landing">
            <h1>{ "Veilig" }</h1>
            <p class="tagline">{ text.tagline }</p>
            <p class="promise">{ text.promise }</p>
            <button class="primary" data-testid="new-meeting" onclick={on_new}>
                { text.new_meeting }
            </button>
            <label class="with-passphrase">
                <input type="checkbox" ref={passphrase} data-testid="require-passphrase" />
                { text.require_passphrase }
            </label>
            <form class="open-link" onsubmit={on_open}>
                <label for="link">{ text.paste_link }</label>
                <input id="link" ref={input} type="text" autocomplete="off" spellcheck="false" />
                <button type="submit">{ text.open_link }</button>
            </form>
            if *error {
                <p class="error" role="alert">{ text.bad_link }</p>
            }
        </main>
    }
}
