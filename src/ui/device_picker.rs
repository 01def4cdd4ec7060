//! A `<select>` of the browser's devices of one kind (microphones, cameras or speakers) that
//! shows the device actually in use, for the lobby and the meeting alike.
//!
//! "In use" is what the browser says a live track comes from (`getSettings().deviceId`), not
//! what was last picked: with the default device the two differ, and a select left to itself
//! shows whatever option its attributes happen to mark. The select's value is therefore set
//! after every render. This component opens nothing itself; the owner of the tracks does that
//! when it hears [`Props::on_pick`].

use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::call::media::DeviceInfo;

/// Props of a device picker.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// `audioinput`, `videoinput` or `audiooutput`.
    pub kind: &'static str,
    /// Every device the browser lists (of any kind).
    pub devices: Rc<Vec<DeviceInfo>>,
    /// The id of the device in use, if known.
    pub in_use: Option<String>,
    /// Accessible name.
    pub label: &'static str,
    /// For tests.
    pub testid: &'static str,
    /// A device was picked: its id.
    pub on_pick: Callback<String>,
    /// Not to be changed now (the tracks are being handed over).
    #[prop_or_default]
    pub disabled: bool,
}

/// The picker.
#[function_component]
pub fn DevicePicker(props: &Props) -> Html {
    let node = use_node_ref();
    let options: Vec<&DeviceInfo> = props
        .devices
        .iter()
        .filter(|d| d.kind == props.kind)
        .collect();
    {
        // After every render: the options may have just arrived, or the device changed.
        let node = node.clone();
        let in_use = props.in_use.clone();
        use_effect(move || {
            if let (Some(select), Some(id)) = (node.cast::<HtmlSelectElement>(), in_use) {
                if select.value() != id {
                    select.set_value(&id);
                }
            }
        });
    }
    let onchange = {
        let on_pick = props.on_pick.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
                on_pick.emit(select.value());
            }
        })
    };
    let kind = props.kind;
    html! {
        <select ref={node} {onchange} aria-label={props.label} data-testid={props.testid}
            disabled={props.disabled}>
            { for options.iter().enumerate().map(|(i, d)| {
                let label = if d.label.is_empty() { format!("{kind} {}", i + 1) } else { d.label.clone() };
                html! { <option value={d.id.clone()}>{ label }</option> }
            }) }
        </select>
    }
}
