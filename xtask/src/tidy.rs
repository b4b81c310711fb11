//! Tidy checks on xtask's own source, as ordinary tests (rust-analyzer style): the layers of
//! `docs/architecture.md`, read from the one table [`LAYERS`], hold for every `crate::` and
//! `super::` path in `xtask/src`, and no import cycle is left between modules.
//!
//! The scan is textual and small on purpose: it reads each file's module paths (`use` lines
//! and inline paths alike), skipping `//` comments and string literals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first. A module may use modules of the layers below its own, never above;
/// within one layer only itself (its own files), except [`ORCHESTRATION`] between commands.
/// Every top-level module of `xtask/src` must be in exactly one layer (`main` is main.rs).
pub const LAYERS: &[(&str, &[&str])] = &[
    ("entry and tests of the crate itself", &["main", "tidy", "workflow_contract"]),
    ("commands: one module per subcommand", &["commands"]),
    ("libraries", &["promote"]),
    ("libraries", &["deploy"]),
    ("libraries", &["permissions"]),
    ("libraries", &["ops"]),
    ("libraries", &["terraform"]),
    ("libraries", &["env"]),
    ("running steps", &["run"]),
    ("the tool catalog", &["tools"]),
    ("base helpers and test fixtures", &["base", "testkit"]),
];

/// File-level cycles tolerated for now: none. A new cycle fails the test; if one must be kept
/// for a while, list it here with the issue that breaks it.
pub const KNOWN_CYCLES: &[&[&str]] = &[];

/// The only imports between two commands: orchestration through the other's public entry points.
pub const ORCHESTRATION: &[(&str, &str)] = &[("ci", "lint"), ("ci", "test"), ("ci", "coverage"), ("coverage", "test")];

/// Module path (`["commands", "test", "cache"]`; `[]` is main.rs) of every file under `src`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "main")) {
                parts.pop();
            }
            (parts, file)
        })
        .collect()
}

/// The source with comments and string/char literals blanked (same line structure).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            // Raw string r"..." / r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while j < chars.len() && !chars[j..].iter().take(close.len()).copied().eq(close.chars()) {
                if chars[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + close.len();
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && next.is_some_and(|n| n != '\\') && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // '\n', '\'', '\u{..}'
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Every path that starts with `crate` or `super`, as segments (`use a::{b, c::d}` gives two),
/// with how many inline modules (`mod tests { .. }`) enclose it.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    // Brace depths at which inline modules opened.
    let mut inline: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            if inline.last() == Some(&depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        if !(c.is_alphabetic() || c == '_') || prev_is_ident(&chars, i) {
            i += 1;
            continue;
        }
        let (word, end) = ident(&chars, i);
        if word == "mod" {
            // `mod name {` opens an inline module; `mod name;` is a file.
            let (_, after_name) = ident(&chars, skip_ws(&chars, end));
            if chars.get(skip_ws(&chars, after_name)) == Some(&'{') {
                inline.push(depth);
            }
            i = after_name.max(end);
            continue;
        }
        // `pub(crate)`, `pub(super)`: no path.
        if (word == "crate" || word == "super") && starts_with(&chars, end, "::") {
            let mut found = Vec::new();
            let end = read_path(&chars, i, Vec::new(), &mut found);
            out.extend(found.into_iter().map(|p| (inline.len(), p)));
            i = end;
            continue;
        }
        i = end;
    }
    out
}

fn ident(chars: &[char], start: usize) -> (String, usize) {
    let mut end = start;
    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    (chars[start..end].iter().collect(), end)
}

fn skip_ws(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn starts_with(chars: &[char], i: usize, s: &str) -> bool {
    chars[i.min(chars.len())..].iter().take(s.len()).copied().eq(s.chars())
}

/// Read `a::b::{c, d::e}` from `i`; push every full path onto `found`; return where it ends.
fn read_path(chars: &[char], mut i: usize, mut prefix: Vec<String>, found: &mut Vec<Vec<String>>) -> usize {
    loop {
        i = skip_ws(chars, i);
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_ws(chars, i);
                match chars.get(i) {
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    Some(c) if c.is_alphabetic() || *c == '_' || *c == '*' => {
                        i = read_path(chars, i, prefix.clone(), found);
                    }
                    Some(_) => i += 1,
                    None => return i,
                }
            }
        }
        if chars.get(i) == Some(&'*') {
            found.push(prefix);
            return i + 1;
        }
        let (word, end) = ident(chars, i);
        if word.is_empty() {
            found.push(prefix);
            return i;
        }
        if word != "self" {
            prefix.push(word);
        }
        i = end;
        if starts_with(chars, i, "::") {
            i += 2;
        } else {
            found.push(prefix);
            // `as alias` names nothing new.
            let after = skip_ws(chars, i);
            let (word, end) = ident(chars, after);
            if word == "as" {
                return ident(chars, skip_ws(chars, end)).1;
            }
            return i;
        }
    }
}

