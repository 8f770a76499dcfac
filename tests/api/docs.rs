//! The documentation holds together: every relative link and `#anchor` in README.md and docs/
//! resolves to a file and a heading of this repository, and nothing links outside it.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The pages checked: README.md and every Markdown file under docs/.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// GitHub's anchor for a heading: lower case, spaces as hyphens, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_lowercase().next()?),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings, with GitHub's `-1`, `-2` for repeated ones.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let base = slug(line.trim_start_matches('#'));
        let mut anchor = base.clone();
        let mut n = 0;
        while !found.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
    }
    found
}

/// The targets of a page's Markdown links `[text](target)`, outside code blocks and spans.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut fenced = false;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans hold no links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            found.push((number + 1, rest[..end].trim().to_owned()));
            rest = &rest[end..];
        }
    }
    found
}

/// What is wrong with `target`, linked from `page`; `None` when it resolves.
fn broken(root: &Path, page: &Path, target: &str) -> Option<String> {
    if target.starts_with("https://")
        || target.starts_with("http://")
        || target.starts_with("mailto:")
    {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        let mut resolved = page.parent().unwrap().to_path_buf();
        for component in Path::new(path).components() {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(part) => resolved.push(part),
                _ => return Some("an absolute path".into()),
            }
        }
        resolved
    };
    if !file.starts_with(root) {
        return Some("outside the repository".into());
    }
    if !file.exists() {
        return Some("no such file".into());
    }
    if !anchor.is_empty() {
        let text = std::fs::read_to_string(&file).ok()?;
        if !anchors(&text).contains(anchor) {
            return Some(format!("no heading #{anchor}"));
        }
    }
    None
}

fn broken_links(root: &Path) -> Vec<String> {
    let mut broken_links = Vec::new();
    for page in pages(root) {
        let text = std::fs::read_to_string(&page).unwrap();
        for (line, target) in links(&text) {
            if let Some(why) = broken(root, &page, &target) {
                let shown = page.strip_prefix(root).unwrap().display();
                broken_links.push(format!("{shown}:{line}: ({target}): {why}"));
            }
        }
    }
    broken_links
}

#[test]
fn every_relative_link_and_anchor_resolves_inside_the_repository() {
    let root = workspace();
    let broken = broken_links(&root);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // Every page of docs/ is reachable from the front page.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for page in pages(&root).iter().skip(1) {
        let name = page.file_name().unwrap().to_string_lossy();
        assert!(
            readme.contains(&format!("docs/{name}")),
            "README.md does not link docs/{name}"
        );
    }
}

#[test]
fn the_check_finds_a_broken_file_anchor_and_escape() {
    let root = workspace();
    let page = root.join("docs/guide.md");
    assert_eq!(broken(&root, &page, "architecture.md"), None);
    assert_eq!(broken(&root, &page, "#errors"), None);
    assert_eq!(broken(&root, &page, "https://example.com/x#y"), None);
    assert!(broken(&root, &page, "no-such-page.md").is_some());
    assert!(broken(&root, &page, "architecture.md#no-such-heading").is_some());
    assert!(broken(&root, &page, "../../shared/spec/API.md").is_some());
    assert_eq!(
        slug(" Retry creations safely: Idempotency-Key"),
        "retry-creations-safely-idempotency-key"
    );
    assert_eq!(
        slug(" `Idempotency-Key` on every POST"),
        "idempotency-key-on-every-post"
    );
    let repeated = anchors("# A\n## A\n```\n# not a heading\n```\n");
    assert_eq!(repeated, BTreeSet::from(["a".to_owned(), "a-1".to_owned()]));
}
