//! Rendering an [`importgate_check::Report`]: a rustc-style text report for people reading a CI
//! log or a terminal, and a versioned JSON document for tools that must not break when the
//! checker's internal types change.
//!
//! Both renderers write to the `out` they are given and never decide about terminals: the CLI
//! knows whether stdout is a TTY and whether `NO_COLOR` is set, so it passes that in.

mod github;
mod human;
mod json;
mod junit;
mod sarif;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use importgate_check::Report;

pub use github::render_github;
pub use human::{HumanOptions, render_human};
pub use json::{SCHEMA_VERSION, render_json};
pub use junit::render_junit;
pub use sarif::render_sarif;

/// Output format, spelled as users type it on the command line (`--format human|json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Junit,
    Github,
}

impl Format {
    /// Every format, in the order a CLI should list them (for clap's `PossibleValue`s).
    pub const ALL: [Format; 5] = [
        Format::Human,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
    ];

    /// The name accepted by [`FromStr`]; kept identical to clap's `ValueEnum` derivation so the
    /// CLI can wrap this type either way without renaming anything.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected `human`, `json`, `sarif`, `junit` or `github`)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// One entry point for the CLI, so adding a format does not touch its dispatch code.
/// `opts` only matters for [`Format::Human`].
pub fn render(
    report: &Report,
    format: Format,
    opts: &HumanOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => render_human(report, opts, out),
        Format::Json => render_json(report, out),
        Format::Sarif => render_sarif(report, out),
        Format::Junit => render_junit(report, out),
        Format::Github => render_github(report, out),
    }
}
