//! Fixes `SHOAL_SOURCE_REVISION` for `src/lib.rs` and tells cargo what it depends on: git's
//! `HEAD`, the ref it points to, the index, and every tracked file of the checkout.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git in the checkout without optional locks; its standard output, trimmed, or why not.
fn git(root: &Path, arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .arg("--no-optional-locks")
        .args(arguments)
        .output()
        .map_err(|error| format!("git: {error}"))?;
    if !output.status.success() {
        return Err(format!("git {}: {}", arguments.join(" "), String::from_utf8_lossy(&output.stderr).trim().replace('\n', " ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the crate lies in the workspace root").to_owned();
    println!("cargo:rerun-if-changed=build.rs");
    let revision = git(&root, &["rev-parse", "HEAD"]).and_then(|commit| {
        let changes = git(&root, &["status", "--porcelain", "--untracked-files=no"])?;
        Ok(if changes.is_empty() { commit } else { format!("{commit}-dirty") })
    });
    match revision {
        Ok(revision) => {
            println!("cargo:rustc-env=SHOAL_SOURCE_REVISION={revision}");
            // Only paths that exist: cargo runs a script again every time for a missing one.
            let watch = |path: PathBuf| {
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            };
            if let Ok(git_dir) = git(&root, &["rev-parse", "--absolute-git-dir"]) {
                watch(Path::new(&git_dir).join("HEAD"));
                watch(Path::new(&git_dir).join("index"));
            }
            if let (Ok(common), Ok(branch)) = (git(&root, &["rev-parse", "--git-common-dir"]), git(&root, &["symbolic-ref", "-q", "HEAD"])) {
                let common = root.join(common);
                watch(common.join(&branch));
                watch(common.join("packed-refs"));
            }
            if let Ok(files) = git(&root, &["ls-files"]) {
                for file in files.lines() {
                    watch(root.join(file));
                }
            }
        }
        Err(reason) => println!("cargo:rustc-env=SHOAL_SOURCE_REVISION=unknown ({reason})"),
    }
}
