//! The repository root is the `importgate` package: `cargo install --path .` into a temporary
//! root works, and the installed binary (not the test target's) gates the seed example.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::*;

/// The target directory of this test build (`CARGO_TARGET_TMPDIR` is `<target>/tmp`): the
/// install reuses its compiled dependencies instead of building everything again.
pub fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

/// `cargo install --path <repo> --root <root>` with the lock file and the registry cache the
/// test build already used (`--locked --offline`: no index update, no download), built in this
/// test build's target directory so a second install (and pre-commit's, `tests/it/ci.rs`)
/// reuses the release artifacts. Returns the installed binary.
pub fn cargo_install(root: &Path) -> PathBuf {
    // One install at a time: two would wait on each other's target-dir lock anyway.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let _lock = lock_file("importgate-cargo-install.lock");
    let out = output_of(
        Command::new(env!("CARGO"))
            .args(["install", "--locked", "--offline", "--path"])
            .arg(repo_root())
            .arg("--root")
            .arg(root)
            .arg("--target-dir")
            .arg(workspace_target())
            .env_remove("RUSTFLAGS"),
        "cargo install --path .",
    );
    assert!(
        out.status.success(),
        "cargo install --path . failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = root.join("bin/importgate");
    assert!(bin.is_file(), "no {} after cargo install", bin.display());
    bin
}

#[test]
fn cargo_install_from_the_root_checks_the_seed_image() {
    let Some(_base) = docker_base("slim", "3.12") else {
        return;
    };
    let root = tempdir();
    let bin = cargo_install(root.path());
    let version = run_ok(Command::new(&bin).arg("--version"), "importgate --version");
    assert!(
        version.starts_with(&format!("importgate {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    for (name, expect) in [("seed-app", 1), ("seed-app-fixed", 0)] {
        let image = build_image(&format!("importgate-test/install-{name}"), &example(name));
        let out = output_of(
            Command::new(&bin)
                .args(["check", &image.tag])
                .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
                .env("IMPORTGATE_NO_RESULT_CACHE", "1")
                .env("NO_COLOR", "1"),
            "installed importgate check",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{name}: installed binary\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if expect == 1 {
            assert!(stdout.contains("core.aws_service"), "{stdout}");
        }
    }
}
