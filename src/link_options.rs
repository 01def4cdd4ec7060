//! The options a meeting link may carry in its fragment, after the secret:
//! `/<room>#<secret>&name=Anna&mic=off&embed=https%3A%2F%2Fportal.example`.
//!
//! Why here and pure: the fragment never reaches a server, so it is where a link can say how
//! the meeting should start and how it is embedded, and every screen (root, lobby, meeting)
//! reads the same parsed [`LinkOptions`]. This module only parses text: it reads no
//! `location`, touches no DOM, and compiles and is tested natively. Unknown options and
//! unknown values are ignored, so an old app opens a newer link.
//!
//! | option | effect |
//! |--------|--------|
//! | `name=…` | display name (percent-encoded UTF-8), trimmed, at most 64 characters |
//! | `mic=off`, `camera=off` | start with the microphone or camera off |
//! | `lobby=skip` | join as soon as the devices answer (never past a passphrase; with camera or microphone on only in a verified embed) |
//! | `lang=nl` / `lang=en` | the language, instead of the browser's preference |
//! | `chat=off` | no chat (neither the panel nor its button) |
//! | `toolbar=compact` | a compact toolbar for small embedded frames |
//! | `embed=<origin>` | the page that embeds the meeting may drive it by `postMessage` (see `embed`) |
//!
//! `pw=1` is the key schedule's (`veilig_e2ee::InviteLink`); `transform=` and `engine=` are read
//! by the encryption set-up.

use crate::call::metadata::MAX_NAME_CHARS;
use crate::i18n::Lang;

/// How much room the meeting's controls take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Toolbar {
    /// Every control with its label, and the side panel.
    #[default]
    Full,
    /// Small controls, the side panel folded away: for small embedded frames.
    Compact,
}

/// What a link's fragment asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// Display name.
    pub name: Option<String>,
    /// Start with the microphone off.
    pub mic_off: bool,
    /// Start with the camera off.
    pub camera_off: bool,
    /// Join without stopping in the lobby.
    pub skip_lobby: bool,
    /// The UI language, if the link sets one.
    pub lang: Option<Lang>,
    /// Whether the chat is shown.
    pub chat: bool,
    /// The toolbar's size.
    pub toolbar: Toolbar,
    /// The embedding page's origin, the only one whose messages the meeting obeys and to which
    /// it reports; `None` (the default) means no embedding API at all.
    pub embed: Option<Origin>,
}

impl LinkOptions {
    /// The options in `pairs` (key and undecoded value, as `InviteLink::options` gives them).
    pub fn parse<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> LinkOptions {
        let mut options = LinkOptions {
            chat: true,
            ..LinkOptions::default()
        };
        for (key, value) in pairs {
            match (key.as_ref(), value.as_ref()) {
                ("name", name) => {
                    options.name = percent_decode(name)
                        .map(|n| n.trim().chars().take(MAX_NAME_CHARS).collect())
                }
                ("mic", "off") => options.mic_off = true,
                ("camera", "off") => options.camera_off = true,
                ("lobby", "skip") => options.skip_lobby = true,
                ("lang", "nl") => options.lang = Some(Lang::Nl),
                ("lang", "en") => options.lang = Some(Lang::En),
                ("chat", "off") => options.chat = false,
                ("toolbar", "compact") => options.toolbar = Toolbar::Compact,
                ("embed", origin) => {
                    options.embed = percent_decode(origin).and_then(|o| Origin::parse(&o).ok())
                }
                _ => {}
            }
        }
        options
    }
}

/// A web origin as browsers serialise it in `MessageEvent.origin` and `location.origin`:
/// `http` or `https`, a lowercase host, and a port only if it is not the scheme's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

/// Why text is not an origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not `http://` or `https://` (this includes `*` and `null`, which must never be trusted).
    #[error("an origin starts with http:// or https://")]
    Scheme,
    /// A path, query, fragment or user name after the host, or an empty host.
    #[error("an origin is a scheme, a host and maybe a port, nothing else")]
    Shape,
    /// The port is not a number from 1 to 65535.
    #[error("the origin's port is not valid")]
    Port,
}

