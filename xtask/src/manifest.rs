//! Versions the project's own files pin, read so that no version is written down twice:
//! `wasm-bindgen` from `Cargo.lock` (the CLI must match the crate exactly) and `wasm-opt` from
//! `Trunk.toml` (Trunk refuses any other). Just enough line parsing for these two files; no
//! TOML library, to keep xtask std-only.

use std::fs;
use std::path::Path;

use crate::error::Error;

/// The one version of `package` in `Cargo.lock`.
pub fn locked_version(root: &Path, package: &str) -> Result<String, Error> {
    let path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&path)
        .map_err(|e| Error::Manifest(format!("cannot read {}: {e}", path.display())))?;
    let mut versions: Vec<String> = lock
        .split("[[package]]")
        .filter(|block| string_value(block, "name").as_deref() == Some(package))
        .filter_map(|block| string_value(block, "version"))
        .collect();
    versions.dedup();
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::Manifest(format!(
            "{package} is not in {}; run `cargo generate-lockfile`",
            path.display()
        ))),
        many => Err(Error::Manifest(format!(
            "{} locks several versions of {package} ({}); the CLI can match only one",
            path.display(),
            many.join(", ")
        ))),
    }
}

/// The string value of `key` in the `[tools]` table of `Trunk.toml`.
pub fn trunk_tool_version(root: &Path, key: &str) -> Result<String, Error> {
    let path = root.join("Trunk.toml");
    let text = fs::read_to_string(&path)
        .map_err(|e| Error::Manifest(format!("cannot read {}: {e}", path.display())))?;
    let mut in_tools = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_tools = line == "[tools]";
        } else if in_tools {
            if let Some(value) = string_value(line, key) {
                return Ok(value);
            }
        }
    }
    Err(Error::Manifest(format!(
        "{} has no `{key} = \"...\"` in its [tools] table",
        path.display()
    )))
}

/// The value of a `key = "value"` line in `text`.
fn string_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        Some(v.strip_prefix('"')?.split('"').next()?.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_key_value_line() {
        let block = "\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n";
        assert_eq!(string_value(block, "version").as_deref(), Some("0.2.130"));
        assert_eq!(string_value(block, "name").as_deref(), Some("wasm-bindgen"));
        assert_eq!(string_value(block, "checksum"), None);
    }

    #[test]
    fn reads_the_projects_own_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let version = locked_version(root, "wasm-bindgen").unwrap();
        assert!(version.starts_with("0.2."), "{version}");
        let wasm_opt = trunk_tool_version(root, "wasm_opt").unwrap();
        assert!(wasm_opt.starts_with("version_"), "{wasm_opt}");
    }
}
