//! Milestones of joining a meeting, as User Timing marks in this page (`veilig:<milestone>`,
//! measured from navigation start), so the first-frame benchmark can say where the time goes
//! instead of giving one number. Each milestone is marked once per page: the first join is the
//! one a guest waits for, and a reconnect must not move the marks.
//!
//! Local only: the marks stay in this page's performance timeline, which no code sends
//! anywhere, and they carry no names, ids or keys.

/// The milestones, in the order a guest who skips the lobby passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// The app's wasm runs (`main`).
    AppStarted,
    /// The camera and microphone answered.
    DevicesOpen,
    /// The call starts: the user pressed join, or the lobby was skipped.
    CallStarted,
    /// The frame-crypto worker has loaded its wasm and holds the key.
    WorkerReady,
    /// The signaling socket is open.
    SignalingOpen,
    /// The relay admitted us to the room.
    Welcomed,
    /// The relay's first offer arrived.
    OfferReceived,
    /// Our answer went out.
    AnswerSent,
    /// ICE and DTLS are done: the peer connection is connected.
    PeerConnected,
    /// The first remote video frame was presented.
    FirstRemoteFrame,
}

impl Milestone {
    /// Every milestone, in order (the benchmark reads them all).
    pub const ALL: [Milestone; 10] = [
        Milestone::AppStarted,
        Milestone::DevicesOpen,
        Milestone::CallStarted,
        Milestone::WorkerReady,
        Milestone::SignalingOpen,
        Milestone::Welcomed,
        Milestone::OfferReceived,
        Milestone::AnswerSent,
        Milestone::PeerConnected,
        Milestone::FirstRemoteFrame,
    ];

    /// The mark's name in the performance timeline.
    pub fn mark_name(self) -> &'static str {
        match self {
            Milestone::AppStarted => "veilig:app-started",
            Milestone::DevicesOpen => "veilig:devices-open",
            Milestone::CallStarted => "veilig:call-started",
            Milestone::WorkerReady => "veilig:worker-ready",
            Milestone::SignalingOpen => "veilig:signaling-open",
            Milestone::Welcomed => "veilig:welcomed",
            Milestone::OfferReceived => "veilig:offer-received",
            Milestone::AnswerSent => "veilig:answer-sent",
            Milestone::PeerConnected => "veilig:peer-connected",
            Milestone::FirstRemoteFrame => "veilig:first-remote-frame",
        }
    }
}

/// Marks `milestone` now, unless this page has marked it already.
#[cfg(target_arch = "wasm32")]
pub fn mark(milestone: Milestone) {
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return;
    };
    let name = milestone.mark_name();
    if performance.get_entries_by_name(name).length() == 0 {
        let _ = performance.mark(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_milestone_has_its_own_mark_name_in_the_veilig_namespace() {
        let names: std::collections::HashSet<_> =
            Milestone::ALL.iter().map(|m| m.mark_name()).collect();
        assert_eq!(names.len(), Milestone::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("veilig:")));
    }
}
