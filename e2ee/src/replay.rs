//! A sliding replay window over SFrame counters (RFC 9605 §9.3), one per sender key.
//!
//! Media arrives slightly out of order (NACK retransmissions, jitter), so the window accepts a
//! counter it has not seen within the last [`WINDOW`] counters below the highest one, and refuses
//! any counter it has seen or that is older than that. Checking and recording are separate
//! steps: a counter is recorded only after its frame authenticated, so forged frames cannot move
//! the window.

/// How many counters below the highest accepted one are still accepted once.
pub const WINDOW: u64 = 128;

/// Replay state for one sender key.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    /// The highest counter accepted so far, if any.
    highest: Option<u64>,
    /// Bit `i` is set when counter `highest - i` was accepted.
    seen: u128,
}

/// Why a counter is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Replay {
    /// The counter was accepted before.
    #[error("counter already seen")]
    Repeated,
    /// The counter is more than a window below the highest one seen.
    #[error("counter older than the replay window")]
    TooOld,
}

impl ReplayWindow {
    /// Whether a frame with counter `ctr` may be accepted. Changes nothing.
    pub fn check(&self, ctr: u64) -> Result<(), Replay> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if ctr > highest {
            return Ok(());
        }
        let age = highest - ctr;
        if age >= WINDOW {
            Err(Replay::TooOld)
        } else if self.seen & (1u128 << age) != 0 {
            Err(Replay::Repeated)
        } else {
            Ok(())
        }
    }

    /// Records `ctr` as accepted. Call only after [`check`](Self::check) passed and the frame
    /// authenticated.
    pub fn record(&mut self, ctr: u64) {
        match self.highest {
            Some(highest) if ctr <= highest => self.seen |= 1u128 << (highest - ctr),
            Some(highest) => {
                let shift = ctr - highest;
                self.seen = if shift >= WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(ctr);
            }
            None => {
                self.seen = 1;
                self.highest = Some(ctr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn accept(window: &mut ReplayWindow, ctr: u64) -> Result<(), Replay> {
        window.check(ctr)?;
        window.record(ctr);
        Ok(())
    }

    #[test]
    fn in_order_then_repeat() {
        let mut w = ReplayWindow::default();
        for ctr in 0..300 {
            assert_eq!(accept(&mut w, ctr), Ok(()));
        }
        assert_eq!(accept(&mut w, 299), Err(Replay::Repeated));
        assert_eq!(accept(&mut w, 200), Err(Replay::Repeated));
        assert_eq!(accept(&mut w, 171), Err(Replay::TooOld));
    }

    #[test]
    fn late_frames_inside_the_window_are_accepted_once() {
        let mut w = ReplayWindow::default();
        assert_eq!(accept(&mut w, 10), Ok(()));
        assert_eq!(accept(&mut w, 1000), Ok(()));
        assert_eq!(accept(&mut w, 900), Ok(()));
        assert_eq!(accept(&mut w, 900), Err(Replay::Repeated));
        assert_eq!(accept(&mut w, 10), Err(Replay::TooOld));
        assert_eq!(accept(&mut w, u64::MAX), Ok(()));
        assert_eq!(accept(&mut w, u64::MAX - 127), Ok(()));
        assert_eq!(accept(&mut w, u64::MAX - 128), Err(Replay::TooOld));
    }

    proptest! {
        /// Against a model that remembers everything: the window never accepts a counter twice,
        /// and accepts every fresh counter within the window.
        #[test]
        fn never_accepts_twice(ctrs in proptest::collection::vec(0u64..400, 1..300)) {
            let mut w = ReplayWindow::default();
            let mut accepted = std::collections::BTreeSet::new();
            for ctr in ctrs {
                let highest = accepted.iter().next_back().copied();
                let fresh = !accepted.contains(&ctr);
                let in_window = highest.is_none_or(|h| ctr + WINDOW > h);
                let result = accept(&mut w, ctr);
                prop_assert_eq!(result.is_ok(), fresh && in_window, "ctr {}", ctr);
                if result.is_ok() {
                    accepted.insert(ctr);
                }
            }
        }
    }
}
