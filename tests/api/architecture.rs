//! The shape of the code, held by reading it (docs/architecture.md draws it):
//! - the shared crate's layers point one way, and no import cycle joins its modules;
//! - an item module of the store is the only place that spells its attributes, and no DynamoDB
//!   expression outside them names one;
//! - no deployed crate depends, even transitively, on the never-deployed ones, nor turns on the
//!   shared crate's `test-util`;
//! - `docs/data-model.md`'s item table lists exactly what the item modules declare.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use appkeys::store::items;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file's path from the workspace's root, for messages.
fn shown(file: &Path) -> String {
    file.strip_prefix(workspace())
        .unwrap_or(file)
        .display()
        .to_string()
}

/// A source file as the checks read it.
struct Source {
    file: PathBuf,
    /// Its code without comments, without the contents of its string and char literals, and
    /// without its unit-test modules (`#[cfg(test)] mod … { … }`, which may use anything).
    code: String,
    /// Its string literals (raw ones included), outside its unit-test modules.
    literals: Vec<String>,
}

impl Source {
    fn read(file: PathBuf, text: &str) -> Self {
        let (masked, literals) = lex(text);
        let cut = unit_test_modules(&masked);
        let mut code = String::new();
        let mut from = 0;
        for range in &cut {
            code.push_str(&masked[from..range.start]);
            from = range.end;
        }
        code.push_str(&masked[from..]);
        let literals = literals
            .into_iter()
            .filter(|(at, _)| !cut.iter().any(|range| range.contains(at)))
            .map(|(_, literal)| literal)
            .collect();
        Source {
            file,
            code,
            literals,
        }
    }
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<Source> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push(Source::read(path, &text));
            }
        }
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    found
}

