//! `check --context DIR`: the context read as the Docker CLI reads it, the build through the
//! engine with its progress on stderr, and the map from image paths back to the context.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use importgate_build::{BuildEvent, BuildRequest, Built, StepHeader};
use importgate_check::Mode;
use importgate_context::{BuildContext, Dockerfile, PathMap, plan};

use crate::CheckArgs;

/// A built image and how to relate it to the context.
pub struct FromContext {
    pub image_id: String,
    pub mode: Mode,
    /// `None` when importgate's own Dockerfile model cannot follow a Dockerfile the engine
    /// accepted: findings then keep their image paths (a warning says so).
    pub path_map: Option<PathMap>,
}

/// `K=V`, or `K` alone to take the value from the environment (skipped when unset), as
/// `docker build --build-arg` does.
pub(crate) fn parse_build_args(args: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for arg in args {
        match arg.split_once('=') {
            Some(("", _)) => anyhow::bail!("invalid --build-arg `{arg}`: expected K=V"),
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None if arg.is_empty() => anyhow::bail!("invalid --build-arg ``: expected K=V"),
            None => {
                if let Ok(v) = std::env::var(arg) {
                    out.push((arg.clone(), v));
                }
            }
        }
    }
    Ok(out)
}

pub async fn build_from_context(args: &CheckArgs, dir: &Path) -> anyhow::Result<FromContext> {
    let build_args = parse_build_args(&args.build_arg)?;
    let ctx = std::sync::Arc::new(
        BuildContext::open(dir, args.file.as_deref()).context("cannot read the build context")?,
    );
    let dockerfile = ctx.tar_dockerfile_name().to_string();
    let sent = ctx.clone();
    let write_context: importgate_build::ContextWriter = Box::new(move |out| {
        sent.write_tar(out)
            .map(drop)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    let docker = importgate_build::connect().await?;

    let stderr = std::io::stderr();
    let mut progress = Progress::new(stderr.is_terminal() && !args.verbose, args.verbose);
    progress.quiet = args.quiet;
    let request = BuildRequest {
        context: write_context,
        dockerfile,
        target: args.target.clone(),
        build_args: build_args.clone(),
        tags: args.tag.clone(),
        // Only an explicit `--platform` reaches the engine; the default only picks from
        // multi-platform images.
        platform: args.platform.clone(),
    };
    let result = importgate_build::build(&docker, request, &mut |e| progress.event(e)).await;
    let built = match result {
        Ok(built) => built,
        Err(e) => {
            progress.failed(e.log());
            return Err(e.into());
        }
    };
    progress.done(&built);

    let path_map = match Dockerfile::parse(ctx.dockerfile_text())
        .and_then(|df| plan(&df, &build_args, args.target.as_deref()))
    {
        Ok(plan) => Some(PathMap::new(&ctx, &plan)),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "warning: findings keep their image paths: cannot follow the Dockerfile's COPY steps: {e}"
            );
            None
        }
    };
    let dockerfile_shown = match &args.file {
        Some(f) => f.display().to_string(),
        None => dir.join("Dockerfile").display().to_string(),
    };
    Ok(FromContext {
        image_id: built.image_id.clone(),
        mode: Mode::Built {
            context: importgate_check::display_dir(dir, std::env::current_dir().ok().as_deref()),
            dockerfile: dockerfile_shown,
            image_id: built.image_id,
            tags: built.tags,
        },
        path_map,
    })
}

/// The build's progress on stderr: on a terminal one line redrawn in place (the current step
/// and its latest output); otherwise (CI logs) one `#step 3/6 COPY …` line per step, and with
/// `--verbose` every output line too. The whole log is printed when the build fails.
struct Progress {
    in_place: bool,
    verbose: bool,
    /// `--quiet`: nothing until the build fails (the image id is still in the JSON report).
    quiet: bool,
    width: usize,
    step: Option<StepHeader>,
    drawn: bool,
}

impl Progress {
    fn new(in_place: bool, verbose: bool) -> Progress {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|&w| w >= 20)
            .unwrap_or(80);
        Progress {
            in_place,
            verbose,
            quiet: false,
            width,
            step: None,
            drawn: false,
        }
    }

    fn event(&mut self, event: &BuildEvent) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        match event {
            BuildEvent::Step(step) => {
                let text = format!(
                    "{}/{} {}",
                    step.number,
                    step.total,
                    printable(&step.instruction)
                );
                if self.in_place {
                    self.draw(&mut err, &format!("building: step {text}"));
                } else {
                    let _ = writeln!(err, "#step {text}");
                }
                self.step = Some(step.clone());
            }
            BuildEvent::Output(line) => {
                let line = printable(line.trim());
                if self.in_place {
                    if let (Some(step), false) = (&self.step, line.is_empty()) {
                        let text = format!(
                            "building: step {}/{} {} · {line}",
                            step.number,
                            step.total,
                            printable(&step.instruction)
                        );
                        self.draw(&mut err, &text);
                    }
                } else if self.verbose && !line.is_empty() {
                    let _ = writeln!(err, "  {line}");
                }
            }
            BuildEvent::ImageId(_) => {}
        }
    }

    fn draw(&mut self, err: &mut dyn Write, text: &str) {
        let text: String = text.chars().take(self.width.saturating_sub(1)).collect();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        self.drawn = true;
    }

    fn clear(&mut self, err: &mut dyn Write) {
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }

    fn done(&mut self, built: &Built) {
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
        if self.quiet {
            return;
        }
        let tags = if built.tags.is_empty() {
            " (untagged)".to_string()
        } else {
            format!(" as {}", built.tags.join(", "))
        };
        let prefix = if self.in_place { "" } else { "#" };
        let _ = writeln!(err, "{prefix}built {}{tags}", built.image_id);
    }

    /// The engine's whole output, so the reader sees what the failing step printed; the error
    /// line itself follows from `main`.
    fn failed(&mut self, log: &[String]) {
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
        for line in log {
            let _ = writeln!(err, "{}", printable(line));
        }
    }
}

/// Build output comes from the user's `RUN` commands: control characters (terminal escapes,
/// carriage returns of progress bars) are made visible instead of reaching the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_take_missing_values_from_the_environment() {
        let args = vec!["A=1".to_string(), "B=x=y".to_string(), "PATH".to_string()];
        let parsed = parse_build_args(&args).unwrap_or_default();
        assert_eq!(parsed[0], ("A".to_string(), "1".to_string()));
        assert_eq!(parsed[1], ("B".to_string(), "x=y".to_string()));
        assert_eq!(parsed[2].0, "PATH");
        assert!(parse_build_args(&["=v".to_string()]).is_err());
        assert!(
            parse_build_args(&["IMPORTGATE_SURELY_UNSET_VAR".to_string()])
                .is_ok_and(|v| v.is_empty())
        );
    }

    #[test]
    fn printable_hides_escape_sequences() {
        assert_eq!(printable("a\u{1b}[2Jb\rc"), "a\u{FFFD}[2Jb\u{FFFD}c");
    }
}
