//! The session and the codec stay sans-IO: no async runtime or IO crate in
//! their normal dependency trees, and no network, file system, clock,
//! thread or task spawning in their sources (comments, doc examples and
//! string literals aside).

use std::path::{Path, PathBuf};

#[path = "../../mqtt-client/tests/support/cargo_tree.rs"]
mod cargo_tree;

/// Crates that bring IO or an executor.
const FORBIDDEN_CRATES: [&str; 7] = [
    "tokio",
    "async-std",
    "smol",
    "futures-io",
    "futures",
    "mio",
    "async-io",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_path_buf()
}

/// Crate names in `cargo tree -p <package> -e normal --prefix none`.
fn normal_dependencies(package: &str) -> Vec<String> {
    cargo_tree::packages(package, &["-e", "normal"])
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn assert_no_io_crates(package: &str, expected: &str) {
    let names = normal_dependencies(package);
    assert!(
        names.iter().any(|n| n == expected),
        "{package} should depend on {expected}: {names:?}"
    );
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN_CRATES.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "{package} depends on IO or runtime crates: {found:?}"
    );
}

#[test]
fn session_dependencies_have_no_io_or_runtime() {
    assert_no_io_crates("sansmqtt-session", "sansmqtt-proto");
}

#[test]
fn proto_dependencies_have_no_io_or_runtime() {
    assert_no_io_crates("sansmqtt-proto", "bytes");
}

// ------------------------------------------------------- source scanning

