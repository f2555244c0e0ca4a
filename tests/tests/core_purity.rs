//! The core's promise, checked on its source: grantflow reads no clock, draws
//! no OS entropy, opens no socket and touches no file.
//!
//! The primary check is clippy, on resolved paths: `crates/grantflow/clippy.toml`
//! lists `disallowed-methods` and `disallowed-types` (`SystemTime::now`,
//! `TcpStream`, `std::fs::File`, `ring::rand::SystemRandom`, …), and
//! `cargo clippy --workspace --all-targets -- -D warnings` in `.ci/run` fails on
//! any of them however it is spelled: behind a `use … as` alias, a glob import
//! or a re-export. The substring scan below is a second, cruder net: it needs no
//! compiler and catches a name that clippy.toml does not list yet (and
//! `std::env`/`std::fs` as whole modules), at the price of missing aliases.
//! `.ci/run` checks the other half: no HTTP client, async runtime or tokio in
//! the core's dependency tree.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

/// What the core must never call, and why. The second net: clippy.toml's
/// `disallowed-methods`/`disallowed-types` are the primary, path-resolved
/// check; a name added there is worth adding here too.
const FORBIDDEN: [(&str, &str); 15] = [
    ("SystemTime::now", "reads the clock"),
    ("Instant::now", "reads the clock"),
    ("TcpStream", "opens sockets"),
    ("TcpListener", "opens sockets"),
    ("UdpSocket", "opens sockets"),
    ("ToSocketAddrs", "resolves names"),
    ("UnixStream", "opens sockets"),
    ("std::fs", "touches files"),
    ("getrandom", "draws OS entropy"),
    ("OsRng", "draws OS entropy"),
    ("thread_rng", "draws OS entropy"),
    ("SystemRandom", "draws OS entropy (ring's generator)"),
    ("ring::rand", "draws OS entropy (ring's generator)"),
    ("std::thread::sleep", "blocks"),
    ("std::env", "reads the environment"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Line by line, outside `//` comments: a plain substring match, so an alias
/// (`use std::time::SystemTime as Clock; Clock::now()`) slips through here and
/// is caught by clippy instead.
#[test]
fn the_core_source_does_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/grantflow/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() >= 10,
        "found only {files:?}: is the path right?"
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            // Docs may name what the code must not call.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (pattern, why) in FORBIDDEN {
                if line.contains(pattern) {
                    offences.push(format!(
                        "{}:{}: {pattern} ({why})",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the core must do no IO:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_core_manifest_has_no_io_dependencies() {
    let manifest = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/grantflow/Cargo.toml"),
    )
    .unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("the core has a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    for crate_name in [
        "ureq",
        "reqwest",
        "hyper",
        "tokio",
        "async-std",
        "smol",
        "getrandom",
        "curl",
    ] {
        assert!(
            !dependencies
                .lines()
                .any(|l| l.trim_start().starts_with(crate_name)),
            "the core depends on {crate_name}"
        );
    }
}
