//! Progress on stderr: drawn when stderr is a terminal (a pty from util-linux `script`), absent
//! when it is a pipe, and `--quiet` leaves a passing check silent.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// `importgate ARGS` with stdout in a file and stderr on a fresh pty; what the terminal showed,
/// stdout, and the exit code.
pub(crate) fn on_a_terminal(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = dir.join("stdout.txt");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let command = format!(
        "'{}' {} > '{}'",
        env!("CARGO_BIN_EXE_importgate"),
        quoted.join(" "),
        out.display()
    );
    let run = output_of(
        Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("TERM", "xterm-256color")
            .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
            .env("IMPORTGATE_NO_RESULT_CACHE", "1")
            .env("NO_COLOR", "1"),
        "script",
    );
    (
        String::from_utf8_lossy(&run.stdout).into_owned(),
        fs::read_to_string(&out).unwrap_or_default(),
        run.status.code().unwrap_or(-1),
    )
}

#[test]
fn progress_on_a_terminal_only_and_quiet_is_quiet() {
    let Some(_base) = docker_base("slim", "3.12") else {
        return;
    };
    let broken = build_image("importgate-test/progress-seed-app", &example("seed-app"));
    let fixed = build_image(
        "importgate-test/progress-seed-app-fixed",
        &example("seed-app-fixed"),
    );
    let dir = tempdir();

    // A terminal: the bytes read from the engine's export, then the layers and the modules.
    let (terminal, stdout, code) = on_a_terminal(dir.path(), &["check", &broken.tag]);
    assert_eq!(code, 1, "terminal:\n{terminal}\nstdout:\n{stdout}");
    let reading = format!("reading docker-daemon:{} from the engine", broken.tag);
    assert!(
        terminal.contains(&reading),
        "no `{reading}` on the terminal:\n{terminal:?}"
    );
    assert!(terminal.contains("MiB"), "no byte count:\n{terminal:?}");
    assert!(
        terminal.contains("merging the layers of"),
        "no layer progress:\n{terminal:?}"
    );
    assert!(stdout.contains("core.aws_service"), "{stdout}");
    assert!(
        !stdout.contains("reading docker-daemon"),
        "progress on stdout:\n{stdout}"
    );

    // An archive: its bytes.
    let archive = dir.path().join("seed.tar");
    docker_save(&broken.tag, &archive);
    let (terminal, _, code) = on_a_terminal(dir.path(), &["check", path_str(&archive)]);
    assert_eq!(code, 1, "{terminal}");
    assert!(
        terminal.contains(&format!("reading {} ", archive.display()))
            && terminal.contains("B/")
            && terminal.contains(" MiB"),
        "{terminal:?}"
    );

    // A pipe: the same run prints nothing on stderr.
    let run = importgate(&["check", &broken.tag]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr, "", "stderr is a pipe: no progress");

    // --quiet on a passing image: nothing at all, on a terminal or not.
    let run = importgate(&["check", "--quiet", &fixed.tag]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    let (terminal, stdout, code) = on_a_terminal(dir.path(), &["check", "-q", &fixed.tag]);
    assert_eq!((code, stdout.as_str(), terminal.as_str()), (0, "", ""));
    // Without it, the summary.
    let run = importgate(&["check", &fixed.tag]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("· python 3.12 ("), "{}", run.stdout);

    // --quiet on a failing image: the findings and the summary, no progress.
    let (terminal, stdout, code) = on_a_terminal(dir.path(), &["check", "-q", &broken.tag]);
    assert_eq!(code, 1);
    assert_eq!(terminal, "", "--quiet draws nothing on the terminal");
    assert!(stdout.contains("core.aws_service"), "{stdout}");
    let loud = importgate(&["check", &broken.tag]);
    assert_eq!(stdout, loud.stdout, "--quiet keeps a failing report whole");
}
