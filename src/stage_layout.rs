//! Where each tile of the meeting goes on the stage: a pure function of the stage's size, the
//! number of tiles and the arrangement, returning one rectangle per tile. No DOM, no clock:
//! the meeting screen measures its stage, asks [`plan`], and places its tiles (in one flat,
//! keyed list, so a tile's video element never moves when the arrangement changes). Tested
//! natively, below.
//!
//! ```text
//!  Grid (landscape)        Solo                    Focus (landscape)     Focus (portrait)
//!  ┌──────┬──────┐         ┌──────────────┐        ┌──────────┬───┐      ┌─────────┐
//!  │  0   │  1   │         │      1       │        │          │ 0 │      │  main   │
//!  ├──────┼──────┤         │          ┌──┐│        │   main   │ 1 │      ├───┬───┬─┤
//!  │  2   │  3   │         │          │0 ││        │          │ 2 │      │ 0 │ 1 │2│
//!  └──────┴──────┘         └──────────┴──┘┘        └──────────┴───┘      └───┴───┴─┘
//! ```
//!
//! In a landscape stage every tile is 16:9 and as large as the stage allows (the column count
//! that gives the largest tile wins). In a portrait stage (a phone), tiles fill the stage's
//! width and share its height (the video is cropped to fit), down to 16:9; past that the
//! stage scrolls.

/// The tiles' shape on a landscape stage, and the least height a portrait tile gets.
pub const ASPECT: f64 = 16.0 / 9.0;
/// Space between tiles, and around them.
pub const GAP: f64 = 8.0;

/// A size in CSS pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Size {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// A tile's place on the stage, in CSS pixels from the stage's top left corner.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl Rect {
    fn right(&self) -> f64 {
        self.x + self.width
    }

    fn bottom(&self) -> f64 {
        self.y + self.height
    }
}

/// A corner of the stage, where our own small tile floats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    #[default]
    BottomRight,
}

impl Corner {
    /// The corner nearest to `point` on a stage of `stage`'s size.
    pub fn nearest(stage: Size, (x, y): (f64, f64)) -> Corner {
        match (x < stage.width / 2.0, y < stage.height / 2.0) {
            (true, true) => Corner::TopLeft,
            (false, true) => Corner::TopRight,
            (true, false) => Corner::BottomLeft,
            (false, false) => Corner::BottomRight,
        }
    }

    /// The next corner, clockwise (the keyboard's way to move the tile).
    pub fn next(self) -> Corner {
        match self {
            Corner::TopLeft => Corner::TopRight,
            Corner::TopRight => Corner::BottomRight,
            Corner::BottomRight => Corner::BottomLeft,
            Corner::BottomLeft => Corner::TopLeft,
        }
    }
}

/// How the tiles share the stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrangement {
    /// Every tile the same size, as large as the stage allows.
    Grid,
    /// Two tiles: tile 1 (the other person) fills the stage, tile 0 (our own view) floats
    /// small in `corner`, over it.
    Solo {
        /// Where our own view floats.
        corner: Corner,
    },
    /// Tile `main` (a screen share, the pinned or the speaking participant) large; the others,
    /// in order, in a strip beside it (landscape) or below it (portrait).
    Focus {
        /// The large tile.
        main: usize,
    },
}

/// Where the tiles go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// One rectangle per tile, in the tiles' order.
    pub tiles: Vec<Rect>,
    /// How tall the tiles' content is: more than the stage when it must scroll.
    pub height: f64,
}

/// Places `count` tiles on a stage of `stage`'s size, arranged as `arrangement`. A stage not
/// yet measured (zero size) gets zero rectangles; an arrangement that does not fit the count
/// (`Solo` without two tiles, `Focus` on a tile that is not there) falls back to the grid.
pub fn plan(stage: Size, count: usize, arrangement: Arrangement) -> Plan {
    let area = Rect {
        x: GAP,
        y: GAP,
        width: (stage.width - 2.0 * GAP).max(0.0),
        height: (stage.height - 2.0 * GAP).max(0.0),
    };
    if count == 0 || area.width <= 0.0 || area.height <= 0.0 {
        return Plan {
            tiles: vec![Rect::default(); count],
            height: 0.0,
        };
    }
    let tiles = match arrangement {
        Arrangement::Solo { corner } if count == 2 => solo(area, corner),
        Arrangement::Focus { main } if main < count && count > 1 => focus(area, count, main),
        _ => grid(area, count),
    };
    let height = tiles.iter().map(|t| t.bottom()).fold(0.0, f64::max) + GAP;
    Plan {
        tiles,
        // Rounding is no reason to scroll.
        height: if height <= stage.height + 0.5 {
            stage.height
        } else {
            height
        },
    }
}

