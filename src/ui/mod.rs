//! The user interface: Yew function components, one screen per file.
//!
//! The root [`App`] first checks that this browser can encrypt a call
//! (`encryption::support`); if not, the unsupported screen is all there is. Then the address
//! decides: `/` is the start page, `/<room>#<secret>` a meeting. The language follows the
//! link's `lang=` option, else the browser, and can be switched.

mod device_picker;
mod devices;
pub mod lobby;
mod media_element;
mod meeting;
mod new_meeting;
mod room;
mod start;
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
    // `lang=` in a meeting link wins over the browser's preference.
    let lang = use_state(|| {
        let link_lang = match &*link {
            Some(Some(link)) => LinkOptions::parse(link.options()).lang,
            _ => None,
        };
        link_lang.unwrap_or_else(browser_lang)
    });
    let switch = {
        let lang = lang.clone();
        Callback::from(move |_: MouseEvent| lang.set(lang.other()))
    };
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