/// A token of Rust source, comments and literals dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokenizes Rust source, leaving out comments (line, block, doc, with the
/// doc examples they contain), string, byte-string, raw-string and char
/// literals and numbers. Lifetimes become their identifier.
fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    let mut out = Vec::new();
    let mut i = 0;
    // Skips a quoted literal starting at the opening quote `c[i]`.
    let skip_quoted = |mut i: usize, quote: char| -> usize {
        i += 1;
        while i < n && c[i] != quote {
            i += if c[i] == '\\' { 2 } else { 1 };
        }
        i + 1
    };
    // Skips a raw string whose `r` is at `i` (`r"..."`, `r#"..."#`, ...).
    let skip_raw = |mut i: usize| -> Option<usize> {
        i += 1;
        let mut hashes = 0;
        while i < n && c[i] == '#' {
            hashes += 1;
            i += 1;
        }
        if i >= n || c[i] != '"' {
            return None;
        }
        i += 1;
        loop {
            if i >= n {
                return Some(n);
            }
            if c[i] == '"' && (1..=hashes).all(|k| i + k < n && c[i + k] == '#') {
                return Some(i + 1 + hashes);
            }
            i += 1;
        }
    };
    while i < n {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < n && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < n {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_quoted(i, '"');
        } else if ch == '\'' {
            if next == Some('\\') {
                i = skip_quoted(i, '\'');
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3; // 'x'
            } else {
                i += 1; // a lifetime or label: its name follows as an identifier
            }
        } else if ch.is_ascii_digit() {
            while i < n && (ident_char(c[i]) || c[i] == '.' && c.get(i + 1) != Some(&'.')) {
                i += 1;
            }
        } else if ident_start(ch) {
            // Literal prefixes: b"..", b'..', c"..", r"..", br"..", cr#".."#.
            let prefix_end = {
                let mut j = i;
                while j < n && matches!(c[j], 'b' | 'c' | 'r') && j - i < 2 {
                    j += 1;
                }
                j
            };
            let prefix: String = c[i..prefix_end].iter().collect();
            let after = c.get(prefix_end).copied();
            if matches!(prefix.as_str(), "b" | "c") && after == Some('"') {
                i = skip_quoted(prefix_end, '"');
                continue;
            }
            if prefix == "b" && after == Some('\'') {
                i = skip_quoted(prefix_end, '\'');
                continue;
            }
            if matches!(prefix.as_str(), "r" | "br" | "cr")
                && matches!(after, Some('"' | '#'))
                && let Some(end) = skip_raw(prefix_end - 1)
            {
                i = end;
                continue;
            }
            // A raw identifier: r#name.
            if ch == 'r' && next == Some('#') && c.get(i + 2).is_some_and(|&x| ident_start(x)) {
                i += 2;
            }
            let start = i;
            while i < n && ident_char(c[i]) {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if ch == ':' && next == Some(':') {
            out.push(Tok::Path);
            i += 2;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

/// Modules of `std` that do IO or concurrency.
const FORBIDDEN_STD: [&str; 3] = ["net", "fs", "thread"];
/// Identifiers that mean a runtime, a task or the wall clock.
const FORBIDDEN_IDENTS: [&str; 3] = ["tokio", "spawn", "SystemTime"];

/// What in `src` reaches for IO, a clock, threads or a runtime.
fn violations(src: &str) -> Vec<String> {
    let t = tokens(src);
    let ident = |i: usize| match t.get(i) {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let mut found = Vec::new();
    for i in 0..t.len() {
        let Some(name) = ident(i) else { continue };
        if FORBIDDEN_IDENTS.contains(&name) {
            found.push(name.to_owned());
        }
        if name == "Instant" && t.get(i + 1) == Some(&Tok::Path) && ident(i + 2) == Some("now") {
            found.push("Instant::now".to_owned());
        }
        if name != "std" || t.get(i + 1) != Some(&Tok::Path) {
            continue;
        }
        match t.get(i + 2) {
            Some(Tok::Ident(m)) if FORBIDDEN_STD.contains(&m.as_str()) => {
                found.push(format!("std::{m}"));
            }
            // `use std::{fs, io::Read, net::TcpStream}`: the first name of
            // each item of the group (nested groups too).
            Some(Tok::Punct('{')) => {
                let mut depth = 0usize;
                let mut item_start = true;
                for tok in &t[i + 2..] {
                    match tok {
                        Tok::Punct('{') => {
                            depth += 1;
                            item_start = depth == 1;
                        }
                        Tok::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Punct(',') if depth == 1 => item_start = true,
                        Tok::Ident(m) if item_start => {
                            if FORBIDDEN_STD.contains(&m.as_str()) {
                                found.push(format!("std::{m}"));
                            }
                            item_start = false;
                        }
                        _ => item_start = false,
                    }
                }
            }
            _ => {}
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn assert_sources_sans_io(krate: &str) {
    let src = workspace_root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no sources in {}", src.display());
    let mut report = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let found = violations(&text);
        if !found.is_empty() {
            report.push(format!("{}: {found:?}", file.display()));
        }
    }
    assert!(
        report.is_empty(),
        "IO in sans-IO sources:\n{}",
        report.join("\n")
    );
}

#[test]
fn session_sources_do_no_io() {
    assert_sources_sans_io("mqtt-session");
}

#[test]
fn proto_sources_do_no_io() {
    assert_sources_sans_io("mqtt-proto");
}

/// The scanner itself: it finds what it must, where it must only.
#[test]
fn scanner_sees_code_only() {
    let clean = r####"
        //! let now = Instant::now(); tokio::spawn(async {});
        /// ```
        /// let s = std::net::TcpStream::connect("x")?;
        /// ```
        /* std::fs::read /* nested */ std::thread::sleep */
        fn f<'a>(x: &'a str) -> char {
            let _ = "std::fs::read(\"spawn\")";
            let _ = r#"tokio "SystemTime" "#;
            let _ = b"std::net";
            let _ = br##"Instant::now"##;
            let spawned = 1.5e3;
            let _ = instant_now(std::time::Duration::ZERO);
            'l: loop { break 'l; }
            let r#type = 0;
            '"'
        }
    "####;
    assert_eq!(violations(clean), Vec::<String>::new());

    let cases = [
        ("let t = Instant::now();", "Instant::now"),
        ("let t = Instant :: now ();", "Instant::now"),
        ("use std::net::TcpStream;", "std::net"),
        ("let d = std::fs::read(p);", "std::fs"),
        ("use std::{io, fs};", "std::fs"),
        ("use std::{io::{self, Read}, thread::sleep};", "std::thread"),
        ("std :: thread :: sleep(d);", "std::thread"),
        ("let t = SystemTime::now();", "SystemTime"),
        ("tokio::spawn(f);", "tokio"),
        ("let h = pool.spawn(f);", "spawn"),
        ("let s = \"\\\"\"; std::fs::remove_file(p);", "std::fs"),
        ("let c = '\\''; use std::net;", "std::net"),
    ];
    for (code, want) in cases {
        let found = violations(code);
        assert!(found.iter().any(|f| f == want), "{code}: {found:?}");
    }
}
