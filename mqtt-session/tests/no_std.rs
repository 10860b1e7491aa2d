//! The core builds for targets without `std` (issue #17): `sansmqtt-proto`
//! and `sansmqtt-session` are `#![no_std]` with `alloc` (so a `std::` path
//! in them is a compile error whatever the features), and without their
//! default `std` feature no dependency of theirs is built with `std`
//! either. `scripts/test` builds both crates that way; this test reads the
//! features cargo resolves for such a build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_path_buf()
}

/// `(package, enabled features)` of every crate in `package`'s normal
/// dependency tree (procedural macros aside: they run on the host), as
/// `cargo tree` resolves them with `args`.
fn resolved_features(package: &str, args: &[&str]) -> Vec<(String, Vec<String>)> {
    let tree = |offline: bool| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace_root())
            .args(["tree", "-p", package, "-e", "normal,no-proc-macro"])
            .args(["--prefix", "none", "--format", "{p}|{f}"])
            .args(args);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().expect("run cargo tree")
    };
    let mut out = tree(true);
    if !out.status.success() {
        out = tree(false);
    }
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|line| {
            let (package, features) = line.split_once('|')?;
            let name = package.split_whitespace().next()?.to_owned();
            let features = features
                .trim_end_matches(" (*)")
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect();
            Some((name, features))
        })
        .collect()
}

fn with_std(tree: &[(String, Vec<String>)]) -> Vec<String> {
    tree.iter()
        .filter(|(_, features)| features.iter().any(|f| f == "std"))
        .map(|(name, _)| name.clone())
        .collect()
}

fn assert_no_std_anywhere(package: &str) {
    let tree = resolved_features(package, &["--no-default-features"]);
    assert!(
        tree.iter().any(|(name, _)| name == "bytes"),
        "unexpected cargo tree output: {tree:?}"
    );
    assert_eq!(
        with_std(&tree),
        Vec::<String>::new(),
        "{package} without default features builds these crates with `std`"
    );
    // And the check can fail: the default build has `std`.
    let default = resolved_features(package, &[]);
    assert!(
        with_std(&default).contains(&"bytes".to_owned()),
        "{package}'s default build should enable bytes/std: {default:?}"
    );
}

#[test]
fn session_without_std_builds_no_dependency_with_std() {
    assert_no_std_anywhere("sansmqtt-session");
}

#[test]
fn proto_without_std_builds_no_dependency_with_std() {
    assert_no_std_anywhere("sansmqtt-proto");
}