/// Rust source with its comments dropped and each string or char literal emptied (`""`, `' '`),
/// and the string literals with where each was in the result. Raw strings (`r#"…"#`), byte and C
/// strings, escapes, char literals such as `'"'` and lifetimes (`'a`) are told apart.
fn lex(text: &str) -> (String, Vec<(usize, String)>) {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let is_word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::new();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if at(i + 1) == '/' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                loop {
                    if i >= c.len() {
                        break;
                    } else if c[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            '"' => {
                let mut literal = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        literal.push(c[i]);
                        i += 1;
                    }
                    if i < c.len() {
                        literal.push(c[i]);
                        i += 1;
                    }
                }
                i += 1;
                literals.push((out.len(), literal));
                out.push_str("\"\"");
            }
            '\'' if at(i + 1) == '\\' => {
                // An escaped char: '\'', '\n', '\u{1F600}'.
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            '\'' if at(i + 2) == '\'' => {
                // A char: '"', '{', 'a'.
                i += 3;
                out.push_str("' '");
            }
            ch if is_word(ch) => {
                let start = i;
                while i < c.len() && is_word(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                if matches!(word.as_str(), "r" | "br" | "cr") {
                    let mut hashes = 0;
                    while at(i + hashes) == '#' {
                        hashes += 1;
                    }
                    if at(i + hashes) == '"' {
                        // A raw string: it ends at a quote followed by as many `#`.
                        let start = i + hashes + 1;
                        let mut end = start;
                        while end < c.len()
                            && !(c[end] == '"' && (1..=hashes).all(|k| at(end + k) == '#'))
                        {
                            end += 1;
                        }
                        literals.push((out.len(), c[start..end].iter().collect()));
                        out.push_str("\"\"");
                        i = end + 1 + hashes;
                        continue;
                    }
                }
                out.push_str(&word);
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    (out, literals)
}

/// Where `#[cfg(test)] mod <name> { … }` blocks are in code without comments or literals.
fn unit_test_modules(code: &str) -> Vec<Range<usize>> {
    let start = regex::Regex::new(
        r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{",
    )
    .unwrap();
    let mut cut = Vec::new();
    let mut from = 0;
    while let Some(found) = start.find_at(code, from) {
        let mut depth = 1;
        let mut end = code.len();
        for (offset, ch) in code[found.end()..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = found.end() + offset + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        cut.push(found.start()..end);
        from = end;
    }
    cut
}

/// A module of the shared crate: `shared/src/store/keys.rs` is `["store", "keys"]`,
/// `shared/src/store/mod.rs` is `["store"]`, `shared/src/lib.rs` (the root) is `[]`.
type Module = Vec<String>;

fn module_of(file: &Path, src: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut module: Module = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if module.last().is_some_and(|last| last == "mod") || module == ["lib"] {
        module.pop();
    }
    module
}

fn shown_module(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Colons,
    Punct(char),
}

fn tokens(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Word(c[start..i].iter().collect()));
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            tokens.push(Token::Colons);
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                tokens.push(Token::Punct(c[i]));
            }
            i += 1;
        }
    }
    tokens
}

/// The leaves of the `use` tree starting at `tokens[*at]`: each path, and the name it binds
/// (`None` for a glob). `use a::{b::c, d as e, self}` is `a::b::c` (c), `a::d` (e) and `a` (a).
fn use_tree(
    tokens: &[Token],
    at: &mut usize,
    mut prefix: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>)>,
) {
    if tokens.get(*at) == Some(&Token::Colons) {
        *at += 1;
    }
    loop {
        match tokens.get(*at) {
            Some(Token::Word(word)) => {
                *at += 1;
                if tokens.get(*at) == Some(&Token::Colons) {
                    prefix.push(word.clone());
                    *at += 1;
                    continue;
                }
                if word != "self" || prefix.is_empty() {
                    prefix.push(word.clone());
                }
                let mut name = prefix.last().cloned();
                if tokens.get(*at) == Some(&Token::Word("as".into())) {
                    if let Some(Token::Word(alias)) = tokens.get(*at + 1) {
                        name = Some(alias.clone());
                    }
                    *at += 2;
                }
                leaves.push((prefix, name));
                return;
            }
            Some(Token::Punct('*')) => {
                *at += 1;
                leaves.push((prefix, None));
                return;
            }
            Some(Token::Punct('{')) => {
                *at += 1;
                loop {
                    match tokens.get(*at) {
                        Some(Token::Punct('}')) => {
                            *at += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *at += 1,
                        None => return,
                        Some(_) => {
                            let before = *at;
                            use_tree(tokens, at, prefix.clone(), leaves);
                            if *at == before {
                                return;
                            }
                        }
                    }
                }
            }
            _ => return,
        }
    }
}

/// `path`, named in `module`, from the crate's root: `crate::`, `self::` and `super::` chains,
/// and names the file binds (its `mod x;`, what its `use` items import). `None` for anything
/// else (another crate, a local name).
fn resolve(module: &[String], path: &[String], bound: &BTreeMap<String, Module>) -> Option<Module> {
    let (mut base, mut rest) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (module.to_vec(), &path[1..]),
        "super" => (module.to_vec(), path),
        name => (bound.get(name)?.clone(), &path[1..]),
    };
    while rest.first().is_some_and(|segment| segment == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// One path a file names: from the crate's root, and as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    resolved: Module,
    written: String,
}

/// Every path into the shared crate that code in `module` names: in `use` items (grouped ones
/// included) and inline (`crate::store::Store::new(…)`, `super::at_start(…)`, `key::sk(…)`
/// after `use super::items::key`).
fn uses(module: &[String], code: &str) -> BTreeSet<Use> {
    let tokens = tokens(code);
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(word)) => Some(word.as_str()),
        _ => None,
    };
    let mut bound: BTreeMap<String, Module> = BTreeMap::new();
    for i in 0..tokens.len() {
        if word(i) == Some("mod") && tokens.get(i + 2) == Some(&Token::Punct(';')) {
            if let Some(name) = word(i + 1) {
                let mut child = module.to_vec();
                child.push(name.to_owned());
                bound.insert(name.to_owned(), child);
            }
        }
    }
    let mut found = BTreeSet::new();
    // Twice: a name a later `use` binds may be used earlier.
    for _ in 0..2 {
        found.clear();
        let mut i = 0;
        while i < tokens.len() {
            let after_colons = i > 0 && tokens[i - 1] == Token::Colons;
            if word(i) == Some("use") && !after_colons {
                let mut at = i + 1;
                let mut leaves = Vec::new();
                use_tree(&tokens, &mut at, Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    if let Some(resolved) = resolve(module, &path, &bound) {
                        if let Some(name) = name {
                            bound.insert(name, resolved.clone());
                        }
                        let written = path.join("::");
                        found.insert(Use { resolved, written });
                    }
                }
                i = at.max(i + 1);
            } else if let (Some(first), false) = (word(i), after_colons) {
                let mut path = vec![first.to_owned()];
                let mut at = i + 1;
                while tokens.get(at) == Some(&Token::Colons) {
                    let Some(next) = word(at + 1) else { break };
                    path.push(next.to_owned());
                    at += 2;
                }
                // `pub(in crate::x)` is a visibility, not a use.
                let visibility =
                    i > 1 && word(i - 1) == Some("in") && tokens[i - 2] == Token::Punct('(');
                if path.len() > 1 && !visibility {
                    if let Some(resolved) = resolve(module, &path, &bound) {
                        let written = path.join("::");
                        found.insert(Use { resolved, written });
                    }
                }
                i = at;
            } else {
                i += 1;
            }
        }
    }
    found
}

