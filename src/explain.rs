//! `importgate explain IMAGE MODULE`: prints the walk CPython would do for one import, from
//! `importgate_check::explain` (the checker's own resolver, tracing).

use std::io::Write;

use anyhow::Context;
use importgate_check::explain::Explanation;
use importgate_image::{LoadOptions, load, parse_source};
use importgate_python::{StepResult, TraceEvent};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The image, as for `check`.
    image: String,
    /// The module (`core.aws_service`, `.models` with `--from`), or `from MODULE import NAME`.
    module: String,
    /// The importing file inside the image: relative names are resolved from its package.
    #[arg(long = "from", value_name = "FILE")]
    from: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: ExplainFormat,
    /// Platform to pick from a multi-platform image [default: linux/amd64].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    #[command(flatten)]
    cache: crate::CacheArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

/// Exit 0 when the import works, 1 when it fails (as `check`), 2 on bad input.
pub async fn run(args: ExplainArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let platform = crate::parse_platform(args.platform.as_deref())?;
    let opts = LoadOptions {
        platform,
        capture: importgate_check::capture_policy(),
        progress: crate::progress::sink(false),
        source_mode: importgate_image::SourceMode::Auto,
        cache: args.cache.open(),
        defer_digests: false,
    };
    let image = load(&parse_source(&args.image), &opts)
        .await
        .with_context(|| format!("cannot read image `{}`", args.image))?;
    let explanation =
        importgate_check::explain::explain(&image, &args.module, args.from.as_deref())
            .with_context(|| format!("cannot model the interpreter of `{}`", args.image))?;
    match args.format {
        ExplainFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &explanation)?;
            writeln!(out)?;
        }
        ExplainFormat::Human => human(&explanation, out)?,
    }
    Ok(if explanation.ok { 0 } else { 1 })
}

fn human(e: &Explanation, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}  (python {})", e.statement, e.python)?;
    writeln!(out, "sys.path:")?;
    for (i, p) in e.sys_path.iter().enumerate() {
        writeln!(out, "  [{i}] {}  ({})", p.path, p.origin)?;
    }
    walk(&e.events, out)?;
    if let Some(f) = &e.from_name {
        if f.bound {
            writeln!(out, "`{}`: bound by the module's code", f.name)?;
        } else {
            writeln!(
                out,
                "`{}`: not bound by the module's code; imported as a submodule:",
                f.name
            )?;
            walk(&f.submodule_events, out)?;
        }
    }
    writeln!(out, "=> {}", e.verdict)
}

fn walk(events: &[TraceEvent], out: &mut dyn Write) -> std::io::Result<()> {
    for event in events {
        match event {
            TraceEvent::Component {
                name, top_level, ..
            } => {
                let on = if *top_level {
                    "sys.path".to_string()
                } else {
                    "the parent's __path__".to_string()
                };
                writeln!(out, "{name}: searched on {on}")?;
            }
            TraceEvent::Candidate {
                path, kind, exists, ..
            } => {
                let mark = if *exists { "found" } else { "no" };
                writeln!(out, "      {mark:5} {path}  ({kind})")?;
            }
            TraceEvent::Entry { step, consulted } => {
                let what = match &step.result {
                    StepResult::Missing => "not a directory or archive: skipped".to_string(),
                    StepResult::Archive => "an archive whose contents are unknown".to_string(),
                    StepResult::Nothing => "nothing".to_string(),
                    StepResult::Portion { dir } => {
                        format!(
                            "{dir}, a namespace portion (kept, in case nothing regular follows)"
                        )
                    }
                    StepResult::Package { init } => format!("{init}, a regular package"),
                    StepResult::Module { file } => format!("the module {file}"),
                };
                let note = if *consulted {
                    ""
                } else {
                    "  [after the winner: CPython does not look here]"
                };
                writeln!(out, "  {} -> {what}{note}", step.entry)?;
                for f in &step.foreign_extensions {
                    writeln!(out, "      ignored {f} (built for another interpreter)")?;
                }
            }
            TraceEvent::Found { name, found } => {
                writeln!(out, "  = {name} is {}", found.describe())?;
            }
            TraceEvent::Failed { failed } => {
                writeln!(out, "  = {} not found", failed.module)?;
                for s in &failed.shadowed {
                    writeln!(
                        out,
                        "  ! {} holds {}, but {} shadows it",
                        s.dir,
                        s.would_be,
                        s.winner.describe()
                    )?;
                }
            }
        }
    }
    Ok(())
}
