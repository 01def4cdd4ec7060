//! Which way our media goes to the relay: straight to it, or through the operator's TURN
//! server. Read from the browser's own statistics (the selected ICE candidate pair and its local
//! candidate), shown in each tile's reception details, where a user who wonders why a call is
//! slow can see it, and a test can check that TURN really carried the call.
//!
//! The browsers name the selected pair differently: Chromium in the `transport` entry
//! (`selectedCandidatePairId`, the standard way), Firefox with `selected: true` on the
//! `candidate-pair` itself. Failing both, a nominated pair that succeeded will do.
//!
//! What it does not do: no addresses leave this module, only the kind of route, so nothing
//! personal ends up in the page's attributes. [`of`] is pure and tested natively; reading the
//! entries out of a `RTCStatsReport` ([`Stat::read`]) is the browser glue.

/// The kind of path the selected candidate pair takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Route {
    /// No pair selected yet (or the browser does not say).
    #[default]
    Unknown,
    /// From one of our own addresses (host, server- or peer-reflexive candidate).
    Direct,
    /// Through a TURN server (a `relay` local candidate).
    Turn,
}

impl Route {
    /// The name in the tile's `data-route` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Unknown => "unknown",
            Route::Direct => "direct",
            Route::Turn => "turn",
        }
    }
}

/// The fields of one statistics entry that the route depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stat {
    /// `id`.
    pub id: String,
    /// `type`: `transport`, `candidate-pair`, `local-candidate`, ...
    pub kind: String,
    /// `transport`: `selectedCandidatePairId`.
    pub selected_pair: Option<String>,
    /// `candidate-pair`: Firefox's `selected`.
    pub selected: bool,
    /// `candidate-pair`: `nominated` and `state == "succeeded"`.
    pub nominated_and_succeeded: bool,
    /// `candidate-pair`: `localCandidateId`.
    pub local_candidate: Option<String>,
    /// `local-candidate`: `candidateType` (`host`, `srflx`, `prflx`, `relay`).
    pub candidate_type: Option<String>,
}

/// The route of the selected pair among `stats`.
pub fn of(stats: &[Stat]) -> Route {
    let by_id = |id: &str| stats.iter().find(|s| s.id == id);
    let pairs = || stats.iter().filter(|s| s.kind == "candidate-pair");
    let pair = stats
        .iter()
        .filter(|s| s.kind == "transport")
        .find_map(|t| by_id(t.selected_pair.as_deref()?))
        .or_else(|| pairs().find(|p| p.selected))
        .or_else(|| pairs().find(|p| p.nominated_and_succeeded));
    let local = pair.and_then(|p| by_id(p.local_candidate.as_deref()?));
    match local.and_then(|c| c.candidate_type.as_deref()) {
        Some("relay") => Route::Turn,
        Some(_) => Route::Direct,
        None => Route::Unknown,
    }
}

#[cfg(target_arch = "wasm32")]
impl Stat {
    /// The fields of one `RTCStatsReport` value.
    pub fn read(entry: &wasm_bindgen::JsValue) -> Stat {
        let get = |field: &str| js_sys::Reflect::get(entry, &field.into()).ok();
        let text = |field: &str| get(field).and_then(|v| v.as_string());
        let yes = |field: &str| get(field).and_then(|v| v.as_bool()).unwrap_or(false);
        Stat {
            id: text("id").unwrap_or_default(),
            kind: text("type").unwrap_or_default(),
            selected_pair: text("selectedCandidatePairId"),
            selected: yes("selected"),
            nominated_and_succeeded: yes("nominated")
                && text("state").as_deref() == Some("succeeded"),
            local_candidate: text("localCandidateId"),
            candidate_type: text("candidateType"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, kind: &str) -> Stat {
        Stat {
            id: id.into(),
            kind: "local-candidate".into(),
            candidate_type: Some(kind.into()),
            ..Stat::default()
        }
    }

    fn pair(id: &str, local: &str) -> Stat {
        Stat {
            id: id.into(),
            kind: "candidate-pair".into(),
            local_candidate: Some(local.into()),
            ..Stat::default()
        }
    }

    /// Two pairs: one from a host candidate, one through TURN.
    fn gathered() -> Vec<Stat> {
        vec![
            candidate("L1", "host"),
            candidate("L2", "relay"),
            pair("P1", "L1"),
            pair("P2", "L2"),
        ]
    }

    #[test]
    fn chromium_names_the_pair_in_its_transport() {
        for (selected, route) in [("P1", Route::Direct), ("P2", Route::Turn)] {
            let mut stats = gathered();
            stats.push(Stat {
                id: "T".into(),
                kind: "transport".into(),
                selected_pair: Some(selected.into()),
                ..Stat::default()
            });
            assert_eq!(of(&stats), route, "{selected}");
        }
    }

    #[test]
    fn firefox_marks_the_pair_selected() {
        for (index, route) in [(2, Route::Direct), (3, Route::Turn)] {
            let mut stats = gathered();
            stats[index].selected = true;
            assert_eq!(of(&stats), route);
        }
    }

    #[test]
    fn otherwise_a_nominated_pair_that_succeeded() {
        let mut stats = gathered();
        stats[3].nominated_and_succeeded = true;
        assert_eq!(of(&stats), Route::Turn);
    }

    #[test]
    fn no_selected_pair_is_unknown() {
        assert_eq!(of(&gathered()), Route::Unknown);
        assert_eq!(of(&[]), Route::Unknown);
        assert_eq!(Route::default().as_str(), "unknown");
    }
}
