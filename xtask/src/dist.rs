//! What a build of the app is, by hash: the manifest of `dist/` that anyone can compare with
//! what a server serves, and the integrity values the page uses to refuse other bytes.
//!
//! - [`manifest`]: the SHA-256 of every file, as `sha256sum` prints it (`<hex>  <path>`,
//!   sorted by path). `cargo xtask hashes` prints it; the relay serves the same lines at
//!   `/.well-known/veilig-dist.txt`, computed from the files it serves.
//! - [`stamp`] (`cargo xtask integrity`, run by Trunk as a post-build hook, see Trunk.toml):
//!   writes into the staged `index.html` an import map whose `integrity` section holds the
//!   SHA-256 of every `.js` and `.wasm` file of the build, and an `integrity` attribute on
//!   its stylesheet. The browser then refuses other bytes for:
//!   - the app's wasm-bindgen glue (`veilig-<hash>.js`): the import map's integrity applies
//!     to the loader's `import`;
//!   - the app's wasm: the loader (Trunk.toml's `pattern_script`) fetches it with that value;
//!   - the stylesheet: its `integrity` attribute;
//!   - the frame-crypto worker: the page fetches `static/frame-crypto-worker.js` with its
//!     value and starts the worker from those checked bytes; the worker fetches its glue
//!     (`veilig-worker.js`) and wasm the same way (`src/encryption/mod.rs`).
//!
//!   `index.html` itself cannot be covered from inside: it is what says which bytes to accept.
//!   Comparing the manifest is how a user or a watchdog checks it.
//!
//! Does not: change any file but the staged `index.html`, or touch `dist/` of a finished build.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::exec::io_error;
use crate::sha256;

/// Every file under `dir` with its SHA-256, sorted by path (`/`-separated, relative).
pub fn manifest(dir: &Path) -> Result<Vec<(String, [u8; 32])>, Error> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|relative| {
            let path = dir.join(&relative);
            let bytes = fs::read(&path).map_err(|e| io_error(&path, e))?;
            Ok((relative, sha256::digest(&bytes)))
        })
        .collect()
}

/// The manifest as `sha256sum` prints it: `<hex>  <path>` lines.
pub fn manifest_text(dir: &Path) -> Result<String, Error> {
    Ok(manifest(dir)?
        .iter()
        .map(|(path, digest)| format!("{}  {path}\n", sha256::hex(digest)))
        .collect())
}

/// `cargo xtask hashes [DIR]`: prints the manifest of `DIR` (default `dist/`).
pub fn print(dir: &Path) -> Result<(), Error> {
    if !dir.join("index.html").is_file() {
        return Err(Error::Check(format!(
            "{} holds no build (no index.html): run `trunk build --release` first",
            dir.display()
        )));
    }
    print!("{}", manifest_text(dir)?);
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.is_file() {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// `cargo xtask integrity`: the post-build hook. Stamps `$TRUNK_STAGING_DIR/index.html`
/// (or `dist/index.html` when run by hand) with the integrity values of its build.
pub fn stamp_staged(root: &Path) -> Result<(), Error> {
    let dir = std::env::var_os("TRUNK_STAGING_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("dist"));
    let base = std::env::var("TRUNK_PUBLIC_URL").unwrap_or_else(|_| "/".into());
    let index = dir.join("index.html");
    let html = fs::read_to_string(&index).map_err(|e| io_error(&index, e))?;
    let stamped = stamp(&html, &manifest(&dir)?, &base)?;
    fs::write(&index, stamped).map_err(|e| io_error(&index, e))
}

/// `html` with the import map and stylesheet integrity described in the module docs; `files`
/// is the build's manifest, `base` the public URL (`/`).
pub fn stamp(html: &str, files: &[(String, [u8; 32])], base: &str) -> Result<String, Error> {
    if html.contains(r#"<script type="importmap">"#) {
        return Err(Error::Check(
            "index.html already has an import map: stamped twice?".into(),
        ));
    }
    let sri = |digest: &[u8; 32]| format!("sha256-{}", sha256::base64(digest));
    let entries: Vec<String> = files
        .iter()
        .filter(|(path, _)| path.ends_with(".js") || path.ends_with(".wasm"))
        .map(|(path, digest)| format!("\"{base}{path}\":\"{}\"", sri(digest)))
        .collect();
    // First in <head>: an import map is only used if it comes before any module is loaded,
    // Trunk's modulepreload link included.
    let import_map = format!(
        "\n    <script type=\"importmap\">{{\"integrity\":{{{}}}}}</script>",
        entries.join(",")
    );
    let head = html
        .find("<head>")
        .ok_or_else(|| Error::Check("index.html has no <head>".into()))?
        + "<head>".len();
    let mut out = format!("{}{import_map}{}", &html[..head], &html[head..]);
    for (path, digest) in files.iter().filter(|(path, _)| path.ends_with(".css")) {
        for href in [format!("href=\"{path}\""), format!("href=\"{base}{path}\"")] {
            out = out.replace(&href, &format!("{href} integrity=\"{}\"", sri(digest)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_map_comes_first_and_covers_scripts_and_wasm_only() {
        let files = vec![
            ("app-1_bg.wasm".to_owned(), [1; 32]),
            ("app-1.js".to_owned(), [2; 32]),
            ("static/a.css".to_owned(), [3; 32]),
            ("static/icon.svg".to_owned(), [4; 32]),
        ];
        let html = r#"<html><head><link rel="modulepreload" href="/app-1.js"><link rel="stylesheet" href="static/a.css"></head></html>"#;
        let out = stamp(html, &files, "/").unwrap();
        let map = format!(
            r#"<head>
    <script type="importmap">{{"integrity":{{"/app-1_bg.wasm":"sha256-{}","/app-1.js":"sha256-{}"}}}}</script><link rel="modulepreload""#,
            sha256::base64(&[1; 32]),
            sha256::base64(&[2; 32])
        );
        assert!(out.contains(&map), "{out}");
        assert!(out.contains(&format!(
            r#"href="static/a.css" integrity="sha256-{}""#,
            sha256::base64(&[3; 32])
        )));
        assert!(!out.contains("icon.svg"));
        assert!(
            stamp(&out, &files, "/").is_err(),
            "stamping twice is refused"
        );
    }

    #[test]
    fn the_manifest_is_sorted_and_relative() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        fs::create_dir_all(dir.join("static")).unwrap();
        fs::write(dir.join("index.html"), "abc").unwrap();
        fs::write(dir.join("static/b.js"), "").unwrap();
        fs::write(dir.join("a.wasm"), "").unwrap();
        let text = manifest_text(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            text,
            format!(
                "{empty}  a.wasm\n\
                 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  index.html\n\
                 {empty}  static/b.js\n"
            )
        );
    }
}