impl Origin {
    /// Parses and normalises `text` (`HTTPS://Portal.Example:443` → `https://portal.example`).
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        let (scheme, rest) = text.split_once("://").ok_or(OriginError::Scheme)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(OriginError::Scheme),
        };
        // A single trailing slash is what people paste; anything more is a path.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let host_and_port_chars = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
        if rest.is_empty() || !rest.chars().all(host_and_port_chars) {
            return Err(OriginError::Shape);
        }
        // IPv6 hosts are bracketed, so the port is after the last `:` that follows any `]`.
        let port_at = rest
            .rfind(':')
            .filter(|&colon| rest.rfind(']').is_none_or(|bracket| colon > bracket));
        let (host, port) = match port_at {
            Some(colon) => {
                let port: u16 = rest[colon + 1..].parse().map_err(|_| OriginError::Port)?;
                if port == 0 {
                    return Err(OriginError::Port);
                }
                (&rest[..colon], Some(port))
            }
            None => (rest, None),
        };
        if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
            return Err(OriginError::Shape);
        }
        let host = host.to_ascii_lowercase();
        Ok(Origin(match port {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    /// As browsers write it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Decodes `%XX` escapes (UTF-8) and nothing else; `None` if an escape or the UTF-8 is broken.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let hex = after.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &after[2..];
        } else {
            bytes.push(byte);
            rest = after;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(fragment: &str) -> LinkOptions {
        let pairs: Vec<(&str, &str)> = fragment
            .split('&')
            .map(|part| part.split_once('=').unwrap_or((part, "")))
            .collect();
        LinkOptions::parse(&pairs)
    }

    #[test]
    fn no_options_mean_the_full_meeting_without_embedding() {
        let none = LinkOptions::parse::<&str, &str>(&[]);
        assert!(none.chat);
        assert_eq!(none.toolbar, Toolbar::Full);
        assert_eq!(none.embed, None);
        assert_eq!(none.lang, None);
        assert!(!none.mic_off && !none.camera_off && !none.skip_lobby);
    }

    #[test]
    fn every_option_is_read() {
        let all = options(
            "name=Anna%20de%20Vries&mic=off&camera=off&lobby=skip&lang=nl&chat=off\
             &toolbar=compact&embed=https%3A%2F%2Fportal.example",
        );
        assert_eq!(
            all,
            LinkOptions {
                name: Some("Anna de Vries".into()),
                mic_off: true,
                camera_off: true,
                skip_lobby: true,
                lang: Some(Lang::Nl),
                chat: false,
                toolbar: Toolbar::Compact,
                embed: Some(Origin("https://portal.example".into())),
            }
        );
        assert_eq!(options("lang=en").lang, Some(Lang::En));
    }

    #[test]
    fn unknown_options_and_values_are_ignored() {
        let odd = options("lang=fr&chat=maybe&toolbar=huge&mic=on&colour=red&embed=*");
        assert_eq!(
            odd,
            LinkOptions {
                chat: true,
                ..LinkOptions::default()
            }
        );
    }

    #[test]
    fn names_are_decoded_trimmed_and_cut() {
        assert_eq!(options("name=%C3%89l%C3%A9%20").name.unwrap(), "Élé");
        assert_eq!(options("name=x%2").name, None);
        assert_eq!(options("name=%FF").name, None);
        let long = format!("name={}", "a".repeat(100));
        assert_eq!(options(&long).name.unwrap().chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn origins_are_normalised_as_browsers_write_them() {
        for (text, origin) in [
            ("https://portal.example", "https://portal.example"),
            ("HTTPS://Portal.Example:443/", "https://portal.example"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://localhost:80", "http://localhost"),
            ("https://[::1]:8443", "https://[::1]:8443"),
            ("https://[::1]", "https://[::1]"),
        ] {
            assert_eq!(Origin::parse(text).unwrap().as_str(), origin, "{text}");
        }
        assert_eq!(
            options("embed=http://127.0.0.2:9000")
                .embed
                .unwrap()
                .as_str(),
            "http://127.0.0.2:9000"
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for (text, error) in [
            ("*", OriginError::Scheme),
            ("null", OriginError::Scheme),
            ("javascript://x", OriginError::Scheme),
            ("file:///etc", OriginError::Scheme),
            ("https://", OriginError::Shape),
            ("https://portal.example/path", OriginError::Shape),
            ("https://user@portal.example", OriginError::Shape),
            ("https://portal.example?x", OriginError::Shape),
            ("https://portal.example#x", OriginError::Shape),
            ("https://portal.example:0", OriginError::Port),
            ("https://portal.example:99999", OriginError::Port),
            ("https://portal.example:", OriginError::Port),
            ("https://::1", OriginError::Shape),
        ] {
            assert_eq!(Origin::parse(text), Err(error), "{text}");
        }
    }
}
