//! Time-limited TURN credentials for each joining browser, by the TURN REST API convention
//! (draft-uberti-behave-turn-rest-00), which coturn checks with `use-auth-secret` and
//! `static-auth-secret`: the relay and the TURN server share one secret and never talk.
//!
//! ```text
//!  username   = <expiry: Unix seconds> ":" <16 random hex digits>
//!  credential = base64(HMAC-SHA1(secret, username))
//! ```
//! The TURN server recomputes the credential from the username and refuses it once the expiry
//! has passed. The random part is new on every join and names no room or participant, so the
//! TURN server's logs cannot link a relay session to a person or a meeting.
//!
//! What it does not do: no IO of its own beyond reading the secret file once at start;
//! [`TurnIssuer::issue_at`] is pure (clock and randomness come in as arguments), and
//! [`TurnIssuer::issue`] adds the two. The secret never appears in `Debug` output or logs, and
//! is zeroized when dropped.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use veilig_protocol::IceServer;
use zeroize::Zeroizing;

/// Why the TURN settings are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
    /// URIs without a secret, or a secret without URIs.
    #[error("--turn-uri needs --turn-secret or --turn-secret-file, and they need --turn-uri")]
    Incomplete,
    /// Both `--turn-secret` and `--turn-secret-file`.
    #[error("give --turn-secret or --turn-secret-file, not both")]
    TwoSecrets,
    /// The secret is empty.
    #[error("the TURN secret is empty")]
    EmptySecret,
    /// A URI that is not `turn:` or `turns:`.
    #[error("TURN URIs start with turn: or turns: ({0})")]
    BadUri(String),
    /// The secret file could not be read.
    #[error("cannot read the TURN secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The shared secret, as given by `--turn-secret`. Redacted in `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(Zeroizing<String>);

impl TurnSecret {
    /// Reads the secret from `path`, without a trailing newline (as `echo` or an editor leave).
    pub fn read(path: &Path) -> Result<TurnSecret, TurnError> {
        let text = std::fs::read_to_string(path).map_err(|source| TurnError::SecretFile {
            path: path.to_owned(),
            source,
        })?;
        let text = Zeroizing::new(text);
        Ok(TurnSecret(Zeroizing::new(
            text.trim_end_matches(['\r', '\n']).to_owned(),
        )))
    }
}

impl FromStr for TurnSecret {
    type Err = std::convert::Infallible;

    fn from_str(secret: &str) -> Result<Self, Self::Err> {
        Ok(TurnSecret(Zeroizing::new(secret.to_owned())))
    }
}

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

/// Mints credentials for the configured TURN servers.
pub struct TurnIssuer {
    urls: Vec<String>,
    key: hmac::Key,
    ttl: Duration,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out.
        write!(f, "TurnIssuer({:?}, ttl {:?})", self.urls, self.ttl)
    }
}

impl TurnIssuer {
    /// An issuer for `urls` with `secret`, whose credentials last `ttl`.
    pub fn new(urls: Vec<String>, secret: &TurnSecret, ttl: Duration) -> Result<Self, TurnError> {
        if let Some(bad) = urls
            .iter()
            .find(|uri| !(uri.starts_with("turn:") || uri.starts_with("turns:")))
        {
            return Err(TurnError::BadUri(bad.clone()));
        }
        if secret.0.is_empty() {
            return Err(TurnError::EmptySecret);
        }
        // SHA-1 because the convention (and coturn) says so; as an HMAC it is still sound.
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.0.as_bytes());
        Ok(TurnIssuer { urls, key, ttl })
    }

    /// Credentials valid from now for the configured time.
    pub fn issue(&self) -> IceServer {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the OS random number generator works");
        self.issue_at(SystemTime::now(), id)
    }

    /// Credentials valid from `now` for the configured time, with `id` as the random part.
    pub fn issue_at(&self, now: SystemTime, id: [u8; 8]) -> IceServer {
        let expiry = (now + self.ttl)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let username = format!("{expiry}:{id}");
        IceServer {
            urls: self.urls.clone(),
            credential: self.credential(&username),
            username,
        }
    }

    /// base64(HMAC-SHA1(secret, username)).
    pub fn credential(&self, username: &str) -> String {
        let tag = hmac::sign(&self.key, username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors made with OpenSSL, as coturn computes it:
    /// `printf %s "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64`.
    const VECTORS: &str = include_str!("../tests/data/turn-rest-credentials.txt");

    fn issuer(secret: &str) -> TurnIssuer {
        let urls = vec!["turn:turn.example.org:3478".to_owned()];
        TurnIssuer::new(urls, &secret.parse().unwrap(), Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn credentials_match_openssl_vectors() {
        let mut count = 0;
        for line in VECTORS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let fields: Vec<&str> = line.split('\t').collect();
            let [secret, username, credential] = fields[..] else {
                panic!("a vector is secret<TAB>username<TAB>credential: {line}");
            };
            assert_eq!(issuer(secret).credential(username), credential, "{line}");
            count += 1;
        }
        assert!(count >= 3);
    }

    #[test]
    fn the_username_is_expiry_and_random_id_only() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let server =
            issuer("s3cret").issue_at(now, [0x9f, 0x2c, 0x41, 0xd0, 0x7a, 0x3b, 0x5e, 0x18]);
        assert_eq!(server.username, "1700003600:9f2c41d07a3b5e18");
        assert_eq!(server.urls, ["turn:turn.example.org:3478"]);
        assert_eq!(
            server.credential,
            issuer("s3cret").credential(&server.username)
        );
        let again = issuer("s3cret").issue();
        let other = issuer("s3cret").issue();
        assert_ne!(again.username, other.username);
    }

    #[test]
    fn bad_settings_are_refused_and_the_secret_is_never_printed() {
        let secret: TurnSecret = "hunter2".parse().unwrap();
        let ttl = Duration::from_secs(60);
        let bad = TurnIssuer::new(vec!["stun:x".into()], &secret, ttl).unwrap_err();
        assert!(matches!(bad, TurnError::BadUri(_)));
        let empty = TurnIssuer::new(vec!["turn:x".into()], &"".parse().unwrap(), ttl);
        assert!(matches!(empty, Err(TurnError::EmptySecret)));
        let issuer = TurnIssuer::new(vec!["turns:x:443".into()], &secret, ttl).unwrap();
        for debug in [format!("{secret:?}"), format!("{issuer:?}")] {
            assert!(!debug.contains("hunter2"), "{debug}");
        }
    }
}
