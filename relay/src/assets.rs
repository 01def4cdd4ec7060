//! The app's files (Trunk's `dist/`), built into the binary so a self-hoster runs one file, or
//! read from a directory given with `--static-dir`.
//!
//! A release build of the relay embeds whatever `dist/` held when it was compiled (`cargo xtask`
//! builds the app first); a build without `dist/` embeds nothing and answers every app path with
//! a short page saying so.
//!
//! [`Assets::manifest`] is the SHA-256 of every file served, the lines `cargo xtask hashes`
//! prints for a build (`<hex>  <path>`, sorted by path), served at
//! `/.well-known/veilig-dist.txt` so that anyone can compare what this relay serves with a
//! build of their own.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

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

    /// Every file served, relative and `/`-separated, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = match self {
            Assets::Embedded => Embedded::iter().map(Cow::into_owned).collect(),
            Assets::Directory(root) => {
                let mut found = Vec::new();
                walk(root, "", &mut found);
                found
            }
        };
        files.sort();
        files
    }

    /// `<sha256 hex>  <path>` for every file, read now, as `sha256sum` and `cargo xtask hashes`
    /// print them. A file that cannot be read (removed meanwhile) is left out, as it is not
    /// served either.
    pub fn manifest(&self) -> String {
        self.files()
            .into_iter()
            .filter_map(|path| {
                let digest = Sha256::digest(self.get(&path)?);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Some(format!("{hex}  {path}\n"))
            })
            .collect()
    }

    /// The app's entry page.
    pub fn index(&self) -> Cow<'static, [u8]> {
        self.get("index.html")
            .unwrap_or(Cow::Borrowed(NO_APP.as_bytes()))
    }
}

/// The files under `dir` (named `prefix...`), in directories too; only names that
/// [`Assets::get`] would serve.
fn walk(dir: &Path, prefix: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let path = entry.path();
        if path.is_dir() {
            walk(&path, &format!("{prefix}{name}/"), found);
        } else if path.is_file() {
            found.push(format!("{prefix}{name}"));
        }
    }
}
