//! What `cargo tree` resolves for one package of the workspace: the tests
//! of the no_std, no-IO and lean-build promises read it. Included by path
//! (`#[path = ".../mqtt-client/tests/support/cargo_tree.rs"] mod cargo_tree;`)
//! from tests of crates one level below the workspace root.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Command;

/// `(name, enabled features)` for each line of `cargo tree -p package
/// <args> --prefix none` (so `args` choose the edges, `-e normal`, and the
/// features, `--no-default-features`), in the order cargo prints them; a
/// crate met again appears again. Offline from `Cargo.lock` and the local
/// cache first, online only if the cache lacks something.
pub fn packages(package: &str, args: &[&str]) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace");
    let run = |offline: bool| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
        cmd.current_dir(root)
            .args(["tree", "--locked", "-p", package, "--prefix", "none"])
            .args(["--format", "{p}|{f}"])
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
        "cargo tree -p {package} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("cargo tree prints UTF-8");
    let packages: Vec<(String, Vec<String>)> = text
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
        .collect();
    assert_eq!(
        packages.first().map(|(name, _)| name.as_str()),
        Some(package),
        "unexpected cargo tree output:\n{text}"
    );
    packages
}
