//! How much camera video to send, by how many are in the meeting.
//!
//! The relay forwards every camera to everyone else and has no simulcast layers to pick from,
//! so each receiver downloads what each sender sends, and the tiles shrink as the grid grows.
//! A 720p camera makes sense for two people; in a grid of nine it costs every receiver's
//! bandwidth and CPU for detail its small tile cannot show. So the sender scales its camera
//! down and caps its bitrate as the meeting grows (as Jitsi Meet and Whereby do with their
//! layers). Screen shares are not scaled: text must stay legible.

/// What the camera sender is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoBudget {
    /// `scaleResolutionDownBy`: 1 sends the camera's own size, 2 half width and height.
    pub scale_down: f64,
    /// `maxBitrate`, bits per second.
    pub max_bitrate: u32,
}

/// The budget for a meeting of `people`, ourselves included. Tiles per row follow the grid
/// (`.grid.nN` in the stylesheet): 1–2 people get large tiles, 3–4 a 2×2 grid, then 3×3 and
/// larger.
pub fn for_meeting_of(people: usize) -> VideoBudget {
    let (scale_down, max_bitrate) = match people {
        0..=2 => (1.0, 2_500_000),
        3..=4 => (2.0, 800_000),
        5..=9 => (3.0, 400_000),
        _ => (4.0, 250_000),
    };
    VideoBudget {
        scale_down,
        max_bitrate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_people_send_full_size_and_larger_meetings_less() {
        assert_eq!(for_meeting_of(1).scale_down, 1.0);
        assert_eq!(for_meeting_of(2).scale_down, 1.0);
        assert_eq!(for_meeting_of(3).scale_down, 2.0);
        // 720p scaled by 2 is 640x360: what a quarter of a 1280x720 window shows.
        assert_eq!(1280.0 / for_meeting_of(4).scale_down, 640.0);
        assert_eq!(for_meeting_of(25).scale_down, 4.0);
    }

    #[test]
    fn what_each_receiver_downloads_stays_bounded_as_the_meeting_grows() {
        // Each receiver gets everyone else's camera: (n - 1) streams at the cap.
        let download = |n: usize| (n as u64 - 1) * u64::from(for_meeting_of(n).max_bitrate);
        assert!(download(2) <= 2_500_000);
        assert!(download(4) <= 2_500_000);
        assert!(download(9) <= 3_500_000);
        assert!(download(25) <= 6_000_000, "{}", download(25));
        // And never grows per stream as people join.
        for n in 2..25 {
            assert!(for_meeting_of(n + 1).max_bitrate <= for_meeting_of(n).max_bitrate);
            assert!(for_meeting_of(n + 1).scale_down >= for_meeting_of(n).scale_down);
        }
    }
}