/// The module a path names: the longest prefix of it that is a module.
fn resolve(from: &[String], inline: usize, path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let (base, rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("super") => {
            let mut base = from.to_vec();
            let supers = path.iter().take_while(|s| *s == "super").count();
            // The first `super`s leave inline modules (still this file); the others go up.
            for _ in 0..supers.saturating_sub(inline) {
                base.pop()?;
            }
            (base, &path[supers..])
        }
        _ => return None,
    };
    let mut full = base;
    full.extend(rest.iter().cloned());
    (0..=full.len()).rev().map(|n| full[..n].to_vec()).find(|p| known.contains(p))
}

fn top(module: &[String]) -> &str {
    module.first().map_or("main", String::as_str)
}

fn rank(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// Why `from` may not use `to`, if it may not.
fn violation(from: &[String], to: &[String]) -> Option<String> {
    let (a, b) = (top(from), top(to));
    let Some(ra) = rank(a) else { return Some(format!("module `{a}` is in no layer of tidy::LAYERS")) };
    let Some(rb) = rank(b) else { return Some(format!("module `{b}` is in no layer of tidy::LAYERS")) };
    if a == b {
        if a == "commands" && from.len() > 1 && to.len() > 1 && from[1] != to[1] {
            let (x, y) = (from[1].as_str(), to[1].as_str());
            if !ORCHESTRATION.contains(&(x, y)) {
                return Some(format!("command `{x}` uses command `{y}` (sideways; move the shared part down a layer)"));
            }
        }
        return None;
    }
    if a == "main" {
        return None;
    }
    match rb.cmp(&ra) {
        std::cmp::Ordering::Greater => None,
        std::cmp::Ordering::Equal => Some(format!("`{a}` uses `{b}` in the same layer (sideways)")),
        std::cmp::Ordering::Less => Some(format!("`{a}` uses `{b}`, a layer above it (upward)")),
    }
}

/// Every module-to-module use in `src`: (from, to, file, path as written).
fn uses(src: &Path) -> Vec<(Vec<String>, Vec<String>, PathBuf, String)> {
    let mods = modules(src);
    let known: BTreeSet<Vec<String>> = mods.keys().cloned().collect();
    let mut out = Vec::new();
    for (module, file) in &mods {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (inline, path) in paths(&code) {
            if let Some(to) = resolve(module, inline, &path, &known) {
                out.push((module.clone(), to, file.clone(), path.join("::")));
            }
        }
    }
    out
}

/// Layer violations in the tree at `src`, one line each.
pub fn check_layers(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (from, to, file, written) in uses(src) {
        if let Some(why) = violation(&from, &to)
            && seen.insert((file.clone(), to.clone()))
        {
            let rel = file.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(&file);
            out.push(format!("{}: `{written}`: {why}", rel.display()));
        }
    }
    out
}

/// Cycles between modules: at the level of top-level modules (each command on its own) and of
/// files. Only `crate::` and `super::` paths are read: a parent using its own children by a
/// relative path (`engine::run` in deploy/mod.rs) is the module tree, not counted as a use.
pub fn cycles(src: &Path) -> Vec<String> {
    let mut files: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut tops: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let unit = |m: &[String]| -> Vec<String> {
        let n = if m.first().is_some_and(|t| t == "commands") { 2 } else { 1 };
        m.iter().take(n).cloned().collect()
    };
    // An edge into test-only code (a `testkit` or `tests` module, compiled only under
    // cfg(test)) can only come from test code: it is no part of the program's graph, and a
    // fixture may use the code it tests.
    let test_only = |m: &[String]| m.iter().any(|s| s == "testkit" || s == "tests");
    for (from, to, _, _) in uses(src) {
        if test_only(&to) {
            continue;
        }
        if from != to {
            files.entry(from.clone()).or_default().insert(to.clone());
        }
        let (a, b) = (unit(&from), unit(&to));
        if a != b && !a.is_empty() {
            tops.entry(a).or_default().insert(b);
        }
    }
    let mut out = Vec::new();
    for (what, graph) in [("modules", &tops), ("files", &files)] {
        let mut graph = graph.clone();
        while let Some(cycle) = find_cycle(&graph) {
            let names: Vec<String> =
                cycle.iter().map(|m| if m.is_empty() { "main".into() } else { m.join("::") }).collect();
            if !KNOWN_CYCLES.iter().any(|k| rotated(k) == rotated(&names)) {
                out.push(format!("{what}: {}", names.join(" -> ")));
            }
            // Drop the closing edge and look for another.
            let (a, b) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
            graph.get_mut(a).map(|next| next.remove(b));
        }
    }
    out
}

/// A cycle `a -> b -> a` written from its smallest module, so any starting point compares equal.
fn rotated(cycle: &[impl AsRef<str>]) -> Vec<String> {
    let ring: Vec<String> = cycle.iter().skip(1).map(|s| s.as_ref().to_owned()).collect();
    let start = ring.iter().enumerate().min_by_key(|(_, s)| s.as_str()).map_or(0, |(i, _)| i);
    ring[start..].iter().chain(&ring[..start]).cloned().collect()
}

/// One cycle of a directed graph (depth-first search), if any.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph.keys().find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    #[test]
    fn every_import_points_down_a_layer() {
        let found = check_layers(&src());
        assert!(found.is_empty(), "imports against the layers (docs/architecture.md):\n{}", found.join("\n"));
    }

    #[test]
    fn no_import_cycle_is_left() {
        let found = cycles(&src());
        assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
    }

    #[test]
    fn every_top_level_module_is_in_one_layer() {
        let tops: BTreeSet<String> = modules(&src()).keys().map(|m| top(m).to_owned()).collect();
        for t in &tops {
            let n = LAYERS.iter().filter(|(_, mods)| mods.contains(&t.as_str())).count();
            assert_eq!(n, 1, "`{t}` must be in exactly one layer of tidy::LAYERS");
        }
    }

    /// The checker itself: planted files in a scratch tree are caught, allowed ones are not.
    #[test]
    fn a_planted_upward_or_sideways_import_is_caught() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let src = dir.join("src");
        for (file, text) in [
            ("main.rs", "mod base; mod commands; mod tools;\nuse crate::commands::lint;\n"),
            ("base/mod.rs", "pub mod paths;\n"),
            ("base/paths.rs", "// crate::tools in a comment is fine\nconst S: &str = \"crate::tools\";\n"),
            ("tools/mod.rs", "use crate::base::paths;\nfn f() { crate::commands::lint::run(); }\n"),
            ("commands/mod.rs", "pub mod ci; pub mod lint; pub mod image;\n"),
            ("commands/ci.rs", "use crate::commands::lint;\nuse super::image::{self, Built};\n"),
            ("commands/lint.rs", "use crate::{base::paths, tools};\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n"),
            ("commands/image.rs", "use crate::tools;\n"),
        ] {
            let path = src.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut found = check_layers(&src);
        found.sort();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            found,
            [
                "src/commands/ci.rs: `super::image`: command `ci` uses command `image` (sideways; move the shared part down a layer)",
                "src/tools/mod.rs: `crate::commands::lint::run`: `tools` uses `commands`, a layer above it (upward)",
            ]
        );
    }

    #[test]
    fn a_cycle_is_found_from_any_start_and_a_diamond_is_not_one() {
        let g = |edges: &[(&str, &str)]| {
            let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
            for (a, b) in edges {
                graph.entry(vec![a.to_string()]).or_default().insert(vec![b.to_string()]);
            }
            graph
        };
        let cycle = find_cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
        assert_eq!(cycle.len(), 4, "{cycle:?}");
        assert_eq!(rotated(&["b", "c", "a", "b"]), rotated(&cycle.iter().map(|m| m.join("::")).collect::<Vec<_>>()));
        assert!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("a", "c")])).is_none());
    }

    #[test]
    fn paths_are_read_through_groups_renames_and_inline_modules() {
        let code = code_only(
            "use crate::a::{b, c::{d as e, self}};\nmod tests { use super::*; fn f() { super::super::g(); } }\n",
        );
        let got: Vec<(usize, String)> = paths(&code).into_iter().map(|(n, p)| (n, p.join("::"))).collect();
        assert_eq!(
            got,
            [
                (0, "crate::a::b".to_owned()),
                (0, "crate::a::c::d".to_owned()),
                (0, "crate::a::c".to_owned()),
                (1, "super".to_owned()),
                (1, "super::super::g".to_owned()),
            ]
        );
    }
}
