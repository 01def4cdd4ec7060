//! The meeting's stage as the browser laid it out: every tile's box relative to the stage,
//! the stage's own box and the viewport, for the layout checks (`tests/layout.rs`); and the
//! test's own reckoning of the largest 16:9 tile a stage holds.

use serde::Deserialize;

use super::app::eval;
use super::{HarnessError, Session};

/// Space between tiles and around them, as the app lays them out (`src/stage_layout.rs`).
pub const GAP: f64 = 8.0;

/// The stage as the browser laid it out.
const STAGE: &str = r#"
    const stage = document.querySelector('.stage');
    if (!stage) return null;
    const s = stage.getBoundingClientRect();
    return {
      arrangement: stage.dataset.arrangement || "",
      stage: [s.left, s.top, stage.clientWidth, stage.clientHeight],
      viewport: [innerWidth, innerHeight],
      scrolls: stage.scrollHeight > stage.clientHeight + 1 || stage.scrollWidth > stage.clientWidth + 1,
      tiles: [...stage.querySelectorAll('figure.tile')].map(t => {
        const r = t.getBoundingClientRect();
        const kind = t.dataset.testid === "tile-self" ? "own"
          : t.dataset.testid === "tile-screen" ? "screen" : "remote";
        return { kind, name: t.querySelector('figcaption')?.textContent ?? "",
                 x: r.left - s.left, y: r.top - s.top, width: r.width, height: r.height,
                 floating: t.classList.contains("floating"), main: t.classList.contains("main") };
      }),
    };"#;

#[derive(Debug, Deserialize)]
pub struct Tile {
    pub kind: String,
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub floating: bool,
    pub main: bool,
}

impl Tile {
    pub fn inside(&self, width: f64, height: f64) -> bool {
        self.x >= -1.0
            && self.y >= -1.0
            && self.x + self.width <= width + 1.0
            && self.y + self.height <= height + 1.0
    }

    pub fn centre(&self) -> (f64, f64) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }
}

#[derive(Debug, Deserialize)]
pub struct Stage {
    pub arrangement: String,
    /// Left, top (in the viewport), width, height.
    pub stage: (f64, f64, f64, f64),
    pub viewport: (f64, f64),
    pub scrolls: bool,
    pub tiles: Vec<Tile>,
}

impl Stage {
    pub fn size(&self) -> (f64, f64) {
        (self.stage.2, self.stage.3)
    }

    pub fn overlaps(&self, tiles: &[&Tile]) -> usize {
        let mut count = 0;
        for (i, a) in tiles.iter().enumerate() {
            for b in &tiles[i + 1..] {
                if (a.x + a.width).min(b.x + b.width) - a.x.max(b.x) > 1.0
                    && (a.y + a.height).min(b.y + b.height) - a.y.max(b.y) > 1.0
                {
                    count += 1;
                }
            }
        }
        count
    }

    /// Tiles wholly inside the viewport (not scrolled away, not cut off).
    pub fn on_screen(&self, tile: &Tile) -> bool {
        let (left, top) = (self.stage.0 + tile.x, self.stage.1 + tile.y);
        left >= -1.0
            && top >= -1.0
            && left + tile.width <= self.viewport.0 + 1.0
            && top + tile.height <= self.viewport.1 + 1.0
    }
}

pub async fn stage(session: &Session) -> Result<Stage, HarnessError> {
    let value = eval(session, STAGE).await?;
    serde_json::from_value(value.clone())
        .map_err(|e| HarnessError::Check(format!("the stage {value}: {e}")))
}

/// The width of the largest 16:9 tile `count` equal tiles can have in a stage of `size`,
/// with [`GAP`] around and between them: the best over every column count.
pub fn largest(size: (f64, f64), count: usize) -> f64 {
    let (width, height) = (size.0 - 2.0 * GAP, size.1 - 2.0 * GAP);
    (1..=count)
        .map(|columns| {
            let rows = count.div_ceil(columns);
            let by_width = (width - GAP * (columns - 1) as f64) / columns as f64;
            let by_height = (height - GAP * (rows - 1) as f64) / rows as f64 * 16.0 / 9.0;
            by_width.min(by_height)
        })
        .fold(0.0, f64::max)
}
