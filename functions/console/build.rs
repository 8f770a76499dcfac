//! Builds `console/` into the binary: the page, and every file under `console/assets/` with the
//! content hash that names the directory they are served from, so that an asset URL changes
//! whenever any asset does and can be cached for a year.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../console");
    let root = root.canonicalize().expect("console/ exists");
    println!("cargo:rerun-if-changed={}", root.display());
    let assets_dir = root.join("assets");
    let mut assets = Vec::new();
    files(&assets_dir, &mut assets);
    let mut hash = Sha256::new();
    let mut table = String::new();
    for path in &assets {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .strip_prefix(&assets_dir)
            .unwrap()
            .to_str()
            .expect("UTF-8 asset names")
            .replace('\\', "/");
        let bytes = std::fs::read(path).unwrap();
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    let page = root.join("index.html");
    println!("cargo:rerun-if-changed={}", page.display());
    let digest = hex::encode(&hash.finalize()[..8]);
    let generated = format!(
        "/// The content hash of every asset: the directory they are served from.\n\
         pub const ASSETS_HASH: &str = {digest:?};\n\
         /// Each asset, by its path under `console/assets/`.\n\
         pub const ASSETS: &[(&str, &[u8])] = &[\n{table}];\n\
         /// `console/index.html`, with `__ASSETS__` where the hash goes.\n\
         pub const PAGE: &str = include_str!({:?});\n",
        page.display().to_string()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(out, generated).unwrap();
}
