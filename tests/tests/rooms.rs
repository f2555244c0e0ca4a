//! The core's layering, checked on its source.
//!
//! `crates/grantflow/src` is split into rooms: a room is the first path
//! segment under `src/` (`error.rs`, `jose/`, `grants/`, …). Each room sits in
//! a layer of [`LAYERS`], and a room may import only rooms of a **strictly
//! lower** layer. Same-layer imports are refused too, so no cycle can form.
//!
//! Why the rule exists: each room is one concern that can be read, reviewed
//! and tested with only the rooms below it in mind. The bottom (time, errors,
//! the tolerant wire edge, JOSE) must not learn about flows, tokens or OIDC;
//! once a low room reaches up, a change at the top ripples to the bottom and
//! the rooms knot into a cycle that can no longer be understood, or split, on
//! its own.
//!
//! How it works, with no parser dependency (it finds the same edges as the
//! `rooms.py` script used for the split, and prints the graph in its format
//! under `--nocapture`, so the two can be diffed):
//!
//! 1. Comments and string/char literals are blanked out (line numbers kept),
//!    and everything from a file's first `#[cfg(test)]` line on is dropped:
//!    unit tests may reach anywhere.
//! 2. Every path to the crate root is an import of the room it names:
//!    `crate::room::…`, each item of a `crate::{a::…, b}` group, a chain of
//!    `super::` that climbs to the root, and `crate::Name` where `lib.rs`
//!    re-exports `Name` from a room (`pub use crate::room::{…, Name, …}`).
//! 3. Each edge `from -> to` must go strictly down the table; a room missing
//!    from the table fails with a request to place it. Independently, the
//!    room graph is searched for cycles (Tarjan), which must find none.
//!
//! The checker's own tests (module `checker`) feed it fake trees, to show it
//! can fail. To run it on another copy of the source (a demonstration):
//! `ROOMS_SRC=/path/to/src cargo test -p grantflow-tests --test rooms -- --ignored`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The core's rooms, bottom to top: a room may import only rooms of a strictly
/// lower layer. A new top-level module must be placed here: above every room
/// it imports, below every room that imports it.
const LAYERS: &[&[&str]] = &[
    /* 0 */ &["time", "alg"],
    /* 1 */ &["error"],
    /* 2 */ &["types", "endpoint"],
    /* 3 */ &["message"],
    /* 4 */ &["flow"],
    /* 5 */ &["wire"],
    /* 6 */ &["jose"],
    /* 7 */ &["client"],
    /* 8 */ &["token"],
    /* 9 */ &["oidc"],
    /* 10 */ &["grants", "endpoints"],
    /* 11 */ &["lifecycle"],
    /* 12 */ &["testing", "arbitrary"],
];

const WHY: &str = "\
why: a room is one concern that must be readable, reviewable and testable with only the \
rooms below it in mind (DESIGN.md: \"rooms only import downward\"). An upward or sideways \
import ties a low room (time, errors, the wire edge, JOSE) to a high one (flows, tokens, \
OIDC): a change at the top then ripples to the bottom, and the rooms knot into cycles. \
Move the shared piece down into the lowest room that needs it, or pass it in (a parameter, \
a trait the higher room implements) instead of reaching up.";

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

/// One source file: its path relative to `src/`, `/`-separated, and its text.
struct Source {
    path: String,
    text: String,
}

/// Room `from` imports room `to`, at `path:line`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    path: String,
    line: usize,
    from: String,
    to: String,
}

/// What the check found in one tree.
#[derive(Debug, Default)]
struct Findings {
    /// Every room of the tree, with the files that make it up.
    rooms: BTreeMap<String, Vec<String>>,
    /// Every import of one room by another, in file and line order.
    edges: Vec<Edge>,
    /// Rooms not placed in [`LAYERS`].
    unknown: Vec<String>,
    /// Edges that do not go strictly down [`LAYERS`].
    upward: Vec<Edge>,
    /// Strongly connected sets of rooms (each a cycle), found without the table.
    cycles: Vec<Vec<String>>,
}

