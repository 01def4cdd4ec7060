//! The embedding API's messages, as they cross `postMessage` between the host page and the
//! meeting in its iframe: JSON objects `{"veilig": 1, "type": "...", ...}`.
//!
//! Pure: this module parses and writes JSON text and nothing else. It never sees the origin or
//! the source window of a message (the browser glue in `embed::bridge` checks those before a
//! message gets here), and it holds no secret, name, chat or media: no [`Event`] has a field
//! that could carry any. Anything that is not exactly a known command of this version is a
//! [`MessageError`], which the glue logs and drops.
//!
//! ```text
//!  host page ── {"veilig":1,"type":"setMicrophone","on":false} ──► parse_command ─► Command
//!  host page ◄── {"veilig":1,"type":"muteChanged",...} ─── Event::to_json ◄── the meeting
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use veilig_protocol::ParticipantId;

use crate::call::metadata::MAX_NAME_CHARS;

/// The version in every message. A host speaking another version is refused, never guessed at.
pub const VERSION: u64 = 1;

/// What the host page may ask of the meeting.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Command {
    /// Turn the microphone on or off (mute).
    SetMicrophone {
        /// On.
        on: bool,
    },
    /// Turn the camera on or off.
    SetCamera {
        /// On.
        on: bool,
    },
    /// Share a screen (the browser asks the user which).
    StartScreenShare,
    /// Stop sharing.
    StopScreenShare,
    /// Leave the meeting.
    Leave,
    /// Change our display name (trimmed, at most 64 characters).
    SetDisplayName {
        /// The new name.
        name: String,
    },
}

/// The command types of this version, to tell an unknown type from a malformed known one.
const COMMANDS: [&str; 6] = [
    "setMicrophone",
    "setCamera",
    "startScreenShare",
    "stopScreenShare",
    "leave",
    "setDisplayName",
];

/// The command types that carry nothing but their type.
const WITHOUT_FIELDS: [&str; 3] = ["startScreenShare", "stopScreenShare", "leave"];

/// What the meeting tells the host page. Participants appear as the relay's opaque ids only:
/// their names are decrypted content and stay in the meeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// The meeting listens for commands (sent once, as soon as it loads).
    Ready,
    /// We are in the room.
    Joined,
    /// We left the room (by the leave button, a shortcut, or the `leave` command).
    Left,
    /// Someone joined.
    ParticipantJoined {
        /// Their id in this room.
        participant: ParticipantId,
    },
    /// Someone left.
    ParticipantLeft {
        /// Their id in this room.
        participant: ParticipantId,
    },
    /// Our own microphone or camera went on or off; `true` means on (sending).
    MuteChanged {
        /// Microphone on.
        microphone: bool,
        /// Camera on.
        camera: bool,
    },
    /// A participant's media stopped decrypting (a different key).
    DecryptionFailure {
        /// Their id in this room.
        participant: ParticipantId,
    },
    /// Something went wrong.
    Error {
        /// What.
        code: ErrorCode,
    },
}

/// What went wrong, in an [`Event::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The room is full.
    RoomFull,
    /// The relay runs another version of Veilig: reload.
    Version,
    /// Encryption could not start.
    Encryption,
    /// The relay refused us.
    Refused,
    /// The relay sent something it never should; the call was stopped for safety.
    ServerMisbehaved,
    /// The browser or the user refused the microphone or camera.
    DeviceRefused,
    /// No screen is shared (refused, cancelled, or not allowed in this frame).
    ScreenShareRefused,
    /// The command needs a meeting, and we are in the lobby or have left.
    NotInMeeting,
}

impl Event {
    /// The message, with its version: `{"veilig":1,"type":...}`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Envelope<'a> {
            veilig: u64,
            #[serde(flatten)]
            event: &'a Event,
        }
        serde_json::to_string(&Envelope {
            veilig: VERSION,
            event: self,
        })
        .expect("events are plain data")
    }
}

/// Why a message is not a command. The text is for the console, never shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not a JSON object with a `veilig` field: not meant for us.
    #[error("not a Veilig message")]
    NotVeilig,
    /// Another version of the API.
    #[error("Veilig API version {0} is not supported (this meeting speaks {VERSION})")]
    Version(u64),
    /// A type this version does not know.
    #[error("unknown command type {0:?}")]
    UnknownType(String),
    /// A known type with missing, extra or wrongly typed fields.
    #[error("malformed command: {0}")]
    Malformed(String),
}

