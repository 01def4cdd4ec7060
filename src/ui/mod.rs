//! The user interface: Yew function components, one per file.
//!
//! The root [`App`] owns the app's state and hands children what they need. First it checks
//! that this browser can encrypt a call (`encryption::support`); if not, the unsupported
//! screen is all there is. Nothing in here touches media, the network or keys yet.

mod landing;
mod unsupported;

use yew::prelude::*;

use crate::encryption::support;
use landing::Landing;
use unsupported::Unsupported;

/// The root component, mounted on `<body>` by `main`.
#[function_component]
pub fn App() -> Html {
    let fragment = web_sys::window()
        .and_then(|window| window.location().hash().ok())
        .unwrap_or_default();
    let path = use_memo(fragment, |fragment| {
        support::choose(support::requested_path(fragment))
    });
    match *path {
        Ok(_) => html! { <Landing /> },
        Err(why) => html! { <Unsupported {why} /> },
    }
}
