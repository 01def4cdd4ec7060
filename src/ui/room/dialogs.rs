//! The meeting's two dialogs: the keyboard shortcuts (`?`), and "Leave the meeting?"
//! (`Shift+L`, so a stray key never ends a call). Each is a modal `dialog` role with its
//! title, and puts the focus on its safe button; Escape closes it (the room's key handler).

use web_sys::HtmlElement;
use yew::prelude::*;

use super::view::{Action, Dialog, View};
use crate::i18n::Text;

/// Focuses the element behind `node` once it is drawn.
#[hook]
fn use_focus(node: NodeRef) {
    use_effect_with(node, |node| {
        if let Some(element) = node.cast::<HtmlElement>() {
            let _ = element.focus();
        }
    });
}

#[derive(Properties, PartialEq)]
struct LeaveProps {
    title: AttrValue,
    leave: AttrValue,
    stay: AttrValue,
    on_leave: Callback<()>,
    on_stay: Callback<()>,
}

#[function_component]
fn LeaveDialog(props: &LeaveProps) -> Html {
    let stay = use_node_ref();
    use_focus(stay.clone());
    html! {
        <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="leave-title"
            data-testid="leave-dialog">
            <h2 id="leave-title">{ props.title.clone() }</h2>
            <div class="dialog-buttons">
                <button ref={stay} onclick={let s = props.on_stay.clone(); Callback::from(move |_: MouseEvent| s.emit(()))}
                    data-testid="stay">{ props.stay.clone() }</button>
                <button class="leave-now" onclick={let l = props.on_leave.clone(); Callback::from(move |_: MouseEvent| l.emit(()))}
                    data-testid="confirm-leave">{ props.leave.clone() }</button>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct HelpProps {
    title: AttrValue,
    close: AttrValue,
    lines: Vec<(&'static str, &'static str)>,
    on_close: Callback<()>,
}

#[function_component]
fn HelpDialog(props: &HelpProps) -> Html {
    let close = use_node_ref();
    use_focus(close.clone());
    html! {
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title"
            data-testid="help-dialog">
            <h2 id="help-title">{ props.title.clone() }</h2>
            <dl class="shortcuts">
                { for props.lines.iter().map(|(key, what)| html! {
                    <><dt><kbd>{ *key }</kbd></dt><dd>{ *what }</dd></>
                }) }
            </dl>
            <button ref={close} onclick={let c = props.on_close.clone(); Callback::from(move |_: MouseEvent| c.emit(()))}
                data-testid="close-help">{ props.close.clone() }</button>
        </div>
    }
}

/// The open dialog, if any.
pub(super) fn dialog(
    text: &'static Text,
    open: Option<Dialog>,
    view: UseReducerHandle<View>,
    on_leave: Callback<()>,
) -> Html {
    let close = Callback::from(move |()| view.dispatch(Action::Dialog(None)));
    match open {
        None => html! {},
        Some(Dialog::Leave) => html! {
            <LeaveDialog title={text.leave_question} leave={text.leave} stay={text.stay}
                {on_leave} on_stay={close} />
        },
        Some(Dialog::Help) => html! {
            <HelpDialog title={text.shortcuts} close={text.close} on_close={close}
                lines={vec![
                    ("m", text.microphone),
                    ("v", text.camera),
                    ("c", text.chat),
                    ("Shift+L", text.leave),
                    ("?", text.shortcuts),
                    ("Esc", text.close),
                ]} />
        },
    }
}