impl Findings {
    fn is_clean(&self) -> bool {
        self.unknown.is_empty() && self.upward.is_empty() && self.cycles.is_empty()
    }
}

/// Reads every `.rs` file under `src`, sorted by path.
fn read_tree(src: &Path) -> Vec<Source> {
    fn walk(dir: &Path, src: &Path, out: &mut Vec<Source>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap();
                let rel: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(Source {
                    path: rel.join("/"),
                    text: fs::read_to_string(&path).unwrap(),
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(src, src, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The module path of a file relative to `src/`: `a.rs` and `a/mod.rs` are
/// `[a]`, `a/b.rs` is `[a, b]`; the crate root (`lib.rs`, `main.rs`) is `None`.
fn module_path(path: &str) -> Option<Vec<&str>> {
    let stem = path.strip_suffix(".rs")?;
    if stem == "lib" || stem == "main" {
        return None;
    }
    let mut parts: Vec<&str> = stem.split('/').collect();
    if parts.len() > 1 && parts.last() == Some(&"mod") {
        parts.pop();
    }
    Some(parts)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with every comment and string or char literal replaced by spaces
/// (newlines kept, so line numbers stay right). Lifetimes are left alone.
fn blank_comments_and_strings(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, from: usize, to: usize| {
        for &ch in &c[from..to.min(c.len())] {
            out.push(if ch == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < c.len() {
        let prev_is_ident = i > 0 && is_ident_char(c[i - 1]);
        if c[i] == '/' && at(i + 1) == '/' {
            let mut j = i;
            while j < c.len() && c[j] != '\n' {
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == '/' && at(i + 1) == '*' {
            // Block comments nest in Rust.
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if let Some(end) = (!prev_is_ident).then(|| raw_string_end(&c, i)).flatten() {
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '\'' && at(i + 1) == '\\' {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            let mut j = i + 3;
            while j < c.len() && c[j] != '\'' {
                j += 1;
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if c[i] == '\'' && at(i + 2) == '\'' {
            // A one-char literal, such as '"' or '{'.
            blank(&mut out, i, i + 3);
            i += 3;
        } else {
            // Anything else, lifetimes ('a) included.
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// If a raw string literal (`r"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`) starts at
/// `i`, the index just past its end.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut k = i;
    if matches!(c.get(k), Some('b' | 'c')) {
        k += 1;
    }
    if c.get(k) != Some(&'r') {
        return None;
    }
    k += 1;
    let hashes = c[k..].iter().take_while(|&&ch| ch == '#').count();
    k += hashes;
    if c.get(k) != Some(&'"') {
        return None;
    }
    let mut j = k + 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// The part of (blanked) code before its first `#[cfg(test)]` line.
fn before_tests(code: &str) -> &str {
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        if line.trim_start().starts_with("#[cfg(test)]") {
            return &code[..offset];
        }
        offset += line.len();
    }
    code
}

/// A tiny cursor over blanked code, for reading paths.
struct Cursor<'a> {
    code: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        let rest = &self.code[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes `token` (after any whitespace) if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        let save = self.pos;
        self.skip_space();
        if self.code[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes an identifier (after any whitespace), or nothing.
    fn ident(&mut self) -> Option<&'a str> {
        self.skip_space();
        let rest = &self.code[self.pos..];
        let len = rest
            .char_indices()
            .find(|&(_, ch)| !is_ident_char(ch))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 || rest.starts_with(|ch: char| ch.is_ascii_digit()) {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    /// Consumes `{ … }` (after any whitespace) and returns the offsets at which
    /// its top-level items start.
    fn group(&mut self) -> Option<Vec<usize>> {
        if !self.eat("{") {
            return None;
        }
        let mut items = vec![self.pos];
        let mut depth = 1;
        for (i, ch) in self.code[self.pos..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 1 => items.push(self.pos + i + 1),
                _ => {}
            }
            if depth == 0 {
                self.pos += i + 1;
                return Some(items);
            }
        }
        self.pos = self.code.len();
        Some(items)
    }
}

/// The 1-based line of byte offset `pos`.
fn line_of(code: &str, pos: usize) -> usize {
    code[..pos].matches('\n').count() + 1
}

/// Every name reached through the crate root in `code` (blanked, tests cut),
/// for a file at module path `module`: `(line, first segment after the root)`.
fn root_names_used(code: &str, module: &[&str]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    // Where the root is reached: after `crate::`, or after a `super::` chain
    // exactly as long as the file's module path.
    let mut starts = Vec::new();
    for keyword in ["crate", "super"] {
        for (pos, _) in code.match_indices(keyword) {
            let before = code[..pos].chars().next_back();
            let after = code[pos + keyword.len()..].chars().next();
            if before.is_some_and(is_ident_char) || after.is_some_and(is_ident_char) {
                continue;
            }
            if keyword == "super" && code[..pos].trim_end().ends_with("::") {
                continue; // inside a chain already counted, or `self::super`
            }
            let mut cursor = Cursor { code, pos };
            cursor.pos += keyword.len();
            if !cursor.eat("::") {
                continue;
            }
            if keyword == "super" {
                let mut climbed = 1;
                loop {
                    let save = cursor.pos;
                    if cursor.ident() == Some("super") && cursor.eat("::") {
                        climbed += 1;
                    } else {
                        cursor.pos = save;
                        break;
                    }
                }
                if climbed != module.len() {
                    continue;
                }
            }
            starts.push(cursor.pos);
        }
    }
    for start in starts {
        let mut cursor = Cursor { code, pos: start };
        if let Some(items) = cursor.group() {
            for item in items {
                let mut item_cursor = Cursor { code, pos: item };
                if let Some(name) = item_cursor.ident() {
                    found.push((line_of(code, item_cursor.pos), name.to_string()));
                }
            }
        } else if let Some(name) = cursor.ident() {
            found.push((line_of(code, cursor.pos), name.to_string()));
        }
    }
    found.retain(|(_, name)| !matches!(name.as_str(), "self" | "super" | "crate"));
    found.sort();
    found
}

/// What `lib.rs` puts at the crate root: the modules it declares, and each
/// name it re-exports from a room (`pub use crate::room::{…}`, `pub use
/// room::Name as Alias`, `pub use crate::{room::Name, …}`), with that room.
fn crate_root(lib: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    let mut names = BTreeMap::new();
    for keyword in ["mod", "use"] {
        for (pos, _) in lib.match_indices(keyword) {
            let before = lib[..pos].chars().next_back();
            let after = lib[pos + keyword.len()..].chars().next();
            if before.is_some_and(is_ident_char) || !after.is_some_and(char::is_whitespace) {
                continue;
            }
            let mut cursor = Cursor {
                code: lib,
                pos: pos + keyword.len(),
            };
            if keyword == "mod" {
                if let Some(name) = cursor.ident() {
                    modules.insert(name.to_string());
                }
                continue;
            }
            let _ = cursor.eat("::");
            if cursor.eat("crate") || cursor.eat("self") {
                let _ = cursor.eat("::");
            }
            let end = lib[cursor.pos..]
                .find(';')
                .map_or(lib.len(), |e| cursor.pos + e);
            let declaration = &lib[cursor.pos..end];
            // Either one `room::rest` or a group of them.
            let trees: Vec<&str> = match declaration.trim_start().strip_prefix('{') {
                Some(group) => split_top_level(group.trim_end().trim_end_matches('}')),
                None => vec![declaration],
            };
            for tree in trees {
                let Some((room, rest)) = tree.trim().split_once("::") else {
                    continue;
                };
                let room = room.trim();
                if !room.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_') {
                    continue;
                }
                for name in rest.split(|ch: char| !is_ident_char(ch)) {
                    if !name.is_empty() && !matches!(name, "self" | "as" | "crate" | "super") {
                        names
                            .entry(name.to_string())
                            .or_insert_with(|| room.to_string());
                    }
                }
            }
        }
    }
    (modules, names)
}

/// `a, b::{c, d}, e` split at its top-level commas.
fn split_top_level(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in group.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// The layer of `room` in [`LAYERS`].
fn layer_of(room: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&room))
}

/// Every import of one room by another in the tree, and the rooms themselves.
fn room_edges(sources: &[Source]) -> (BTreeMap<String, Vec<String>>, Vec<Edge>) {
    let lib = sources
        .iter()
        .find(|s| s.path == "lib.rs")
        .map(|s| blank_comments_and_strings(&s.text))
        .unwrap_or_default();
    let (declared, exported) = crate_root(before_tests(&lib));
    let mut rooms: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for module in declared {
        rooms.entry(module).or_default();
    }
    for source in sources {
        if let Some(module) = module_path(&source.path) {
            rooms
                .entry(module[0].to_string())
                .or_default()
                .push(source.path.clone());
        }
    }
    let mut edges = Vec::new();
    for source in sources {
        let Some(module) = module_path(&source.path) else {
            continue;
        };
        let from = module[0];
        let code = blank_comments_and_strings(&source.text);
        for (line, name) in root_names_used(before_tests(&code), &module) {
            let to = exported.get(&name).unwrap_or(&name);
            if to != from && rooms.contains_key(to) {
                edges.push(Edge {
                    path: source.path.clone(),
                    line,
                    from: from.to_string(),
                    to: to.clone(),
                });
            }
        }
    }
    edges.sort();
    edges.dedup();
    (rooms, edges)
}

/// The room graph: each room and the rooms it imports.
fn graph(
    rooms: &BTreeMap<String, Vec<String>>,
    edges: &[Edge],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> =
        rooms.keys().map(|r| (r.clone(), BTreeSet::new())).collect();
    for edge in edges {
        graph
            .entry(edge.from.clone())
            .or_default()
            .insert(edge.to.clone());
    }
    graph
}

/// The cycles of a graph: its strongly connected components of more than one
/// room, or of one room that imports itself (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        next: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let graph = self.graph;
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            for w in graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                let self_loop = graph.get(v).is_some_and(|out| out.contains(v));
                if component.len() > 1 || self_loop {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

/// Runs every check on a tree.
fn check(sources: &[Source]) -> Findings {
    let (rooms, edges) = room_edges(sources);
    let unknown = rooms
        .keys()
        .filter(|room| layer_of(room).is_none())
        .cloned()
        .collect();
    let upward = edges
        .iter()
        .filter(|e| match (layer_of(&e.from), layer_of(&e.to)) {
            (Some(from), Some(to)) => to >= from,
            _ => false, // reported as unknown rooms
        })
        .cloned()
        .collect();
    let cycles = cycles(&graph(&rooms, &edges));
    Findings {
        rooms,
        edges,
        unknown,
        upward,
        cycles,
    }
}

/// The room graph in the format of `rooms.py`, so the two can be diffed.
fn render_graph(findings: &Findings) -> String {
    let mut out = String::new();
    for (room, targets) in graph(&findings.rooms, &findings.edges) {
        let targets: Vec<_> = targets.into_iter().collect();
        writeln!(out, "{room} -> {}", targets.join(", ")).unwrap();
    }
    for cycle in &findings.cycles {
        writeln!(out, "CYCLE ({} rooms): {}", cycle.len(), cycle.join(" ")).unwrap();
    }
    writeln!(
        out,
        "rooms {}, cycles {}, rooms in cycles {}",
        findings.rooms.len(),
        findings.cycles.len(),
        findings.cycles.iter().map(Vec::len).sum::<usize>()
    )
    .unwrap();
    out
}

/// The failure message: every offence, where it is, and why the rule exists.
fn failure_message(findings: &Findings, src_label: &str) -> String {
    let mut out = format!("the core's rooms must import only downward ({src_label}):\n");
    if !findings.upward.is_empty() {
        out.push_str(
            "\nimports that do not go strictly down the layer table \
             (same-layer imports are refused too):\n",
        );
        for e in &findings.upward {
            let (from, to) = (layer_of(&e.from).unwrap(), layer_of(&e.to).unwrap());
            writeln!(
                out,
                "  {src_label}/{}:{}: {} -> {}   (layer {from} imports layer {to})",
                e.path, e.line, e.from, e.to
            )
            .unwrap();
        }
    }
    if !findings.unknown.is_empty() {
        out.push_str("\nrooms missing from the layer table:\n");
        for room in &findings.unknown {
            let files = &findings.rooms[room];
            let list = |rooms: BTreeSet<&str>| {
                if rooms.is_empty() {
                    "none".to_string()
                } else {
                    rooms.into_iter().collect::<Vec<_>>().join(", ")
                }
            };
            let imports = findings
                .edges
                .iter()
                .filter(|e| &e.from == room)
                .map(|e| e.to.as_str())
                .collect();
            let imported_by = findings
                .edges
                .iter()
                .filter(|e| &e.to == room)
                .map(|e| e.from.as_str())
                .collect();
            writeln!(
                out,
                "  `{room}` ({}): place it in LAYERS in tests/tests/rooms.rs, in a layer above \
                 every room it imports ({}) and below every room that imports it ({})",
                if files.is_empty() {
                    "declared in lib.rs".to_string()
                } else {
                    files.join(", ")
                },
                list(imports),
                list(imported_by)
            )
            .unwrap();
        }
    }
    if !findings.cycles.is_empty() {
        out.push_str("\ncycles between rooms:\n");
        for cycle in &findings.cycles {
            writeln!(
                out,
                "  {{{}}}: each of these rooms reaches the others through imports",
                cycle.join(", ")
            )
            .unwrap();
        }
    }
    let layers: Vec<String> = LAYERS.iter().map(|layer| layer.join(", ")).collect();
    writeln!(out, "\nlayers, bottom to top: {}", layers.join("  ->  ")).unwrap();
    out.push('\n');
    out.push_str(WHY);
    out
}

// ---------------------------------------------------------------------------
// The checks on the real tree
// ---------------------------------------------------------------------------

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/grantflow/src")
}

/// Reads a tree and makes sure it is the core's source, not an empty folder.
fn read_core(src: &Path) -> Vec<Source> {
    let sources = read_tree(src);
    assert!(
        sources.len() >= 10 && sources.iter().any(|s| s.path == "lib.rs"),
        "found only {:?} under {}: is the path right?",
        sources.iter().map(|s| &s.path).collect::<Vec<_>>(),
        src.display()
    );
    sources
}

fn assert_layered(src: &Path, label: &str) {
    let findings = check(&read_core(src));
    println!("{}", render_graph(&findings));
    assert!(
        findings.rooms.contains_key("error") && !findings.edges.is_empty(),
        "no rooms or no imports found under {label}: the checker is reading the wrong thing"
    );
    assert!(findings.is_clean(), "{}", failure_message(&findings, label));
}

#[test]
fn the_real_tree_is_layered() {
    assert_layered(&core_src(), "crates/grantflow/src");
}

/// The second, independent net: no cycle in the room graph, whatever the table says.
#[test]
fn the_real_tree_has_no_cycles() {
    let (rooms, edges) = room_edges(&read_core(&core_src()));
    let cycles = cycles(&graph(&rooms, &edges));
    assert!(
        cycles.is_empty(),
        "the core's rooms import each other in circles: {cycles:?}\n\n{WHY}"
    );
}

/// The same check on another copy of the source, for demonstrations:
/// `ROOMS_SRC=/tmp/copy/src cargo test -p grantflow-tests --test rooms -- --ignored`.
#[test]
#[ignore = "reads ROOMS_SRC; run by hand on a copy of the source"]
fn another_tree_is_layered() {
    let src = std::env::var("ROOMS_SRC").expect("set ROOMS_SRC to a copy of crates/grantflow/src");
    assert_layered(Path::new(&src), &src);
}

// ---------------------------------------------------------------------------
// The checker's own tests, on fake trees: it can fail
// ---------------------------------------------------------------------------

mod checker {
    use super::*;

    const LIB: &str = "\
mod alg;
mod client;
mod endpoint;
mod error;
mod grants;
mod jose;
mod oidc;
mod time;
mod types;
mod wire;

pub use crate::oidc::{Discovery, IdToken};
pub use crate::time::UnixTime;
pub use crate::grants::ClientCredentials as Credentials;
pub use crate::{jose::Jwk, token::parse_token_response};
";

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        let mut sources: Vec<Source> = files
            .iter()
            .map(|(path, text)| Source {
                path: (*path).to_string(),
                text: (*text).to_string(),
            })
            .collect();
        if !files.iter().any(|(path, _)| *path == "lib.rs") {
            sources.push(Source {
                path: "lib.rs".to_string(),
                text: LIB.to_string(),
            });
        }
        sources
    }

    fn edge(path: &str, line: usize, from: &str, to: &str) -> Edge {
        Edge {
            path: path.to_string(),
            line,
            from: from.to_string(),
            to: to.to_string(),
        }
    }

    #[test]
    fn a_clean_tree_passes_and_its_imports_are_all_seen() {
        let findings = check(&tree(&[
            ("time.rs", "pub struct UnixTime(u64);\n"),
            ("alg.rs", "pub enum Algorithm {}\n"),
            (
                "error.rs",
                "use crate::time::UnixTime;\nuse crate::alg::Algorithm;\n",
            ),
            ("types.rs", "use crate::{error::Error, UnixTime};\n"),
            ("endpoint.rs", "use crate::error::Error;\n"),
            ("wire/mod.rs", "mod json;\nuse crate::error::Error;\n"),
            (
                "wire/json.rs",
                "use super::Limit;\nuse crate::types::Scope;\n",
            ),
            (
                "jose/mod.rs",
                "mod jws;\npub fn f() -> crate::error::Result<()> { Ok(()) }\n",
            ),
            (
                "jose/jws.rs",
                "use super::super::wire::Reader;\nuse super::Jwk;\n",
            ),
            (
                "oidc/mod.rs",
                "use crate::{\n    jose::Jwk,\n    wire::{self, Reader},\n};\n",
            ),
            (
                "client/mod.rs",
                "use crate::endpoint::EndpointUrl;\n\
                 // use crate::oidc::IdToken;  (a comment may name anything)\n\
                 /* crate::grants */\n\
                 const DOC: &str = \"crate::oidc::Discovery\";\n\
                 const RAW: &str = r#\"use crate::grants::X;\"#;\n\
                 fn lifetimes<'a>(s: &'a str) -> char { let _ = s; '\"' }\n\
                 use crate::jose::Jwk;\n\
                 #[cfg(test)]\n\
                 mod tests { use crate::grants::ClientCredentials; use crate::IdToken; }\n",
            ),
            (
                "grants/mod.rs",
                "use crate::Credentials;\nuse crate::IdToken;\nuse crate::oidc::Discovery;\n",
            ),
        ]));
        assert!(
            findings.is_clean(),
            "{}",
            failure_message(&findings, "fake")
        );
        assert_eq!(
            findings.edges,
            vec![
                edge("client/mod.rs", 1, "client", "endpoint"),
                edge("client/mod.rs", 7, "client", "jose"),
                edge("endpoint.rs", 1, "endpoint", "error"),
                edge("error.rs", 1, "error", "time"),
                edge("error.rs", 2, "error", "alg"),
                edge("grants/mod.rs", 2, "grants", "oidc"),
                edge("grants/mod.rs", 3, "grants", "oidc"),
                edge("jose/jws.rs", 1, "jose", "wire"),
                edge("jose/mod.rs", 2, "jose", "error"),
                edge("oidc/mod.rs", 2, "oidc", "jose"),
                edge("oidc/mod.rs", 3, "oidc", "wire"),
                edge("types.rs", 1, "types", "error"),
                edge("types.rs", 1, "types", "time"),
                edge("wire/json.rs", 2, "wire", "types"),
                edge("wire/mod.rs", 2, "wire", "error"),
            ],
            "`crate::Credentials` is grants itself; `super::Limit` and `super::Jwk` stay inside their room"
        );
    }

    #[test]
    fn an_upward_import_is_reported_with_file_line_and_edge() {
        let findings = check(&tree(&[
            ("time.rs", ""),
            ("jose/mod.rs", "use crate::alg::Algorithm;\n"),
            (
                "error.rs",
                "//! Errors.\n\nuse crate::time::UnixTime;\n\nuse crate::jose::JwsError;\n",
            ),
        ]));
        assert_eq!(findings.upward, vec![edge("error.rs", 5, "error", "jose")]);
        assert!(
            findings.cycles.is_empty(),
            "an upward edge alone is no cycle"
        );
        let message = failure_message(&findings, "src");
        assert!(
            message.contains("src/error.rs:5: error -> jose")
                && message.contains("layer 1 imports layer 6")
                && message.contains("why:"),
            "{message}"
        );
    }

    #[test]
    fn imports_through_root_reexports_groups_and_super_are_reported() {
        let findings = check(&tree(&[
            ("error.rs", "use crate::IdToken;\n"),
            (
                "time.rs",
                "use crate::{alg::Algorithm, parse_token_response};\n",
            ),
            ("token/mod.rs", "pub fn parse_token_response() {}\n"),
            ("alg.rs", ""),
            ("wire/mod.rs", "mod json;\n"),
            ("wire/json.rs", "use super::super::grants::Credentials;\n"),
            ("grants/mod.rs", ""),
            ("oidc/mod.rs", ""),
        ]));
        assert_eq!(
            findings.upward,
            vec![
                edge("error.rs", 1, "error", "oidc"),
                edge("time.rs", 1, "time", "alg"),
                edge("time.rs", 1, "time", "token"),
                edge("wire/json.rs", 1, "wire", "grants"),
            ],
            "a root re-export, each item of a group (same layer too) and a super chain"
        );
    }

    #[test]
    fn a_cycle_is_found_without_the_table() {
        let findings = check(&tree(&[
            ("types.rs", "use crate::endpoint::EndpointUrl;\n"),
            ("endpoint.rs", "pub fn f(_: crate::types::ClientId) {}\n"),
            ("error.rs", ""),
        ]));
        assert_eq!(findings.cycles, vec![vec!["endpoint", "types"]]);
        // Both edges stay within layer 2: the table refuses them as well.
        assert_eq!(findings.upward.len(), 2);
        assert!(
            failure_message(&findings, "src")
                .contains("{endpoint, types}: each of these rooms reaches")
        );

        // Tarjan on its own: a three-room circle plus a tail, and a self-loop.
        let g = |pairs: &[(&str, &str)]| {
            let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (a, b) in pairs {
                g.entry((*a).to_string())
                    .or_default()
                    .insert((*b).to_string());
                g.entry((*b).to_string()).or_default();
            }
            g
        };
        assert_eq!(
            cycles(&g(&[
                ("wire", "jose"),
                ("jose", "client"),
                ("client", "wire"),
                ("client", "error"),
                ("oidc", "error"),
            ])),
            vec![vec!["client", "jose", "wire"]]
        );
        assert_eq!(cycles(&g(&[("a", "a")])), vec![vec!["a"]]);
        assert!(
            cycles(&g(&[
                ("grants", "oidc"),
                ("oidc", "jose"),
                ("grants", "jose")
            ]))
            .is_empty()
        );
    }

    #[test]
    fn a_room_missing_from_the_table_is_reported() {
        let findings = check(&tree(&[
            ("error.rs", ""),
            ("storage/mod.rs", "use crate::error::Error;\n"),
            ("grants/mod.rs", "use crate::storage::Store;\n"),
        ]));
        assert_eq!(findings.unknown, vec!["storage"]);
        let message = failure_message(&findings, "src");
        assert!(
            message.contains("`storage` (storage/mod.rs): place it in LAYERS"),
            "{message}"
        );
    }

    #[test]
    fn the_lexer_keeps_lines_and_code() {
        let code = blank_comments_and_strings(
            "a /* x\n /* nested */ y */ b\n\"s\\\"t\" '\\'' 'c' r##\"q\"#\"## &'a d // e\nf",
        );
        assert_eq!(code.lines().count(), 4);
        let words: Vec<&str> = code.split_whitespace().collect();
        assert_eq!(words, ["a", "b", "&'a", "d", "f"]);
        assert_eq!(before_tests("x\n  #[cfg(test)]\ny\n"), "x\n");
        assert_eq!(module_path("a/b/mod.rs"), Some(vec!["a", "b"]));
        assert_eq!(module_path("lib.rs"), None);
    }
}