/// Reads a command from the JSON text of a message's data.
pub fn parse_command(json: &str) -> Result<Command, MessageError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| MessageError::Malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(MessageError::NotVeilig);
    };
    match fields.remove("veilig") {
        None => return Err(MessageError::NotVeilig),
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(Value::Number(n)) => {
            return Err(n
                .as_u64()
                .map_or(MessageError::Malformed("bad version".into()), |v| {
                    MessageError::Version(v)
                }))
        }
        Some(_) => return Err(MessageError::Malformed("bad version".into())),
    }
    let kind = match fields.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(MessageError::Malformed("no type".into())),
    };
    if !COMMANDS.contains(&kind.as_str()) {
        return Err(MessageError::UnknownType(kind));
    }
    // serde's `deny_unknown_fields` does not reach variants without fields.
    if WITHOUT_FIELDS.contains(&kind.as_str()) && fields.len() > 1 {
        return Err(MessageError::Malformed(format!("{kind} takes no fields")));
    }
    let command = serde_json::from_value(Value::Object(fields))
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    Ok(match command {
        Command::SetDisplayName { name } => Command::SetDisplayName {
            name: name.trim().chars().take(MAX_NAME_CHARS).collect(),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command in its wire form (data: `tests/data/embed-commands.json`).
    #[test]
    fn commands_parse() {
        let cases: Vec<(Value, Value)> =
            serde_json::from_str(include_str!("../../tests/data/embed-commands.json")).unwrap();
        for (wire, expected) in cases {
            let parsed = parse_command(&wire.to_string()).unwrap();
            let expected = match expected["command"].as_str().unwrap() {
                "setMicrophone" => Command::SetMicrophone {
                    on: expected["on"].as_bool().unwrap(),
                },
                "setCamera" => Command::SetCamera {
                    on: expected["on"].as_bool().unwrap(),
                },
                "startScreenShare" => Command::StartScreenShare,
                "stopScreenShare" => Command::StopScreenShare,
                "leave" => Command::Leave,
                "setDisplayName" => Command::SetDisplayName {
                    name: expected["name"].as_str().unwrap().into(),
                },
                other => panic!("no such command in the test data: {other}"),
            };
            assert_eq!(parsed, expected, "{wire}");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_cut() {
        let long = format!(
            r#"{{"veilig":1,"type":"setDisplayName","name":" {} "}}"#,
            "é".repeat(80)
        );
        let Ok(Command::SetDisplayName { name }) = parse_command(&long) else {
            panic!("not parsed");
        };
        assert_eq!(name, "é".repeat(MAX_NAME_CHARS));
    }

    /// Everything that is not exactly a known command of this version (data:
    /// `tests/data/embed-rejected.json`, each with the error it must give).
    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let cases: Vec<(String, String)> =
            serde_json::from_str(include_str!("../../tests/data/embed-rejected.json")).unwrap();
        for (wire, reason) in cases {
            let error = parse_command(&wire).unwrap_err();
            let kind = match error {
                MessageError::NotVeilig => "notVeilig",
                MessageError::Version(_) => "version",
                MessageError::UnknownType(_) => "unknownType",
                MessageError::Malformed(_) => "malformed",
            };
            assert_eq!(kind, reason, "{wire}: {error}");
        }
    }

    #[test]
    fn events_carry_the_version_and_only_ids() {
        let who: ParticipantId = serde_json::from_str(r#""p7""#).unwrap();
        for (event, json) in [
            (Event::Ready, r#"{"veilig":1,"type":"ready"}"#),
            (Event::Joined, r#"{"veilig":1,"type":"joined"}"#),
            (Event::Left, r#"{"veilig":1,"type":"left"}"#),
            (
                Event::ParticipantJoined {
                    participant: who.clone(),
                },
                r#"{"veilig":1,"type":"participantJoined","participant":"p7"}"#,
            ),
            (
                Event::ParticipantLeft {
                    participant: who.clone(),
                },
                r#"{"veilig":1,"type":"participantLeft","participant":"p7"}"#,
            ),
            (
                Event::MuteChanged {
                    microphone: false,
                    camera: true,
                },
                r#"{"veilig":1,"type":"muteChanged","microphone":false,"camera":true}"#,
            ),
            (
                Event::DecryptionFailure { participant: who },
                r#"{"veilig":1,"type":"decryptionFailure","participant":"p7"}"#,
            ),
            (
                Event::Error {
                    code: ErrorCode::ScreenShareRefused,
                },
                r#"{"veilig":1,"type":"error","code":"screenShareRefused"}"#,
            ),
        ] {
            assert_eq!(event.to_json(), json);
        }
    }
}
