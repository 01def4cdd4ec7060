//! The user interface: Yew function components, one screen per file.
//!
//! The root [`App`] first checks that this browser can encrypt a call
//! (`encryption::support`); if not, the unsupported screen is all there is. Then the address
//! decides: `/` is the start page, `/<room>#<secret>` a meeting. The language follows the
//! link's `lang=` option, else the language last chosen with the switch in this browser, else
//! the browser's preference; `<html lang>` follows it.

mod controls;
mod device_picker;
mod devices;
mod icons;
pub mod lobby;
mod media_element;
mod meeting;
mod new_meeting;
mod room;
mod start;
mod timer;
mod unsupported;

use std::rc::Rc;

use veilig_e2ee::InviteLink;
use yew::prelude::*;

use crate::encryption::support;
use crate::i18n::Lang;
use crate::link_options::LinkOptions;
use meeting::Meeting;
use start::Start;
use unsupported::Unsupported;

fn browser_lang() -> Lang {
    let languages: Vec<String> = web_sys::window()
        .map(|w| w.navigator().languages())
        .map(|list| list.iter().filter_map(|l| l.as_string()).collect())
        .unwrap_or_default();
    Lang::from_preferences(languages.iter().map(String::as_str))
}

/// Where the language chosen with the switch is kept: this browser only, like the name.
const LANG_KEY: &str = "veilig.lang";

/// The language last chosen with the switch in this browser, if any.
fn chosen_lang() -> Option<Lang> {
    let stored = web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(LANG_KEY)
        .ok()??;
    [Lang::Nl, Lang::En]
        .into_iter()
        .find(|lang| lang.tag() == stored)
}

/// Remembers `lang` as chosen, for the start page, the lobby and a reload alike.
fn choose_lang(lang: Lang) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(LANG_KEY, lang.tag());
    }
}

/// The root component, mounted on `<body>` by `main`.
#[function_component]
pub fn App() -> Html {
    let location = web_sys::window().map(|w| w.location());
    let fragment = location
        .as_ref()
        .and_then(|l| l.hash().ok())
        .unwrap_or_default();
    let pathname = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_default();
    let path = use_memo(fragment.clone(), |fragment| {
        support::choose(support::requested_path(fragment))
    });
    // The link is parsed once; the secret stays in this page.
    let link = use_memo((pathname.clone(), fragment), |(pathname, fragment)| {
        let room = pathname.trim_start_matches('/');
        (!room.is_empty()).then(|| InviteLink::from_parts(room, fragment).ok().map(Rc::new))
    });
    // `lang=` in a meeting link wins over the language last chosen with the switch, which
    // wins over the browser's preference.
    let lang = use_state(|| {
        let link_lang = match &*link {
            Some(Some(link)) => LinkOptions::parse(link.options()).lang,
            _ => None,
        };
        link_lang.or_else(chosen_lang).unwrap_or_else(browser_lang)
    });
    let switch = {
        let lang = lang.clone();
        Callback::from(move |_: MouseEvent| {
            let other = lang.other();
            choose_lang(other);
            lang.set(other)
        })
    };
    // The whole document is in this language (screen readers, hyphenation, spelling).
    use_effect_with(*lang, |lang| {
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("lang", lang.tag());
        }
    });
    let body = match (&*path, &*link) {
        (Err(why), _) => html! { <Unsupported why={*why} /> },
        (Ok(_), None) => html! { <Start lang={*lang} /> },
        (Ok(path), Some(Some(link))) => html! {
            <Meeting lang={*lang} link={link.clone()} path={*path} />
        },
        (Ok(_), Some(None)) => html! {
            <main class="start" data-testid="bad-link">
                <h1>{ "Veilig" }</h1>
                <p class="error" role="alert">{ lang.text().bad_link }</p>
                <a href="/">{ lang.text().new_meeting }</a>
            </main>
        },
    };
    html! {
        <div class="app" lang={lang.tag()}>
            <button class="language" onclick={switch} data-testid="language">
                { lang.other().text().language_name }
            </button>
            { body }
        </div>
    }
}