fn portrait(area: Rect) -> bool {
    area.height > area.width
}

/// `count` equal tiles in `area`.
fn grid(area: Rect, count: usize) -> Vec<Rect> {
    // `fills`: a phone's tiles fill the stage (no scrolling), so a short last row widens.
    let (columns, width, height, fills) = if portrait(area) {
        // A phone: one column for up to three, then two; each fills its share of the height.
        let columns = if count <= 3 { 1 } else { 2 };
        let rows = count.div_ceil(columns);
        let width = share(area.width, columns);
        let height = share(area.height, rows).max(width / ASPECT);
        (columns, width, height, height > width / ASPECT)
    } else {
        // The column count whose 16:9 tiles are largest.
        (1..=count)
            .map(|columns| {
                let rows = count.div_ceil(columns);
                let width = share(area.width, columns).min(share(area.height, rows) * ASPECT);
                (columns, width, width / ASPECT, false)
            })
            .fold((1, 0.0, 0.0, false), |best, next| {
                if next.1 > best.1 + 0.01 {
                    next
                } else {
                    best
                }
            })
    };
    let rows = count.div_ceil(columns);
    let block_height = rows as f64 * height + (rows - 1) as f64 * GAP;
    let top = area.y + ((area.height - block_height) / 2.0).max(0.0);
    (0..count)
        .map(|index| {
            let (row, column) = (index / columns, index % columns);
            // The last row, if short, is centred, or widened to fill a phone.
            let in_row = (count - row * columns).min(columns);
            let width = if fills {
                share(area.width, in_row)
            } else {
                width
            };
            let row_width = in_row as f64 * width + (in_row - 1) as f64 * GAP;
            // (A long, scrolling phone list keeps its columns straight.)
            let left = if portrait(area) && !fills {
                area.x
            } else {
                area.x + (area.width - row_width) / 2.0
            };
            Rect {
                x: left + column as f64 * (width + GAP),
                y: top + row as f64 * (height + GAP),
                width,
                height,
            }
        })
        .collect()
}

/// The length of one of `parts` equal parts of `length`, with [`GAP`]s between them.
fn share(length: f64, parts: usize) -> f64 {
    ((length - (parts - 1) as f64 * GAP) / parts as f64).max(0.0)
}

/// Tile 1 fills `area`; tile 0 floats small in `corner`.
fn solo(area: Rect, corner: Corner) -> Vec<Rect> {
    let other = grid(area, 1)[0];
    let (width, height) = if portrait(area) {
        // On a phone our own view stands upright, as phones' own camera apps show it.
        let width = (area.width * 0.3).clamp(90.0, 160.0);
        (width, width * 4.0 / 3.0)
    } else {
        let width = (area.width * 0.2).clamp(120.0, 260.0);
        (width, width / ASPECT)
    };
    let margin = 2.0 * GAP;
    let (left, top) = (other.x + margin, other.y + margin);
    let (right, bottom) = (
        other.right() - margin - width,
        other.bottom() - margin - height,
    );
    let (x, y) = match corner {
        Corner::TopLeft => (left, top),
        Corner::TopRight => (right, top),
        Corner::BottomLeft => (left, bottom),
        Corner::BottomRight => (right, bottom),
    };
    vec![
        Rect {
            x,
            y,
            width,
            height,
        },
        other,
    ]
}

