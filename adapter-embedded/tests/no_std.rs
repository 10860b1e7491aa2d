//! The crate is `#![no_std]` (with `alloc`): a `std::` path in it is a
//! compile error whatever the features. Without its default `std` feature
//! no dependency of its normal build may be built with `std` either
//! (embassy-time, embassy-sync, heapless, bytes, thiserror, the sans-IO
//! core, ...): this test reads the features cargo resolves for that build.
//! The dev-dependencies (embassy-time's std driver, the executor's std
//! platform) do not count: they are the host's, for the tests.

use std::path::Path;
use std::process::Command;

/// `(crate, its enabled features)` for every crate of the normal
/// dependency tree of this package built with `args`.
fn resolved_features(args: &[&str]) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace");
    let run = |offline: bool| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(root)
            .args([
                "tree",
                "-p",
                env!("CARGO_PKG_NAME"),
                "-e",
                "normal,no-proc-macro",
            ])
            .args(["--prefix", "none", "--format", "{p}|{f}"])
            .args(args);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().expect("run cargo tree")
    };
    let mut out = run(true);
    if !out.status.success() {
        out = run(false);
    }
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
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

/// The crates of `tree` built with their `std` feature.
fn with_std(tree: &[(String, Vec<String>)]) -> Vec<String> {
    let mut names: Vec<String> = tree
        .iter()
        .filter(|(_, features)| features.iter().any(|f| f == "std"))
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn no_default_features_builds_no_dependency_with_std() {
    let tree = resolved_features(&["--no-default-features"]);
    for expected in [
        "embassy-time",
        "embassy-sync",
        "embedded-io-async",
        "sansmqtt-session",
    ] {
        assert!(
            tree.iter().any(|(name, _)| name == expected),
            "{expected} missing from the cargo tree output: {tree:?}"
        );
    }
    assert_eq!(with_std(&tree), Vec::<String>::new());
    // The check can fail: the default build has `std`.
    let default = resolved_features(&[]);
    assert!(
        with_std(&default).contains(&"sansmqtt-session".to_owned()),
        "the default build should enable sansmqtt-session/std: {default:?}"
    );
}
