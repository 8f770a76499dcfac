//! The shape of the code, held by reading it (docs/architecture.md draws it):
//! - the shared crate's layers point one way, and no import cycle joins its modules;
//! - an item module of the store is the only place that spells its attributes;
//! - no deployed crate depends on the never-deployed ones;
//! - `docs/data-model.md`'s item table lists exactly what the item modules declare.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use appkeys::store::items;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, with its text up to its unit tests (which may use anything).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: String = code
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                found.push((path, code));
            }
        }
    }
    found.sort();
    found
}

/// The top-level module of `shared/src` a file belongs to.
fn layer_of(file: &Path, src: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file names through `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if rest.starts_with('{') {
            // `use crate::{a::x, b};`: every path in the braces.
            let inner = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for path in inner.split(',') {
                let name: String = path
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    used.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used
}

/// Each layer of the shared crate, and the layers it may use (docs/architecture.md).
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("pepper", &["domain"]),
    ("store", &["domain"]),
    ("lambda", &["domain", "pepper", "store"]),
    ("http", &["domain", "pepper", "store", "lambda"]),
    ("authorize", &["domain", "pepper", "store"]),
    ("secret_scanning", &["domain", "pepper", "store", "http"]),
];

/// Which layer uses which, as the code has it, with one file that does for each pair.
fn layer_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = workspace().join("shared/src");
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (file, code) in sources(&src) {
        let layer = layer_of(&file, &src);
        if layer == "lib" {
            continue;
        }
        let entry = graph.entry(layer.clone()).or_default();
        for used in uses(&code) {
            if used != layer && used != "self" && used != "super" {
                entry.entry(used).or_insert_with(|| file.clone());
            }
        }
    }
    graph
}

#[test]
fn the_shared_crates_layers_point_one_way() {
    let graph = layer_graph();
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (layer, used) in &graph {
        let Some(may) = allowed.get(layer.as_str()) else {
            wrong.push(format!("{layer} is not a layer of docs/architecture.md"));
            continue;
        };
        for (target, file) in used {
            if !may.contains(&target.as_str()) {
                wrong.push(format!("{layer} uses {target} ({})", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_joins_the_shared_crates_modules() {
    // Within the shared crate's layers, and within the store (items never use its operations).
    let graph = layer_graph();
    fn reaches(
        graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        graph.get(from).is_some_and(|next| {
            next.keys()
                .any(|n| n == to || (seen.insert(n.clone()) && reaches(graph, n, to, seen)))
        })
    }
    for layer in graph.keys() {
        assert!(
            !reaches(&graph, layer, layer, &mut BTreeSet::new()),
            "{layer} reaches itself"
        );
    }
    let items_dir = workspace().join("shared/src/store/items");
    for (file, code) in sources(&items_dir) {
        for word in [
            "store::applications",
            "store::keys",
            "store::rolls",
            "store::lookups",
            "store::events",
            "store::idempotency",
            "super::super",
        ] {
            assert!(!code.contains(word), "{} uses {word}", file.display());
        }
    }
}

/// The check itself, on made-up code: a use of a higher layer is found, braces included.
#[test]
fn the_layer_check_sees_every_form_of_use() {
    let code = "use crate::{domain::x, http::y};\nfn f() { crate::store::Store::new(); }";
    assert_eq!(
        uses(code),
        BTreeSet::from(["domain".into(), "http".into(), "store".into()])
    );
}

/// Every attribute name the item modules declare, and the table's key attributes.
fn attribute_names() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&str> = [items::PK, items::SK, items::TTL].into();
    for attributes in ITEMS.iter().map(|item| item.attributes) {
        names.extend(attributes.iter().copied());
    }
    names
}

#[test]
fn attribute_names_are_spelled_only_in_their_item_modules() {
    let names = attribute_names();
    let root = workspace();
    let mut files = sources(&root.join("shared/src/store"));
    files.retain(|(file, _)| !file.starts_with(root.join("shared/src/store/items")));
    files.extend(sources(&root.join("functions/event-publisher/src")));
    files.extend(
        sources(&root.join("devkit/src"))
            .into_iter()
            .filter(|(file, _)| file.ends_with("schema.rs")),
    );
    let mut spelled = Vec::new();
    for (file, code) in files {
        for literal in code.split('"').skip(1).step_by(2) {
            if names.contains(literal) {
                spelled.push(format!("{}: \"{literal}\"", file.display()));
            }
        }
    }
    assert!(spelled.is_empty(), "{}", spelled.join("\n"));
}

/// One row of the item table: what docs/data-model.md says and what the code declares.
struct ItemModule {
    name: &'static str,
    module: &'static str,
    attributes: &'static [&'static str],
}

const ITEMS: &[ItemModule] = &[
    ItemModule {
        name: "merchant counter",
        module: "merchant_counter",
        attributes: items::merchant_counter::ATTRIBUTES,
    },
    ItemModule {
        name: "application",
        module: "application",
        attributes: items::application::ATTRIBUTES,
    },
    ItemModule {
        name: "name reservation",
        module: "name_reservation",
        attributes: items::name_reservation::ATTRIBUTES,
    },
    ItemModule {
        name: "keyring",
        module: "keyring",
        attributes: items::keyring::ATTRIBUTES,
    },
    ItemModule {
        name: "key",
        module: "key",
        attributes: items::key::ATTRIBUTES,
    },
    ItemModule {
        name: "lookup record",
        module: "lookup_record",
        attributes: items::lookup_record::ATTRIBUTES,
    },
    ItemModule {
        name: "audit event",
        module: "audit_event",
        attributes: items::audit_event::ATTRIBUTES,
    },
    ItemModule {
        name: "idempotency record",
        module: "idempotency_record",
        attributes: items::idempotency_record::ATTRIBUTES,
    },
];

#[test]
fn every_item_module_is_in_the_item_table() {
    let listed: BTreeSet<String> = std::fs::read_dir(workspace().join("shared/src/store/items"))
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .filter(|name| name != "mod" && name != "codec")
        .collect();
    let known: BTreeSet<String> = ITEMS.iter().map(|item| item.module.to_owned()).collect();
    assert_eq!(listed, known);
}

/// A cell of attributes without its notes in parentheses (which may hold commas).
fn without_notes(cell: &str) -> String {
    let mut depth = 0;
    cell.chars()
        .filter(|c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

#[test]
fn the_data_models_item_table_is_the_item_modules() {
    let doc = std::fs::read_to_string(workspace().join("docs/data-model.md")).unwrap();
    // | item | module | PK | SK | attributes |
    let rows: BTreeMap<String, (String, BTreeSet<String>)> = doc
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains("`shared/src/store/items/"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let attributes = without_notes(cells[4])
                .split(',')
                .map(|name| {
                    name.trim()
                        .trim_end_matches('?')
                        .trim_matches('`')
                        .to_owned()
                })
                .filter(|name| !name.is_empty())
                .collect();
            (cells[0].to_owned(), (cells[1].to_owned(), attributes))
        })
        .collect();
    for item in ITEMS {
        let (module, attributes) = rows
            .get(item.name)
            .unwrap_or_else(|| panic!("docs/data-model.md has no row for the {}", item.name));
        assert_eq!(
            module,
            &format!("`shared/src/store/items/{}.rs`", item.module),
            "{}",
            item.name
        );
        let declared: BTreeSet<String> = item.attributes.iter().map(|a| a.to_string()).collect();
        assert_eq!(attributes, &declared, "the {}'s attributes", item.name);
    }
    assert_eq!(rows.len(), ITEMS.len(), "a row for an item with no module");
}

#[test]
fn no_deployed_crate_depends_on_what_is_never_deployed() {
    let root = workspace();
    let mut manifests = vec![root.join("shared/Cargo.toml")];
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        manifests.push(entry.unwrap().path().join("Cargo.toml"));
    }
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let parsed: toml::Table = text.parse().unwrap();
        let dependencies = parsed
            .get("dependencies")
            .and_then(|d| d.as_table())
            .cloned()
            .unwrap_or_default();
        for never in ["devkit", "api-tests", "local-gateway"] {
            assert!(
                !dependencies.contains_key(never),
                "{} depends on {never}",
                manifest.display()
            );
        }
    }
}