/// A module of the shared crate, its file, and the paths it names.
struct ModuleUses {
    module: Module,
    file: PathBuf,
    uses: BTreeSet<Use>,
}

/// Each file under `src` as a module, with the paths it names.
fn modules(src: &Path, sources: Vec<Source>) -> Vec<ModuleUses> {
    sources
        .into_iter()
        .map(|source| {
            let module = module_of(&source.file, src);
            let uses = uses(&module, &source.code);
            ModuleUses {
                module,
                file: source.file,
                uses,
            }
        })
        .collect()
}

fn shared_modules() -> Vec<ModuleUses> {
    let src = workspace().join("shared/src");
    modules(&src, sources(&src))
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

/// A graph whose edges each carry one place that makes them (`file: path as written`).
type Graph<N> = BTreeMap<N, BTreeMap<N, String>>;

/// Which layer uses which, as the code has it (the first segment of each path from the crate's
/// root; `crate` for the root itself, as a glob of it would be).
fn layer_graph(modules: &[ModuleUses]) -> Graph<String> {
    let mut graph = Graph::new();
    for m in modules {
        let Some(layer) = m.module.first() else {
            continue;
        };
        let entry = graph.entry(layer.clone()).or_insert_with(BTreeMap::new);
        for used in &m.uses {
            let target = used.resolved.first().map_or("crate", String::as_str);
            if target != layer {
                entry
                    .entry(target.to_owned())
                    .or_insert_with(|| format!("{}: {}", shown(&m.file), used.written));
            }
        }
    }
    graph
}

/// Which module uses which: each path goes to the longest module it names. A module's use of
/// its own descendants (a `mod.rs` re-exporting its children) or ancestors (a child using its
/// parent's items) is structure, not an edge.
fn module_graph(modules: &[ModuleUses]) -> Graph<Module> {
    let known: BTreeSet<&Module> = modules.iter().map(|m| &m.module).collect();
    let mut graph = Graph::new();
    for m in modules {
        let entry = graph.entry(m.module.clone()).or_insert_with(BTreeMap::new);
        for used in &m.uses {
            let Some(target) = (0..=used.resolved.len())
                .rev()
                .map(|length| used.resolved[..length].to_vec())
                .find(|prefix| known.contains(prefix))
            else {
                continue;
            };
            if target.starts_with(&m.module) || m.module.starts_with(&target) {
                continue;
            }
            entry
                .entry(target)
                .or_insert_with(|| format!("{}: {}", shown(&m.file), used.written));
        }
    }
    graph
}

/// The graph's strongly connected components of more than one node (Tarjan's algorithm).
fn cycles<N: Ord + Clone>(graph: &Graph<N>) -> Vec<Vec<N>> {
    struct Search<'g, N> {
        graph: &'g Graph<N>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        components: Vec<Vec<N>>,
    }
    impl<N: Ord + Clone> Search<'_, N> {
        fn visit(&mut self, node: &N) {
            let index = self.index.len();
            self.index.insert(node.clone(), index);
            self.low.insert(node.clone(), index);
            self.stack.push(node.clone());
            let graph = self.graph;
            for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node.clone(), low);
                } else if self.stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node.clone(), low);
                }
            }
            if self.low[node] == index {
                let at = self.stack.iter().rposition(|n| n == node).unwrap();
                let component = self.stack.split_off(at);
                if component.len() > 1 {
                    self.components.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        components: Vec::new(),
    };
    let nodes: BTreeSet<&N> = graph
        .iter()
        .flat_map(|(node, next)| std::iter::once(node).chain(next.keys()))
        .collect();
    for node in nodes {
        if !search.index.contains_key(node) {
            search.visit(node);
        }
    }
    search.components
}

