//! `importgate completions SHELL` and `importgate man`: shell completions and man pages
//! generated from the clap definitions, so they cannot drift from the arguments the binary
//! accepts. `docs/man/` holds the generated pages; `tests/it/docs.rs` checks they are current.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `importgate.1` and one page per subcommand (`importgate-check.1`, ...) into DIR
    /// instead of printing `importgate.1` on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "importgate", out);
    Ok(())
}

/// Prints the main man page, or writes every page into `--dir`.
pub fn man(args: &ManArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            // As `generate_to` renders it: the `help` subcommand has no page of its own.
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            clap_mangen::Man::new(cmd)
                .render(out)
                .context("cannot render the man page")?;
        }
        Some(dir) => write_pages(cmd, dir)?,
    }
    Ok(())
}

/// One page for the command and one per subcommand, named as `man` looks them up
/// (`importgate-check.1` for `man importgate-check`).
fn write_pages(cmd: clap::Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // `generate_to` names subcommand pages after the full command path.
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))
}
