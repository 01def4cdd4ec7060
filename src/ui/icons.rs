//! The controls' icons: inline SVG drawn here, in `currentColor`, so they follow the theme and
//! nothing is fetched (no icon font, no image file, no third party). Each icon is decoration
//! beside a visible label (`aria-hidden`): the label and `aria-pressed` carry the meaning.

use yew::prelude::*;

/// One icon of the controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    /// Microphone on.
    Mic,
    /// Microphone off: struck through.
    MicOff,
    /// Camera on.
    Camera,
    /// Camera off: struck through.
    CameraOff,
    /// Screen share.
    Screen,
    /// Chat.
    Chat,
    /// Device settings.
    Devices,
    /// Leave the meeting.
    Leave,
    /// The side panel: people and the meeting's details.
    People,
    /// The speaker view: one large tile beside a strip.
    SpeakerView,
    /// The grid view.
    GridView,
    /// Move a tile.
    Move,
}

/// The strokes of a 24x24 icon.
fn strokes(icon: Icon) -> &'static [&'static str] {
    const SLASH: &str = "M3 3l18 18";
    const MIC: [&str; 2] = [
        "M9 6a3 3 0 0 1 6 0v5a3 3 0 0 1-6 0z",
        "M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8",
    ];
    const CAMERA: [&str; 2] = [
        "M3 7h11a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z",
        "M15 11l6-4v10l-6-4",
    ];
    match icon {
        Icon::Mic => &MIC,
        Icon::MicOff => &[MIC[0], MIC[1], SLASH],
        Icon::Camera => &CAMERA,
        Icon::CameraOff => &[CAMERA[0], CAMERA[1], SLASH],
        Icon::Screen => &[
            "M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z",
            "M8 21h8M12 17v4M12 14V8M9 11l3-3 3 3",
        ],
        Icon::Chat => &["M4 4h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H9l-5 4V5a1 1 0 0 1 1-1z"],
        Icon::Devices => &["M4 7h9M17 7h3M4 17h3M11 17h9", "M15 5v4M9 15v4"],
        Icon::Leave => &[
            "M14 4h5a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-5",
            "M10 8l-4 4 4 4M6 12h10",
        ],
        Icon::People => &[
            "M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 20a6 6 0 0 1 12 0",
            "M16 5a3 3 0 0 1 0 6M18 14a5 5 0 0 1 3 6",
        ],
        Icon::SpeakerView => &["M3 5h12v14H3zM18 5h3v4h-3zM18 11h3v4h-3z"],
        Icon::GridView => &["M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z"],
        Icon::Move => &["M12 3v18M3 12h18M9 6l3-3 3 3M9 18l3 3 3-3M6 9l-3 3 3 3M18 9l3 3-3 3"],
    }
}

/// The icon as inline SVG, hidden from assistive technology.
pub fn icon(icon: Icon) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"
            focusable="false" fill="none" stroke="currentColor" stroke-width="2"
            stroke-linecap="round" stroke-linejoin="round">
            { for strokes(icon).iter().map(|d| html! { <path d={*d} /> }) }
        </svg>
    }
}
