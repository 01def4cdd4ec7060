//! The stage's glue to the page: its measured size (a `ResizeObserver`, so a rotated phone or a
//! resized window places the tiles again), the tiles' places applied, and dragging our own
//! small tile to another corner.
//!
//! Places are written as `data-place` and applied here through the CSS object model
//! (`element.style.cssText`): the relay's Content-Security-Policy (`style-src 'self'`) refuses
//! `style` attributes in markup, and rightly so; the object model is the script's own.
//! Where tiles go is `crate::stage_layout`'s pure business; this only feeds it.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, ResizeObserver};
use yew::prelude::*;

use crate::stage_layout::{Corner, Size};

/// The size of the element behind `node`, kept current as it changes.
#[hook]
pub(super) fn use_size(node: NodeRef) -> Size {
    let size = use_state(Size::default);
    {
        let size = size.clone();
        use_effect_with(node, move |node| {
            let element = node.cast::<Element>();
            let measure = {
                let element = element.clone();
                move || {
                    if let Some(element) = &element {
                        let now = Size {
                            width: f64::from(element.client_width()),
                            height: f64::from(element.client_height()),
                        };
                        if *size != now {
                            size.set(now);
                        }
                    }
                }
            };
            measure();
            let callback = Closure::<dyn FnMut()>::new(measure);
            let observer = ResizeObserver::new(callback.as_ref().unchecked_ref()).ok();
            if let (Some(observer), Some(element)) = (&observer, &element) {
                observer.observe(element);
            }
            move || {
                if let Some(observer) = observer {
                    observer.disconnect();
                }
                drop(callback);
            }
        });
    }
    *size
}

/// After every render, gives each element under `stage` that has a `data-place` that style.
#[hook]
pub(super) fn use_places(stage: NodeRef) {
    use_effect(move || {
        let Some(stage) = stage.cast::<Element>() else {
            return;
        };
        let Ok(placed) = stage.query_selector_all("[data-place]") else {
            return;
        };
        for index in 0..placed.length() {
            let Some(element) = placed
                .item(index)
                .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            else {
                continue;
            };
            if let Some(place) = element.get_attribute("data-place") {
                let style = element.style();
                if style.css_text() != place {
                    style.set_css_text(&place);
                }
            }
        }
    });
}

/// A drag of our own tile under way: where the pointer went down, and where it is now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Drag {
    start: (f64, f64),
    now: (f64, f64),
}

/// Dragging our own floating tile: the handlers for the tile (`down`) and the stage (`moved`,
/// `up`), the offset to draw the tile at while dragged, and on release the corner nearest to
/// where it was let go, handed to `on_drop`.
pub(super) struct OwnDrag {
    pub down: Callback<PointerEvent>,
    pub moved: Callback<PointerEvent>,
    pub up: Callback<PointerEvent>,
    pub offset: (f64, f64),
}

#[hook]
pub(super) fn use_own_drag(stage: NodeRef, size: Size, on_drop: Callback<Corner>) -> OwnDrag {
    let drag = use_state(|| None::<Drag>);
    // The tile's centre when the drag began, relative to the stage.
    let centre = use_mut_ref(|| (0.0, 0.0));
    let down = {
        let drag = drag.clone();
        let centre = centre.clone();
        let stage = stage.clone();
        Callback::from(move |event: PointerEvent| {
            if event.button() != 0 {
                return;
            }
            let (Some(tile), Some(stage)) = (
                event
                    .current_target()
                    .and_then(|t| t.dyn_into::<Element>().ok()),
                stage.cast::<Element>(),
            ) else {
                return;
            };
            let (t, s) = (
                tile.get_bounding_client_rect(),
                stage.get_bounding_client_rect(),
            );
            *centre.borrow_mut() = (
                t.left() - s.left() + t.width() / 2.0,
                t.top() - s.top() + t.height() / 2.0,
            );
            let at = (event.client_x(), event.client_y());
            drag.set(Some(Drag { start: at, now: at }));
        })
    };
    let moved = {
        let drag = drag.clone();
        Callback::from(move |event: PointerEvent| {
            if let Some(current) = *drag {
                drag.set(Some(Drag {
                    now: (event.client_x(), event.client_y()),
                    ..current
                }));
            }
        })
    };
    let up = {
        let drag = drag.clone();
        let centre: Rc<RefCell<(f64, f64)>> = centre;
        Callback::from(move |event: PointerEvent| {
            let Some(current) = *drag else {
                return;
            };
            let (x, y) = *centre.borrow();
            let dropped = (
                x + event.client_x() - current.start.0,
                y + event.client_y() - current.start.1,
            );
            drag.set(None);
            // A click without a move is no drag.
            if (dropped.0 - x).abs() + (dropped.1 - y).abs() > 4.0 {
                on_drop.emit(Corner::nearest(size, dropped));
            }
        })
    };
    let offset = drag.map_or((0.0, 0.0), |d| (d.now.0 - d.start.0, d.now.1 - d.start.1));
    OwnDrag {
        down,
        moved,
        up,
        offset,
    }
}
