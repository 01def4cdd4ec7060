//! The landing screen: the app's name and what it promises.
//!
//! A placeholder until meetings can be started; browser tests wait for its
//! `data-testid="landing"` root to know the app has mounted.

use yew::prelude::*;

/// The first screen a visitor sees.
#[function_component]
pub fn Landing() -> Html {
    html! {
        <main class="landing" data-testid="landing">
            <h1>{ "Veilig" }</h1>
            <p class="tagline" lang="nl">
                { "Veilig videobellen, van begin tot eind versleuteld." }
                <span lang="en">{ " Safe video meetings, end-to-end encrypted." }</span>
            </p>
        </main>
    }
}
