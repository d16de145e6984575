//! The source revision the host tool was built from, for results to name.
//!
//! [`REVISION`] is fixed when this crate is built: the commit `git rev-parse HEAD` names, with
//! `-dirty` when a tracked file differed from it, or `unknown (...)` with the reason when git
//! could not tell (no git, no checkout). The build script asks cargo to build it again when
//! `HEAD`, the branch it points to, the index or any tracked file changes, so a build from an
//! edited work tree says `-dirty`. It reads git without taking locks
//! (`--no-optional-locks`), so building never touches the index it watches.

/// The revision: 40 hexadecimal digits, then `-dirty` if the work tree differed; or
/// `unknown (<reason>)`.
pub const REVISION: &str = env!("SHOAL_SOURCE_REVISION");

#[cfg(test)]
mod tests {
    use super::REVISION;

    #[test]
    fn the_revision_is_a_commit_or_says_why_not() {
        let commit = REVISION.strip_suffix("-dirty").unwrap_or(REVISION);
        assert!(
            (commit.len() == 40 && commit.bytes().all(|byte| byte.is_ascii_hexdigit())) || REVISION.starts_with("unknown ("),
            "{REVISION}"
        );
    }
}