/// Tile `main` large, the others in a strip.
fn focus(area: Rect, count: usize, main: usize) -> Vec<Rect> {
    let others = count - 1;
    let mut tiles = vec![Rect::default(); count];
    let strip: Vec<usize> = (0..count).filter(|&i| i != main).collect();
    if portrait(area) {
        // The strip below, three across (a short row centred), 16:9; the main tile takes the
        // height left.
        let columns = 3;
        let width = share(area.width, columns);
        let height = width / ASPECT;
        let rows = others.div_ceil(columns);
        let strip_height = rows as f64 * height + (rows - 1) as f64 * GAP;
        let main_height = (area.height - strip_height - GAP).max(area.width / ASPECT);
        tiles[main] = Rect {
            x: area.x,
            y: area.y,
            width: area.width,
            height: main_height,
        };
        let below = Rect {
            x: area.x,
            y: area.y + main_height + GAP,
            width: area.width,
            height: strip_height,
        };
        for (place, index) in strip.into_iter().enumerate() {
            let (row, column) = (place / columns, place % columns);
            let in_row = (others - row * columns).min(columns);
            let left = below.x + (below.width - (in_row as f64 * (width + GAP) - GAP)) / 2.0;
            tiles[index] = Rect {
                x: left + column as f64 * (width + GAP),
                y: below.y + row as f64 * (height + GAP),
                width,
                height,
            };
        }
    } else {
        // The strip on the right, as many as fit without scrolling, down to a small tile.
        let strip_width = (area.width * 0.18).clamp(120.0, 240.0);
        let fits = share(area.height, others) * ASPECT;
        let width = strip_width.min(fits).max(96.0);
        let height = width / ASPECT;
        let strip_height = others as f64 * height + (others - 1) as f64 * GAP;
        let main_area = Rect {
            width: area.width - strip_width - GAP,
            ..area
        };
        tiles[main] = grid(main_area, 1)[0];
        let top = area.y + ((area.height - strip_height) / 2.0).max(0.0);
        let x = area.right() - strip_width + (strip_width - width) / 2.0;
        for (place, index) in strip.into_iter().enumerate() {
            tiles[index] = Rect {
                x,
                y: top + place as f64 * (height + GAP),
                width,
                height,
            };
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESKTOP: Size = Size {
        width: 936.0,
        height: 640.0,
    };
    const PHONE: Size = Size {
        width: 390.0,
        height: 780.0,
    };

    fn inside(stage: Size, tile: &Rect) -> bool {
        tile.x >= -0.01
            && tile.y >= -0.01
            && tile.right() <= stage.width + 0.01
            && tile.bottom() <= stage.height + 0.01
    }

    fn overlaps(tiles: &[Rect]) -> usize {
        let mut count = 0;
        for (i, a) in tiles.iter().enumerate() {
            for b in &tiles[i + 1..] {
                if a.right().min(b.right()) - a.x.max(b.x) > 0.01
                    && a.bottom().min(b.bottom()) - a.y.max(b.y) > 0.01
                {
                    count += 1;
                }
            }
        }
        count
    }

    /// The width of the largest 16:9 tile `count` tiles can have, tried by brute force over
    /// every column count (the test's own reckoning, not the module's fold).
    fn largest(stage: Size, count: usize) -> f64 {
        let (w, h) = (stage.width - 2.0 * GAP, stage.height - 2.0 * GAP);
        let mut best: f64 = 0.0;
        for columns in 1..=count {
            let rows = count.div_ceil(columns);
            let by_width = (w - GAP * (columns as f64 - 1.0)) / columns as f64;
            let by_height = (h - GAP * (rows as f64 - 1.0)) / rows as f64 * 16.0 / 9.0;
            best = best.max(by_width.min(by_height));
        }
        best
    }

    #[test]
    fn a_landscape_grid_has_the_largest_16_9_tiles_for_any_count() {
        for stage in [
            DESKTOP,
            Size {
                width: 1280.0,
                height: 620.0,
            },
            Size {
                width: 700.0,
                height: 690.0,
            },
        ] {
            for count in 1..=25 {
                let plan = plan(stage, count, Arrangement::Grid);
                assert_eq!(plan.tiles.len(), count);
                assert_eq!(overlaps(&plan.tiles), 0, "{count} in {stage:?}");
                for tile in &plan.tiles {
                    assert!(inside(stage, tile), "{count} in {stage:?}: {tile:?}");
                    assert!((tile.width / tile.height - ASPECT).abs() < 1e-9);
                    assert!(
                        (tile.width - largest(stage, count)).abs() < 0.01,
                        "{count} in {stage:?}: {} wide, {} possible",
                        tile.width,
                        largest(stage, count)
                    );
                }
                assert_eq!(plan.height, stage.height, "no scrolling");
            }
        }
    }

    #[test]
    fn twenty_five_on_a_desktop_are_five_by_five() {
        let plan = plan(DESKTOP, 25, Arrangement::Grid);
        let mut lefts: Vec<i64> = plan.tiles.iter().map(|t| t.x.round() as i64).collect();
        let mut tops: Vec<i64> = plan.tiles.iter().map(|t| t.y.round() as i64).collect();
        lefts.sort();
        lefts.dedup();
        tops.sort();
        tops.dedup();
        assert_eq!((lefts.len(), tops.len()), (5, 5));
    }

    #[test]
    fn a_short_last_row_is_centred() {
        let plan = plan(DESKTOP, 3, Arrangement::Grid);
        let last = plan.tiles[2];
        let centre = last.x + last.width / 2.0;
        assert!((centre - DESKTOP.width / 2.0).abs() < 0.01, "{plan:?}");
    }

    #[test]
    fn a_phone_grid_fills_the_screen_then_scrolls() {
        for count in 1..=6 {
            let plan = plan(PHONE, count, Arrangement::Grid);
            assert_eq!(overlaps(&plan.tiles), 0);
            let area: f64 = plan.tiles.iter().map(|t| t.width * t.height).sum();
            assert!(
                area > 0.85 * PHONE.width * PHONE.height,
                "{count} tiles cover {area} of the phone"
            );
            assert!(plan.tiles.iter().all(|t| inside(PHONE, t)));
        }
        // 25 on a phone: two columns of 16:9 tiles, and the stage scrolls.
        let plan = plan(PHONE, 25, Arrangement::Grid);
        assert!(plan.height > PHONE.height);
        assert!(plan
            .tiles
            .iter()
            .all(|t| (t.width / t.height - ASPECT).abs() < 1e-9 && t.width > 150.0));
    }

    #[test]
    fn solo_fills_the_stage_with_the_other_and_floats_our_own_in_the_corner() {
        for stage in [DESKTOP, PHONE] {
            for corner in [
                Corner::TopLeft,
                Corner::TopRight,
                Corner::BottomLeft,
                Corner::BottomRight,
            ] {
                let plan = plan(stage, 2, Arrangement::Solo { corner });
                let (own, other) = (plan.tiles[0], plan.tiles[1]);
                assert!(inside(stage, &own) && inside(stage, &other));
                assert!(own.width < stage.width / 3.0);
                let centre = (own.x + own.width / 2.0, own.y + own.height / 2.0);
                assert_eq!(Corner::nearest(stage, centre), corner);
                if stage == PHONE {
                    assert!(other.width * other.height > 0.9 * stage.width * stage.height);
                } else {
                    assert!((other.width - largest(stage, 1)).abs() < 0.01);
                }
            }
        }
    }

    #[test]
    fn focus_keeps_everyone_on_screen_with_the_main_tile_largest() {
        for stage in [DESKTOP, PHONE] {
            for count in 2..=7 {
                for main in [0, count - 1] {
                    let plan = plan(stage, count, Arrangement::Focus { main });
                    assert_eq!(overlaps(&plan.tiles), 0, "{count} in {stage:?}");
                    assert!(
                        plan.tiles.iter().all(|t| inside(stage, t)),
                        "{count} in {stage:?}: {plan:?}"
                    );
                    let big = plan.tiles[main];
                    assert!(
                        big.width >= 0.6 * stage.width,
                        "{count} in {stage:?}: {big:?}"
                    );
                    assert!(plan
                        .tiles
                        .iter()
                        .enumerate()
                        .all(|(i, t)| i == main || t.width * 3.0 < big.width * 2.0));
                }
            }
        }
    }

    #[test]
    fn an_unmeasured_stage_or_an_unfitting_arrangement_still_gives_a_rectangle_each() {
        assert_eq!(plan(Size::default(), 3, Arrangement::Grid).tiles.len(), 3);
        let fallback = plan(
            DESKTOP,
            3,
            Arrangement::Solo {
                corner: Corner::TopLeft,
            },
        );
        assert_eq!(fallback, plan(DESKTOP, 3, Arrangement::Grid));
        let fallback = plan(DESKTOP, 3, Arrangement::Focus { main: 5 });
        assert_eq!(fallback, plan(DESKTOP, 3, Arrangement::Grid));
    }
}