/// One cycle through a strongly connected component, each step with the place that makes it:
/// `a → b (file: path)`.
fn a_cycle<N: Ord + Clone>(
    graph: &Graph<N>,
    component: &[N],
    name: impl Fn(&N) -> String,
) -> String {
    let inside: BTreeSet<&N> = component.iter().collect();
    let start = component.iter().min().unwrap();
    let mut came_from: BTreeMap<&N, &N> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph[node].keys().filter(|next| inside.contains(next)) {
            if next == start {
                let mut path = vec![node];
                while *path.last().unwrap() != start {
                    path.push(came_from[path.last().unwrap()]);
                }
                path.reverse();
                path.push(start);
                let steps: Vec<String> = path
                    .windows(2)
                    .map(|step| {
                        format!(
                            "{} → {} ({})",
                            name(step[0]),
                            name(step[1]),
                            graph[step[0]][step[1]]
                        )
                    })
                    .collect();
                return steps.join("\n  ");
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    unreachable!("a strongly connected component has a cycle")
}

/// Each cycle of `graph`, printed.
fn printed_cycles<N: Ord + Clone>(graph: &Graph<N>, name: impl Fn(&N) -> String) -> Vec<String> {
    cycles(graph)
        .iter()
        .map(|component| format!("a cycle:\n  {}", a_cycle(graph, component, &name)))
        .collect()
}

#[test]
fn the_shared_crates_layers_point_one_way() {
    let graph = layer_graph(&shared_modules());
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (layer, used) in &graph {
        let Some(may) = allowed.get(layer.as_str()) else {
            wrong.push(format!("{layer} is not a layer of docs/architecture.md"));
            continue;
        };
        for (target, place) in used {
            if !may.contains(&target.as_str()) {
                wrong.push(format!("{layer} uses {target} ({place})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_joins_the_shared_crates_modules() {
    let modules = shared_modules();
    let mut wrong = printed_cycles(&layer_graph(&modules), String::clone);
    wrong.extend(printed_cycles(&module_graph(&modules), |m| shown_module(m)));
    // The store's items never use the rest of the store (its operations, its root).
    let items: Module = vec!["store".into(), "items".into()];
    for m in modules.iter().filter(|m| m.module.starts_with(&items)) {
        for used in &m.uses {
            if used.resolved.first().is_some_and(|first| first == "store")
                && !used.resolved.starts_with(&items)
            {
                wrong.push(format!(
                    "{} uses {} ({}: {})",
                    shown_module(&m.module),
                    shown_module(&used.resolved),
                    shown(&m.file),
                    used.written
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Made-up files under `src/`, as modules.
fn made_up(files: &[(&str, &str)]) -> Vec<ModuleUses> {
    let src = Path::new("src");
    let sources = files
        .iter()
        .map(|(file, text)| Source::read(src.join(file), text))
        .collect();
    modules(src, sources)
}

/// The paths `code` in `module` names, from the crate's root.
fn resolved(module: &[&str], code: &str) -> BTreeSet<String> {
    let module: Module = module.iter().map(|s| s.to_string()).collect();
    uses(&module, &Source::read(PathBuf::new(), code).code)
        .into_iter()
        .map(|used| shown_module(&used.resolved))
        .collect()
}

/// The check itself, on made-up code: every form of a path is found and resolved from the root.
#[test]
fn the_layer_check_sees_every_form_of_use() {
    let code = "use crate::{domain::x, http::{y, z as w}};\nfn f() { crate::store::Store::new(); }";
    assert_eq!(
        resolved(&[], code),
        BTreeSet::from([
            "domain::x".into(),
            "http::y".into(),
            "http::z".into(),
            "store::Store::new".into()
        ])
    );
    // `super` from `domain::key` is `domain`, from `store` (a mod.rs) the root.
    assert_eq!(
        resolved(&["domain", "key"], "use super::super::store::Store;"),
        BTreeSet::from(["store::Store".into()])
    );
    assert_eq!(
        resolved(
            &["store"],
            "use super::http::Answer;\nuse self::items::key;"
        ),
        BTreeSet::from(["http::Answer".into(), "store::items::key".into()])
    );
    // Inline, and through what a `use` or a `mod` binds.
    let code = "mod items;\nuse super::json::{self, Json};\n\
                fn f() { super::at_start(); json::parse(); items::key::sk(); }";
    assert_eq!(
        resolved(&["http", "body"], code),
        BTreeSet::from([
            "http::at_start".into(),
            "http::json".into(),
            "http::json::Json".into(),
            "http::json::parse".into(),
            "http::body::items::key::sk".into(),
        ])
    );
    // `in` a visibility is not a use; `in` a loop is.
    assert_eq!(
        resolved(
            &["store"],
            "pub(in crate::http) fn f() { for i in super::domain::ALL {} }"
        ),
        BTreeSet::from(["domain::ALL".into()])
    );
    // Not in comments, strings or unit tests; other crates' paths are not the crate's.
    let code = "// crate::http::x\n/* crate::http::y */ fn f() { g(\"crate::http::z\", '\"', \
                crate::domain::x); std::mem::drop(()); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::http::w;\n    fn t() { let _ = '}'; }\n}\n\
                fn h() { crate::pepper::p(); }";
    assert_eq!(
        resolved(&["store"], code),
        BTreeSet::from(["domain::x".into(), "pepper::p".into()])
    );
    let graph = layer_graph(&made_up(&[(
        "domain/key.rs",
        "use super::super::store::Store;",
    )]));
    assert_eq!(
        graph["domain"]["store"],
        "src/domain/key.rs: super::super::store::Store"
    );
}

/// The check itself, on made-up modules: a cycle between two modules is found and printed, and
/// a parent re-exporting its children or a child using its parent is not one.
#[test]
fn the_cycle_check_sees_a_cycle_between_modules() {
    let modules = made_up(&[
        ("lib.rs", "pub mod store;"),
        (
            "store/mod.rs",
            "mod keys;\nmod rolls;\npub use keys::CreateKey;",
        ),
        (
            "store/keys.rs",
            "use super::Store;\nuse super::rolls::Roll;",
        ),
        ("store/rolls.rs", "use super::keys::replace_keyring;"),
        ("store/items/mod.rs", "pub mod key;"),
        ("store/items/key.rs", "use super::PK;"),
        (
            "store/reads.rs",
            "use super::items::key;\nuse super::keys::CreateKey;",
        ),
    ]);
    let graph = module_graph(&modules);
    assert_eq!(
        printed_cycles(&graph, |m| shown_module(m)),
        [
            "a cycle:\n  store::keys → store::rolls (src/store/keys.rs: super::rolls::Roll)\n  \
          store::rolls → store::keys (src/store/rolls.rs: super::keys::replace_keyring)"
        ]
    );
    let without = made_up(&[
        ("store/keys.rs", "use super::Store;"),
        ("store/rolls.rs", "use super::keys::replace_keyring;"),
    ]);
    assert!(cycles(&module_graph(&without)).is_empty());
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
    files.retain(|source| !source.file.starts_with(root.join("shared/src/store/items")));
    files.extend(sources(&root.join("functions/event-publisher/src")));
    files.extend(
        sources(&root.join("devkit/src"))
            .into_iter()
            .filter(|source| source.file.ends_with("schema.rs")),
    );
    let mut spelled = Vec::new();
    for source in files {
        for literal in &source.literals {
            if names.contains(literal.as_str()) {
                spelled.push(format!("{}: \"{literal}\"", shown(&source.file)));
            }
        }
    }
    assert!(spelled.is_empty(), "{}", spelled.join("\n"));
}

/// Whether a string looks like a DynamoDB expression (a condition, an update, a key condition,
/// a projection with placeholders).
fn looks_like_an_expression(literal: &str) -> bool {
    const MARKERS: &[&str] = &[
        "attribute_exists",
        "attribute_not_exists",
        "begins_with",
        "size(",
        "SET ",
        "REMOVE ",
        "ADD ",
        " = :",
        " < :",
        " <= :",
        " > :",
        " >= :",
        " <> :",
        " AND ",
        " OR ",
    ];
    let placeholder = literal.match_indices('#').any(|(at, _)| {
        literal[at + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    });
    placeholder || MARKERS.iter().any(|marker| literal.contains(marker))
}

/// The identifier words of an expression, outside any `{…}` (a format string's arguments, which
/// name Rust values).
fn expression_words(literal: &str) -> Vec<String> {
    let mut depth = 0;
    let outside: String = literal
        .chars()
        .map(|c| {
            match c {
                '{' => depth += 1,
                '}' => depth = (depth - 1).max(0),
                _ if depth > 0 => return ' ',
                _ => {}
            }
            c
        })
        .collect();
    outside
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The attribute names an expression spells.
fn attributes_in(literal: &str, names: &BTreeSet<&str>) -> Vec<String> {
    if !looks_like_an_expression(literal) {
        return Vec::new();
    }
    expression_words(literal)
        .into_iter()
        .filter(|word| names.contains(word.as_str()))
        .collect()
}

#[test]
fn no_expression_outside_the_item_modules_names_an_attribute() {
    let names = attribute_names();
    let root = workspace();
    let mut files = sources(&root.join("shared/src"));
    files.retain(|source| !source.file.starts_with(root.join("shared/src/store/items")));
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        files.extend(sources(&entry.unwrap().path().join("src")));
    }
    let mut spelled = Vec::new();
    for source in files {
        for literal in &source.literals {
            let words = attributes_in(literal, &names);
            if !words.is_empty() {
                spelled.push(format!(
                    "{}: \"{literal}\" names {}",
                    shown(&source.file),
                    words.join(", ")
                ));
            }
        }
    }
    assert!(spelled.is_empty(), "{}", spelled.join("\n"));
}

/// The literal checks themselves, on made-up code.
#[test]
fn the_literal_checks_see_expressions_and_read_every_literal() {
    let names = attribute_names();
    let found = |literal: &str| attributes_in(literal, &names);
    assert_eq!(
        found("attribute_exists(PK) AND keyStatus = :active"),
        ["PK", "keyStatus"]
    );
    assert_eq!(found("SET #s = :s, ttl = :t"), ["ttl"]);
    assert!(found("attribute_not_exists({PK}) AND #status = :status").contains(&"status".into()));
    assert!(found("attribute_not_exists({PK})").is_empty());
    assert!(
        found("the keyStatus of a key").is_empty(),
        "not an expression"
    );
    assert!(found("MERCHANT#{}").is_empty() && found("{:#?}").is_empty());
    let source = Source::read(
        PathBuf::new(),
        "let q = '\"'; let r = r#\"a \"quoted\" SET ttl = :t\"#; let s = \"x\\\"y\"; \
         let e = b'\\''; let l: &'static str = \"after\";\n\
         #[cfg(test)]\nconst C: &str = \"kept\";\n\
         #[cfg(test)]\nmod tests { const T: &str = \"cut\"; }\nconst D: &str = \"after tests\";",
    );
    assert_eq!(
        source.literals,
        [
            "a \"quoted\" SET ttl = :t",
            "x\\\"y",
            "after",
            "kept",
            "after tests"
        ]
    );
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

/// What a deployed binary is built for: Lambda's two architectures (infra/template.yaml's
/// `Architecture`). Dependencies for other platforms are never linked into one (and need not be
/// downloaded for `--offline`).
const LAMBDA_TARGETS: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// The crates that are never deployed.
const NEVER_DEPLOYED: [&str; 3] = ["devkit", "api-tests", "local-gateway"];

/// `cargo <args>` in the workspace, its output.
fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {}:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The function packages (every package under `functions/`) and the shared crate, by id and name.
fn deployed(metadata: &serde_json::Value) -> Vec<(String, String)> {
    let root = Path::new(metadata["workspace_root"].as_str().unwrap());
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|package| {
            let manifest = Path::new(package["manifest_path"].as_str().unwrap());
            manifest.starts_with(root.join("functions"))
                || manifest == root.join("shared/Cargo.toml")
        })
        .map(|package| {
            let id = package["id"].as_str().unwrap().to_owned();
            (id, package["name"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Each never-deployed crate a deployed one reaches through normal dependencies (not dev, not
/// build; for any target of `metadata`), with the chain that reaches it.
fn never_deployed_reached(metadata: &serde_json::Value) -> Vec<String> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let normal: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap())
                .collect();
            (node["id"].as_str().unwrap(), deps)
        })
        .collect();
    let mut reached = Vec::new();
    for (id, name) in deployed(metadata) {
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([id.as_str()]);
        while let Some(at) = queue.pop_front() {
            for &next in normal.get(at).into_iter().flatten() {
                if next != id && !came_from.contains_key(next) {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        for (&found, _) in came_from
            .iter()
            .filter(|(f, _)| NEVER_DEPLOYED.contains(&names[*f]))
        {
            let mut chain = vec![names[found]];
            let mut at = found;
            while let Some(&previous) = came_from.get(at) {
                chain.push(names[previous]);
                at = previous;
            }
            chain.reverse();
            reached.push(format!(
                "{name} depends on {}: {}",
                names[found],
                chain.join(" → ")
            ));
        }
    }
    reached
}

#[test]
fn no_deployed_crate_depends_on_what_is_never_deployed() {
    let mut args = vec!["metadata", "--format-version", "1", "--offline", "--locked"];
    for target in LAMBDA_TARGETS {
        args.extend(["--filter-platform", target]);
    }
    let metadata: serde_json::Value = serde_json::from_str(&cargo(&args)).unwrap();
    let functions = deployed(&metadata);
    assert!(functions.len() > 10, "{functions:?}");
    let reached = never_deployed_reached(&metadata);
    assert!(reached.is_empty(), "{}", reached.join("\n"));

    // Nor does a build of the functions (normal dependencies only, as `sam build` builds them)
    // turn on the shared crate's `test-util`.
    let mut args = vec![
        "tree",
        "--offline",
        "--locked",
        "--edges",
        "features,normal",
        "--invert",
        "appkeys",
    ];
    for target in LAMBDA_TARGETS {
        args.extend(["--target", target]);
    }
    for (_, name) in functions.iter().filter(|(_, name)| name != "appkeys") {
        args.extend(["--package", name]);
    }
    let tree = cargo(&args);
    assert!(tree.starts_with("appkeys v"), "{tree}");
    if let Some(which) = subtree(&tree, "appkeys feature \"test-util\"") {
        panic!("a deployed function turns on appkeys' test-util:\n{which}");
    }
}

/// The lines of `cargo tree`'s output from the first that ends with `node` to the end of what
/// hangs below it.
fn subtree(tree: &str, node: &str) -> Option<String> {
    let lines: Vec<&str> = tree.lines().collect();
    let at = lines.iter().position(|line| line.ends_with(node))?;
    let depth = |line: &str| line.find(char::is_alphanumeric).unwrap_or(0);
    let below = lines[at + 1..]
        .iter()
        .take_while(|line| depth(line) > depth(lines[at]));
    let found: Vec<&str> = std::iter::once(&lines[at]).chain(below).copied().collect();
    Some(found.join("\n"))
}

/// The dependency check itself, on made-up metadata: a never-deployed crate reached through a
/// target-specific normal dependency is found, one reached through a dev-dependency is not.
#[test]
fn the_dependency_check_follows_normal_dependencies_only() {
    let metadata = serde_json::json!({
        "workspace_root": "/w",
        "packages": [
            {"id": "f", "name": "create-api-key", "manifest_path": "/w/functions/create-api-key/Cargo.toml"},
            {"id": "g", "name": "get-application", "manifest_path": "/w/functions/get-application/Cargo.toml"},
            {"id": "s", "name": "appkeys", "manifest_path": "/w/shared/Cargo.toml"},
            {"id": "d", "name": "devkit", "manifest_path": "/w/devkit/Cargo.toml"},
            {"id": "t", "name": "api-tests", "manifest_path": "/w/tests/Cargo.toml"},
        ],
        "resolve": {"nodes": [
            {"id": "f", "deps": [
                {"pkg": "s", "dep_kinds": [{"kind": null, "target": null}]},
                {"pkg": "t", "dep_kinds": [{"kind": "dev", "target": null}]},
            ]},
            {"id": "g", "deps": [{"pkg": "s", "dep_kinds": [{"kind": null, "target": null}]}]},
            {"id": "s", "deps": [{"pkg": "d", "dep_kinds": [{"kind": null, "target": "cfg(unix)"}]}]},
            {"id": "d", "deps": []},
            {"id": "t", "deps": [{"pkg": "d", "dep_kinds": [{"kind": null, "target": null}]}]},
        ]},
    });
    assert_eq!(
        never_deployed_reached(&metadata),
        [
            "create-api-key depends on devkit: create-api-key → appkeys → devkit",
            "get-application depends on devkit: get-application → appkeys → devkit",
            "appkeys depends on devkit: appkeys → devkit",
        ]
    );
}
