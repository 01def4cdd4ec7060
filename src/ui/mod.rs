//! The user interface: Yew function components, one per file.
//!
//! The root [`App`] owns the app's state and hands children what they need; for now there is
//! only the landing screen. Nothing in here touches media, the network or keys.

mod landing;

use yew::prelude::*;

use landing::Landing;

/// The root component, mounted on `<body>` by `main`.
#[function_component]
pub fn App() -> Html {
    html! { <Landing /> }
}
