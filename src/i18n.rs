//! Every word the UI shows, in Dutch and English: one struct, one constant per language, so a
//! string missing in either language does not compile.
//!
//! The language comes from the browser's preferences (`navigator.languages`: Dutch if Dutch
//! comes before English, else English) and can be switched in the UI.

/// A UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Nederlands.
    Nl,
    /// English.
    En,
}

impl Lang {
    /// The first of the browser's preferred languages that we speak, else English.
    pub fn from_preferences<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Lang {
        for tag in preferred {
            let primary = tag
                .split(['-', '_'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match primary.as_str() {
                "nl" => return Lang::Nl,
                "en" => return Lang::En,
                _ => {}
            }
        }
        Lang::En
    }

    /// The BCP 47 tag, for `lang` attributes.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The other language (the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }

    /// The strings.
    pub fn text(self) -> &'static Text {
        match self {
            Lang::Nl => &NL,
            Lang::En => &EN,
        }
    }
}

/// Every string of the UI.
#[derive(Debug)]
pub struct Text {
    /// The language's own name, on the switch.
    pub language_name: &'static str,
    /// Start page: tagline.
    pub tagline: &'static str,
    /// Start page: what is protected.
    pub promise: &'static str,
    /// Start page: button.
    pub new_meeting: &'static str,
    /// Start page: the new meeting also needs a passphrase.
    pub require_passphrase: &'static str,
    /// Start page: label of the link field.
    pub paste_link: &'static str,
    /// Start page: button next to it.
    pub open_link: &'static str,
    /// Start page: the pasted text is not a Veilig link.
    pub bad_link: &'static str,
    /// Lobby: heading.
    pub lobby_title: &'static str,
    /// Lobby: name field.
    pub your_name: &'static str,
    /// Lobby: remember-name checkbox.
    pub remember_name: &'static str,
    /// Lobby: passphrase field.
    pub passphrase: &'static str,
    /// Lobby: explains the passphrase.
    pub passphrase_hint: &'static str,
    /// Lobby and meeting: microphone toggle label.
    pub microphone: &'static str,
    /// Lobby and meeting: camera toggle label.
    pub camera: &'static str,
    /// Lobby: join button.
    pub join: &'static str,
    /// Lobby: while deriving keys.
    pub preparing: &'static str,
    /// Lobby: the E2EE badge.
    pub e2ee_badge: &'static str,
    /// Lobby: camera or microphone denied.
    pub media_denied: &'static str,
    /// Lobby: no camera or microphone found.
    pub media_missing: &'static str,
    /// Lobby: joining without devices.
    pub listen_only: &'static str,
    /// Lobby: speaker picker label.
    pub speaker: &'static str,
    /// Lobby: join pressed without the passphrase the link asks for.
    pub passphrase_missing: &'static str,
    /// Lobby, for whoever creates a passphrase meeting: the field to choose it.
    pub passphrase_choose: &'static str,
    /// Lobby: the field to type the chosen passphrase again.
    pub passphrase_repeat: &'static str,
    /// Lobby: what to do with a new meeting's passphrase.
    pub passphrase_new_hint: &'static str,
    /// Lobby: the chosen passphrase and its repetition differ.
    pub passphrase_mismatch: &'static str,
    /// Lobby: the relay refused the access value of this link and passphrase.
    pub passphrase_wrong: &'static str,
    /// Lobby: join button while the relay checks the passphrase.
    pub checking: &'static str,
    /// Meeting: talking while the microphone is muted.
    pub talking_muted: &'static str,
    /// Meeting: the button that opens the device pickers.
    pub devices: &'static str,
    /// Meeting: a device in use went away and the default one took over.
    pub device_lost: &'static str,
    /// Meeting: the browser refused the microphone or camera when turning it on.
    pub device_refused: &'static str,
    /// Meeting: the chat's new messages, for screen readers (followed by the count).
    pub unread: &'static str,
    /// Meeting: dismiss a notice.
    pub dismiss: &'static str,
    /// Meeting: status while connecting.
    pub connecting: &'static str,
    /// Meeting: status while reconnecting (followed by seconds).
    pub reconnecting: &'static str,
    /// Meeting: failed status.
    pub failed: &'static str,
    /// Meeting: retry button.
    pub retry: &'static str,
    /// Meeting: the relay refused our access value: another link or passphrase than the
    /// meeting's first participant used.
    pub access_denied: &'static str,
    /// Meeting: the room is full.
    pub room_full: &'static str,
    /// Meeting: leave button.
    pub leave: &'static str,
    /// Meeting: after leaving.
    pub left: &'static str,
    /// Meeting: rejoin button after leaving.
    pub rejoin: &'static str,
    /// Meeting: a participant without a name.
    pub anonymous: &'static str,
    /// Meeting: our own tile.
    pub you: &'static str,
    /// Meeting: muted indicator.
    pub muted: &'static str,
    /// Meeting: tile whose frames do not decrypt.
    pub cannot_decrypt: &'static str,
    /// Meeting: frames arrive for a participant that are refused as not theirs, or replayed.
    pub refusing_frames: &'static str,
    /// Meeting: waiting for the first frames of a participant.
    pub waiting_for_video: &'static str,
    /// Meeting: safety code label.
    pub safety_code: &'static str,
    /// Meeting: how to use the safety code.
    pub safety_code_hint: &'static str,
    /// The hint in a meeting whose keys move with it (MLS).
    pub safety_code_hint_group: &'static str,
    /// Shown instead of the code until we are in the meeting's group.
    pub safety_code_pending: &'static str,
    /// A tile whose frames come under keys of another state of the meeting's group.
    pub out_of_step: &'static str,
    /// Meeting: copy link button.
    pub copy_link: &'static str,
    /// Meeting: after copying.
    pub link_copied: &'static str,
    /// Meeting: who can join.
    pub link_warning: &'static str,
    /// Meeting: chat heading.
    pub chat: &'static str,
    /// Meeting: chat input placeholder.
    pub chat_placeholder: &'static str,
    /// Meeting: send button.
    pub send: &'static str,
    /// Meeting: participants heading.
    pub participants: &'static str,
    /// Meeting: nobody else here yet.
    pub alone: &'static str,
    /// Meeting: encryption failed to start.
    pub encryption_failed: &'static str,
    /// Meeting: the relay sent something it never should, and the call was stopped.
    pub server_misbehaved: &'static str,
    /// Meeting: a participant's camera is off.
    pub camera_off: &'static str,
    /// Meeting: pin a tile large.
    pub pin: &'static str,
    /// Meeting: unpin it.
    pub unpin: &'static str,
    /// Meeting: start sharing the screen.
    pub share_screen: &'static str,
    /// Meeting: stop sharing.
    pub stop_sharing: &'static str,
    /// Meeting: while sharing.
    pub sharing_notice: &'static str,
    /// Meeting: per-tile reception details.
    pub reception: &'static str,
    /// Meeting: frames per second.
    pub frames_per_second: &'static str,
    /// Meeting: packets lost.
    pub packets_lost: &'static str,
    /// Meeting: the way media takes to the server.
    pub route: &'static str,
    /// Meeting: the button that moves our own small tile to another corner.
    pub move_own: &'static str,
    /// Meeting: the side panel (safety code, link, people), a sheet on a phone.
    pub panel: &'static str,
    /// Meeting: close the sheet.
    pub close: &'static str,
    /// Meeting: the speaker view (one large tile beside a strip) instead of the grid.
    pub speaker_view: &'static str,
    /// Meeting: a notice, after the name: they joined.
    pub joined: &'static str,
    /// Meeting: a notice, after the name: they left.
    pub left_meeting: &'static str,
    /// Lobby: the invite link, for whoever just created the meeting.
    pub invite_hint: &'static str,
    /// Meeting: the page's heading (read by screen readers).
    pub meeting_heading: &'static str,
    /// Meeting: the question before leaving by the keyboard.
    pub leave_question: &'static str,
    /// Meeting: stay in the meeting (the safe answer).
    pub stay: &'static str,
    /// Meeting: the keyboard shortcuts' dialog.
    pub shortcuts: &'static str,
    /// Meeting: route not known yet.
    pub route_unknown: &'static str,
    /// Meeting: straight to the server.
    pub route_direct: &'static str,
    /// Meeting: through the TURN server.
    pub route_turn: &'static str,
}

/// Nederlands.
pub const NL: Text = Text {
    language_name: "Nederlands",
    tagline: "Veilig videobellen, end-to-end versleuteld.",
    promise: "Beeld, geluid, chat en namen worden in je eigen browser versleuteld. De server ziet alleen versleutelde gegevens; de sleutel zit in de link en gaat nooit naar de server. Geen account, niets te installeren.",
    new_meeting: "Nieuwe vergadering",
    require_passphrase: "Ook een wachtwoord vragen (deel het apart van de link)",
    paste_link: "Link naar de vergadering",
    open_link: "Openen",
    bad_link: "Dit is geen geldige Veilig-link. Een link ziet eruit als https://…/kamer#sleutel.",
    lobby_title: "Klaar om deel te nemen?",
    your_name: "Je naam",
    remember_name: "Naam onthouden in deze browser",
    passphrase: "Wachtwoord van de vergadering",
    passphrase_hint: "Deze vergadering vraagt ook een wachtwoord, dat je los van de link hebt gekregen.",
    microphone: "Microfoon",
    camera: "Camera",
    join: "Deelnemen",
    preparing: "Versleuteling voorbereiden…",
    e2ee_badge: "End-to-end versleuteld: beeld, geluid, chat en namen",
    media_denied: "Geen toegang tot camera of microfoon. Sta het toe via het slotje naast het adres en laad de pagina opnieuw.",
    media_missing: "Geen camera of microfoon gevonden.",
    listen_only: "Je kunt ook zonder camera en microfoon deelnemen.",
    speaker: "Luidspreker",
    passphrase_missing: "Vul het wachtwoord van de vergadering in.",
    passphrase_choose: "Kies het wachtwoord van de vergadering",
    passphrase_repeat: "Herhaal het wachtwoord",
    passphrase_new_hint: "Gasten hebben naast de link ook dit wachtwoord nodig. Geef het ze op een andere manier dan de link, bijvoorbeeld telefonisch.",
    passphrase_mismatch: "De twee wachtwoorden zijn niet gelijk.",
    passphrase_wrong: "Met dit wachtwoord kom je niet in deze vergadering. Typ het opnieuw.",
    checking: "Wachtwoord controleren…",
    talking_muted: "Je microfoon staat uit. Druk op m om te praten.",
    devices: "Apparaten",
    device_lost: "Een apparaat is losgekoppeld; nu wordt het standaardapparaat gebruikt.",
    device_refused: "De browser geeft geen toegang tot de microfoon of camera. Sta het toe via het slotje naast het adres.",
    unread: "nieuwe berichten",
    dismiss: "Sluiten",
    connecting: "Verbinden…",
    reconnecting: "Verbinding verbroken, opnieuw proberen over",
    failed: "De verbinding is mislukt.",
    retry: "Opnieuw proberen",
    access_denied: "Deze link of dit wachtwoord hoort niet bij deze vergadering. Controleer de link en het wachtwoord.",
    room_full: "Deze vergadering is vol.",
    leave: "Vergadering verlaten",
    left: "Je hebt de vergadering verlaten.",
    rejoin: "Opnieuw deelnemen",
    anonymous: "Gast",
    you: "jij",
    muted: "Microfoon uit",
    cannot_decrypt: "Niet te ontsleutelen: een andere link?",
    refusing_frames: "Beeld en geluid geweigerd: niet van deze deelnemer, of herhaald.",
    waiting_for_video: "Wachten op beeld…",
    safety_code: "Veiligheidscode",
    safety_code_hint: "Vergelijk deze code hardop: iedereen in dezelfde vergadering ziet dezelfde code.",
    safety_code_hint_group: "Vergelijk deze code hardop: iedereen in dezelfde vergadering ziet dezelfde code. Hij verandert als iemand binnenkomt of weggaat.",
    safety_code_pending: "Sleutels afspreken…",
    out_of_step: "Andere sleutels dan de uwe. Duurt dit, vergelijk dan de veiligheidscodes: de server kan de vergadering hebben gesplitst.",
    copy_link: "Uitnodigingslink kopiëren",
    link_copied: "Link gekopieerd",
    link_warning: "Iedereen met deze link kan deelnemen.",
    chat: "Chat",
    chat_placeholder: "Bericht…",
    send: "Versturen",
    participants: "Deelnemers",
    alone: "Je bent de enige hier. Deel de link om anderen uit te nodigen.",
    encryption_failed: "De versleuteling kon niet starten. Zonder versleuteling beginnen we geen gesprek.",
    server_misbehaved: "De server stuurde iets onverwachts. Voor je veiligheid is het gesprek gestopt.",
    camera_off: "Camera uit",
    pin: "Vastzetten",
    unpin: "Losmaken",
    share_screen: "Scherm delen",
    stop_sharing: "Stoppen met delen",
    sharing_notice: "Je deelt je scherm met iedereen in deze vergadering.",
    reception: "Ontvangst",
    frames_per_second: "Beelden per seconde",
    packets_lost: "Pakketten verloren",
    route: "Verbinding",
    move_own: "Eigen beeld verplaatsen",
    panel: "Details en deelnemers",
    close: "Sluiten",
    speaker_view: "Sprekerweergave",
    joined: "neemt deel",
    left_meeting: "is vertrokken",
    invite_hint: "Stuur deze link naar wie je uitnodigt.",
    meeting_heading: "Vergadering",
    leave_question: "De vergadering verlaten?",
    stay: "Blijven",
    shortcuts: "Sneltoetsen",
    route_unknown: "Nog onbekend",
    route_direct: "Rechtstreeks met de server",
    route_turn: "Via een TURN-server",
};

/// English.
pub const EN: Text = Text {
    language_name: "English",
    tagline: "Safe video meetings, end-to-end encrypted.",
    promise: "Video, audio, chat and names are encrypted in your browser. The server only sees ciphertext; the key is in the link and never reaches the server. No account, nothing to install.",
    new_meeting: "New meeting",
    require_passphrase: "Also require a passphrase (share it apart from the link)",
    paste_link: "Link or meeting code",
    open_link: "Open",
    bad_link: "This is not a valid Veilig link. A link looks like https://…/room#key.",
    lobby_title: "Ready to join?",
    your_name: "Your name",
    remember_name: "Remember my name in this browser",
    passphrase: "Meeting passphrase",
    passphrase_hint: "This meeting also needs a passphrase, which you received separately from the link.",
    microphone: "Microphone",
    camera: "Camera",
    join: "Join",
    preparing: "Deriving keys…",
    e2ee_badge: "End-to-end encrypted: video, audio, chat and names",
    media_denied: "No access to camera or microphone. Allow it with the lock icon next to the address and reload the page.",
    media_missing: "No camera or microphone found.",
    listen_only: "You can also join without camera and microphone.",
    speaker: "Speaker",
    passphrase_missing: "Enter the meeting's passphrase.",
    passphrase_choose: "Choose the meeting's passphrase",
    passphrase_repeat: "Repeat the passphrase",
    passphrase_new_hint: "Guests need this passphrase as well as the link. Tell it to them another way than the link, by phone for example.",
    passphrase_mismatch: "The two passphrases are not the same.",
    passphrase_wrong: "This passphrase does not open this meeting. Type it again.",
    checking: "Checking the passphrase…",
    talking_muted: "You are muted. Press m to talk.",
    devices: "Devices",
    device_lost: "A device was disconnected; the default one is used now.",
    device_refused: "The browser gives no access to the microphone or camera. Allow it with the lock icon next to the address.",
    unread: "new messages",
    dismiss: "Dismiss",
    connecting: "Connecting…",
    reconnecting: "Connection lost, trying again in",
    failed: "The connection failed.",
    retry: "Try again",
    access_denied: "This link or passphrase does not belong to this meeting. Check the link and the passphrase.",
    room_full: "This meeting is full.",
    leave: "Leave meeting",
    left: "You left the meeting.",
    rejoin: "Join again",
    anonymous: "Anonymous",
    you: "You",
    muted: "Microphone off",
    cannot_decrypt: "Cannot decrypt: a different link?",
    refusing_frames: "Picture and sound refused: not this participant's, or replayed.",
    waiting_for_video: "Waiting for video…",
    safety_code: "Safety code",
    safety_code_hint: "Compare this code aloud: everyone with the same key sees the same code.",
    safety_code_hint_group: "Compare this code aloud: everyone in the same meeting sees the same code. It changes when someone joins or leaves.",
    safety_code_pending: "Agreeing on keys…",
    out_of_step: "Keys other than yours. If this lasts, compare safety codes: the server may have split the meeting.",
    copy_link: "Copy invite link",
    link_copied: "Link copied",
    link_warning: "Anyone with this link can join.",
    chat: "Chat",
    chat_placeholder: "Message…",
    send: "Send",
    participants: "Participants",
    alone: "You are the only one here. Share the link to invite others.",
    encryption_failed: "Encryption could not start. Without encryption we do not start a call.",
    server_misbehaved: "The server sent something unexpected. For your safety the call was stopped.",
    camera_off: "Camera off",
    pin: "Pin",
    unpin: "Unpin",
    share_screen: "Share screen",
    stop_sharing: "Stop sharing",
    sharing_notice: "You are sharing your screen with everyone in this meeting.",
    reception: "Reception",
    frames_per_second: "Frames per second",
    packets_lost: "Packets lost",
    route: "Connection",
    move_own: "Move your own view",
    panel: "Details and people",
    close: "Close",
    speaker_view: "Speaker view",
    joined: "joined",
    left_meeting: "left",
    invite_hint: "Send this link to whoever you invite.",
    meeting_heading: "Meeting",
    leave_question: "Leave the meeting?",
    stay: "Stay",
    shortcuts: "Keyboard shortcuts",
    route_unknown: "Not known yet",
    route_direct: "Straight to the server",
    route_turn: "Through a TURN server",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_preference_picks_the_language() {
        assert_eq!(Lang::from_preferences(["nl-NL", "en"]), Lang::Nl);
        assert_eq!(Lang::from_preferences(["de", "en-GB", "nl"]), Lang::En);
        assert_eq!(Lang::from_preferences(["fr"]), Lang::En);
        assert_eq!(Lang::from_preferences(["NL_be"]), Lang::Nl);
    }

    #[test]
    fn both_languages_say_something_everywhere() {
        let nl = format!("{NL:?}");
        let en = format!("{EN:?}");
        assert!(!nl.contains(": \"\"") && !en.contains(": \"\""));
        assert_ne!(NL.join, EN.join);
    }
}
