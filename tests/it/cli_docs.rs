//! `importgate completions SHELL` and `importgate man`: the bash script completes the real
//! options when bash runs it, every shell's script names the subcommands and options, and the
//! man pages render with `man` without groff warnings and document every option of `check`.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use crate::support::*;

/// The long options `importgate SUBCOMMAND --help` lists: what the generated files must cover.
fn long_options(subcommand: &str) -> BTreeSet<String> {
    let run = importgate(&[subcommand, "--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .filter(|w| w != "--help")
        .collect()
}

#[test]
fn bash_completion_completes_check_options() {
    let run = importgate(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = tempdir();
    let script = dir.path().join("importgate.bash");
    fs::write(&script, &run.stdout).expect("write");
    // What bash does on `importgate check --con<TAB>`.
    let out = run_ok(
        Command::new("bash").arg("-c").arg(format!(
            "source '{}' && complete -p importgate && \
             COMP_WORDS=(importgate check --con) COMP_CWORD=2 && \
             _importgate importgate --con check && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        )),
        "bash completion",
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("complete -o bashdefault -o default -o nosort -F _importgate importgate"),
        "{out}"
    );
    let offered: BTreeSet<&str> = lines.collect();
    assert_eq!(
        offered,
        BTreeSet::from(["--config", "--context"]),
        "completions of `importgate check --con`:\n{out}"
    );
}

#[test]
fn every_shell_gets_the_subcommands_and_options() {
    let options = long_options("check");
    assert!(options.contains("--context") && options.contains("--format"));
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = importgate(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for word in ["check", "completions", "man"] {
            assert!(run.stdout.contains(word), "{shell}: no `{word}`");
        }
        let missing: Vec<&String> = options
            .iter()
            .filter(|o| !run.stdout.contains(o.trim_start_matches('-')))
            .collect();
        assert!(missing.is_empty(), "{shell}: options missing: {missing:?}");
    }
    let run = importgate(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "an unknown shell is a usage error");
    assert!(
        run.stderr.contains("invalid value 'tcsh'"),
        "{}",
        run.stderr
    );
}

#[test]
fn man_pages_render_and_document_every_check_option() {
    let dir = tempdir();
    let run = importgate(&["man", "--dir", path_str(dir.path())]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut pages: Vec<String> = fs::read_dir(dir.path())
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "importgate-check.1",
            "importgate-completions.1",
            "importgate-explain.1",
            "importgate-man.1",
            "importgate.1"
        ]
    );
    // `importgate man` prints the main page, identical to the file.
    let main = importgate(&["man"]);
    assert_eq!(
        main.stdout,
        fs::read_to_string(dir.path().join("importgate.1")).expect("importgate.1")
    );
    for page in &pages {
        let path = dir.path().join(page);
        let groff = output_of(
            Command::new("groff").args(["-man", "-ww", "-z"]).arg(&path),
            "groff",
        );
        assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "{page}: groff warnings:\n{}",
            String::from_utf8_lossy(&groff.stderr)
        );
    }
    let rendered = run_ok(
        Command::new("man")
            .arg("-l")
            .arg(dir.path().join("importgate-check.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0"),
        "man -l importgate-check.1",
    );
    // Without bold/underline overstrikes, as a pipe shows it.
    let plain: String = {
        let mut out = String::new();
        for c in rendered.chars() {
            if c == '\u{8}' {
                out.pop();
            } else {
                out.push(c);
            }
        }
        out
    };
    assert!(plain.contains("importgate-check"), "{plain}");
    let missing: Vec<String> = long_options("check")
        .into_iter()
        .filter(|o| !plain.contains(o.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "options missing from man importgate-check: {missing:?}\n{plain}"
    );
}
