//! Build script: records the git commit in `PAYROUTER_GIT_COMMIT` for `--version` and
//! `payrouter_build_info` ("unknown" when built outside a git checkout or without git).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PAYROUTER_GIT_COMMIT={commit}");
    // A new commit moves HEAD or the branch it names: stamp again then. Only files that
    // exist are named, since cargo reruns the script on every build for a missing one.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", "packed-refs"]
        .into_iter()
        .chain(branch.as_deref())
        .filter_map(|name| git(&["rev-parse", "--git-path", name]))
        .filter(|path| std::path::Path::new(path).exists());
    for path in watched {
        println!("cargo:rerun-if-changed={path}");
    }
}
