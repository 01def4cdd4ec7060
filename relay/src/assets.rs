//! The app's files (Trunk's `dist/`), built into the binary so a self-hoster runs one file, or
//! read from a directory given with `--static-dir`.
//!
//! A release build of the relay embeds whatever `dist/` held when it was compiled (`cargo xtask`
//! builds the app first); a build without `dist/` embeds nothing and answers every app path with
//! a short page saying so.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../dist"]
#[allow_missing = true]
struct Embedded;

/// Shown when the relay was built without the app.
const NO_APP: &str = "<!doctype html><meta charset=utf-8><title>Veilig</title>\
<p>This relay was built without the app: run <code>cargo xtask serve</code>.</p>";

/// Where the app's files come from.
#[derive(Clone, Debug)]
pub enum Assets {
    /// Built into the binary.
    Embedded,
    /// A directory on disk.
    Directory(PathBuf),
}

impl Assets {
    /// The file at `path` (relative, `/`-separated), if there is one.
    pub fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            Assets::Embedded => Embedded::get(path).map(|file| file.data),
            Assets::Directory(root) => {
                let relative = Path::new(path);
                // Only plain names: no `..`, no absolute paths.
                if !relative
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
                {
                    return None;
                }
                std::fs::read(root.join(relative)).ok().map(Cow::Owned)
            }
        }
    }

    /// The app's entry page.
    pub fn index(&self) -> Cow<'static, [u8]> {
        self.get("index.html")
            .unwrap_or(Cow::Borrowed(NO_APP.as_bytes()))
    }
}
