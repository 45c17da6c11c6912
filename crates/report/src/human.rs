//! The report for people: rustc/ruff-style diagnostics drawn by `annotate-snippets`, the same
//! renderer cargo uses, so the output reads like every other error a Python or Rust developer
//! already knows how to scan.
//!
//! Everything printed here comes from inside an image, which we do not control: any text that
//! does not go through `annotate-snippets`' own normalisation is passed through
//! [`clean`] so an escape sequence in a file name cannot repaint the user's terminal.

use std::borrow::Cow;
use std::io::{self, Write};

use annotate_snippets::renderer::{DEFAULT_ERROR_STYLE, DEFAULT_NOTE_STYLE, DEFAULT_WARNING_STYLE};
use annotate_snippets::{
    AnnotationKind, Element, Group, Level, Origin, Renderer, Snippet, normalize_untrusted_str,
};
use anstyle::{AnsiColor, Effects, Style};
use importgate_check::{Finding, Mode, Report, Severity};

/// How many notes a finding shows without `--verbose`: enough for the usual sys.path walk,
/// few enough that ten findings still fit on a screen.
const NOTES_SHOWN: usize = 4;

/// What the caller knows and this crate must not guess: whether the output is a colour
/// terminal, and whether the user asked for the long story.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HumanOptions {
    /// Emit ANSI styles. The CLI decides from the TTY and `NO_COLOR`.
    pub color: bool,
    /// Show the sys.path, image warnings, info findings and every note.
    pub verbose: bool,
    /// `--quiet`: no summary when no import fails, so a passing gate prints only its warnings.
    pub quiet: bool,
}

/// Styles for the text this module writes itself; plain `Style::new()` renders as nothing, so
/// the uncoloured path needs no separate code.
struct Palette {
    error: Style,
    warning: Style,
    ok: Style,
    note: Style,
    dim: Style,
    bold: Style,
}

impl Palette {
    fn new(color: bool) -> Self {
        if !color {
            let plain = Style::new();
            return Palette {
                error: plain,
                warning: plain,
                ok: plain,
                note: plain,
                dim: plain,
                bold: plain,
            };
        }
        // The same styles `annotate-snippets` uses for its headers, so our own lines match them.
        Palette {
            error: DEFAULT_ERROR_STYLE,
            warning: DEFAULT_WARNING_STYLE,
            ok: AnsiColor::BrightGreen.on_default().effects(Effects::BOLD),
            note: DEFAULT_NOTE_STYLE,
            dim: Style::new().effects(Effects::DIMMED),
            bold: Style::new().effects(Effects::BOLD),
        }
    }
}

/// Writes the report as a person would want to read it. Info findings, image warnings and the
/// sys.path only appear with `verbose`; the summary always counts what was hidden so nothing
/// is silently lost.
pub fn render_human(report: &Report, opts: &HumanOptions, out: &mut dyn Write) -> io::Result<()> {
    let palette = Palette::new(opts.color);
    let renderer = if opts.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };

    if opts.verbose {
        write_sys_path(report, &palette, out)?;
        write_warnings(&report.warnings, &palette, out)?;
    }

    for finding in sorted_findings(report) {
        if finding.severity == Severity::Info && !opts.verbose {
            continue;
        }
        let rendered = renderer.render(&[finding_group(report, finding, opts.verbose)]);
        writeln!(out, "{rendered}")?;
        writeln!(out)?;
    }

    let failed = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    if opts.quiet && !failed {
        return Ok(());
    }
    write_summary(report, opts, &palette, out)
}

/// The order people scan a report in: file by file, top to bottom. The checker already sorts,
/// but the order is part of this renderer's contract, not an accident of the caller.
pub(crate) fn sorted_findings(report: &Report) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    findings
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

fn finding_group<'a>(report: &Report, finding: &'a Finding, verbose: bool) -> Group<'a> {
    // A prediction rests on a model of the image, not the image: every verdict says so.
    let title: Cow<'a, str> = if finding.uncertain.is_some() {
        Cow::Owned(format!("{}: uncertain (prediction)", finding.message))
    } else if report.mode.is_prediction() {
        Cow::Owned(format!("{} (prediction)", finding.message))
    } else {
        Cow::Borrowed(finding.message.as_str())
    };
    let title = level(finding.severity)
        .primary_title(title)
        .id(finding.code.as_str());
    // The user's file when the image was built (or predicted) from a context; the image path
    // then follows as a note.
    let path: String = report.shown_path(finding).into_owned();

    // On a Dockerfile line (a finding about what the container runs, from a context) the
    // argument text is not that line: point at the line without a snippet.
    let dockerfile_line = finding.context.as_ref().and_then(|c| c.line);
    let location: Element<'_> = match finding
        .source_line
        .as_deref()
        .filter(|_| dockerfile_line.is_none())
    {
        Some(source) => {
            let source = source.trim_end_matches(['\n', '\r']);
            let span = char_span(source, finding.column, finding.span_len);
            let mut annotation = AnnotationKind::Primary.span(span);
            if let Some(exception) = finding.code.exception()
                && finding.severity == Severity::Error
            {
                annotation = annotation.label(format!("raises {exception}"));
            }
            Snippet::source(source)
                .line_start(line_number(finding.line))
                .path(path)
                .annotation(annotation)
                .into()
        }
        // Without the source there is nothing to underline, but the `-->` line still tells the
        // reader where to look, with the same line:column an editor jumps to.
        None => Origin::path(path)
            .line(line_number(report.shown_line(finding)))
            .char_column(finding.column.max(1) as usize)
            .into(),
    };

    let mut group = title.element(location);
    if let Some(why) = &finding.uncertain {
        group = group.element(Level::NOTE.message(format!("uncertain: {why}")));
    }
    if let Some(ctx) = &finding.context
        && finding.config.is_none()
    {
        group = group.element(Level::NOTE.message(format!(
            "in the image at {} (COPY on line {} of the Dockerfile)",
            clean(&finding.file),
            ctx.copy_line
        )));
    }

    if let Some(cfg) = &finding.config {
        let mut what = if cfg.argument == 0 {
            format!("set by {} in the image configuration", cfg.instruction)
        } else {
            format!(
                "argument {} of the image's Entrypoint + Cmd (from {})",
                cfg.argument, cfg.instruction
            )
        };
        if let (Some(l), Some(c)) = (cfg.code_line, cfg.code_column) {
            what.push_str(&format!(", line {l} column {c} of the code"));
        }
        group = group.element(Level::NOTE.message(what));
    }
    for r in &finding.related {
        group = group.element(Level::NOTE.message(format!(
            "at {}:{}:{}: {}",
            report.shown_file(&r.file),
            r.line,
            r.column,
            clean(&r.message)
        )));
    }
    if finding.affects.len() > 1 {
        let others: Vec<String> = finding
            .affects
            .iter()
            .filter(|a| !(a.file == finding.file && a.line == finding.line))
            .map(|a| {
                format!(
                    "{}:{} `{}`",
                    report.shown_file(&a.file),
                    a.line,
                    clean(&a.statement)
                )
            })
            .collect();
        let limit = if verbose {
            others.len()
        } else {
            others.len().min(NOTES_SHOWN)
        };
        let mut line = format!("also raises at {}", others[..limit].join(", "));
        if others.len() > limit {
            line.push_str(&format!(
                " and {} more (use --verbose)",
                others.len() - limit
            ));
        }
        group = group.element(Level::NOTE.message(line));
    }

    let shown = if verbose {
        finding.notes.len()
    } else {
        finding.notes.len().min(NOTES_SHOWN)
    };
    for note in &finding.notes[..shown] {
        group = group.element(Level::NOTE.message(clean(note)));
    }
    let hidden = finding.notes.len() - shown;
    if hidden > 0 {
        group = group.element(Level::NOTE.message(format!("… {hidden} more (use --verbose)")));
    }
    if let Some(hint) = &finding.hint {
        group = group.element(Level::HELP.message(clean(hint)));
    }
    group
}

/// `annotate-snippets` counts lines from 1 and columns in bytes; the report counts lines from
/// 1 and columns in characters. A zero line would be a checker bug, but the report must still
/// render, so it is shown as line 1 rather than panicking.
fn line_number(line: u32) -> usize {
    line.max(1) as usize
}

/// Converts the 1-based character column and character length into a byte range on `source`,
/// clamped to the line: a wrong span should give a short underline, never a panic or a slice
/// through a UTF-8 sequence.
fn char_span(source: &str, column: u32, len: u32) -> std::ops::Range<usize> {
    let byte_at = |chars: usize| {
        source
            .char_indices()
            .nth(chars)
            .map_or(source.len(), |(i, _)| i)
    };
    let start_char = column.saturating_sub(1) as usize;
    let start = byte_at(start_char);
    let end = byte_at(start_char.saturating_add(len.max(1) as usize));
    start..end.max(start)
}

fn write_sys_path(report: &Report, p: &Palette, out: &mut dyn Write) -> io::Result<()> {
    let python = &report.python;
    writeln!(
        out,
        "{}sys.path{} of python {} ({}), in search order:",
        p.bold,
        p.bold.render_reset(),
        clean(&python.version),
        clean(&python.executable),
    )?;
    let entries: Vec<(Cow<'_, str>, String)> = python
        .sys_path
        .iter()
        .map(|entry| {
            (
                clean(&entry.path),
                clean(&entry.origin.describe()).into_owned(),
            )
        })
        .collect();
    let width = entries
        .iter()
        .map(|(path, _)| path.chars().count())
        .max()
        .unwrap_or(0);
    for (i, (path, description)) in entries.iter().enumerate() {
        let pad = width - path.chars().count();
        writeln!(
            out,
            "  {:>2}. {path}{:pad$}  {}{description}{}",
            i + 1,
            "",
            p.dim,
            p.dim.render_reset(),
        )?;
    }
    if entries.is_empty() {
        writeln!(out, "  (empty)")?;
    }
    writeln!(out)
}

fn write_warnings(warnings: &[String], p: &Palette, out: &mut dyn Write) -> io::Result<()> {
    for warning in warnings {
        writeln!(
            out,
            "{}warning{}: {}",
            p.warning,
            p.warning.render_reset(),
            clean(warning)
        )?;
    }
    if !warnings.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

fn write_summary(
    report: &Report,
    opts: &HumanOptions,
    p: &Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = &report.summary;
    let files = plural(s.files, "file", "files");
    let (style, mut line) = if s.errors > 0 || s.warnings > 0 {
        let mut parts = Vec::new();
        if s.errors > 0 {
            parts.push(plural(s.errors, "import error", "import errors"));
        }
        if s.warnings > 0 {
            parts.push(plural(s.warnings, "warning", "warnings"));
        }
        let style = if s.errors > 0 { p.error } else { p.warning };
        let mut line = format!(
            "found {} in {files} ({} checked)",
            parts.join(" and "),
            plural(s.imports, "import", "imports"),
        );
        if s.failing_statements > 0 {
            line.push_str(&format!(
                ": {} in {} {} {}",
                plural(
                    s.failing_statements,
                    "application statement",
                    "application statements"
                ),
                s.failing_files,
                if s.failing_files == 1 {
                    "file"
                } else {
                    "files"
                },
                if s.failing_statements == 1 {
                    "raises"
                } else {
                    "raise"
                },
            ));
        }
        (style, line)
    } else if s.imports == 0 && report.startup.modules_reached > 0 {
        // A console-script or `python -m` launch of installed code: no application file, but
        // a startup path was followed.
        (
            p.ok,
            format!(
                "no imports in {files}; the {} the entrypoint imports at startup {}",
                plural(report.startup.modules_reached, "module", "modules"),
                if report.startup.modules_reached == 1 {
                    "resolves"
                } else {
                    "resolve"
                }
            ),
        )
    } else if s.imports == 0 {
        (p.ok, format!("no imports found in {files}"))
    } else if s.imports == 1 {
        (p.ok, format!("the only import in {files} resolves"))
    } else {
        (
            p.ok,
            format!("all {} imports in {files} resolve", s.imports),
        )
    };
    if s.infos > 0 {
        line.push_str(&format!("; {}", plural(s.infos, "info", "infos")));
        if !opts.verbose {
            line.push_str(" not shown (use --verbose)");
        }
    }
    if report.mode.is_prediction() {
        line = format!("prediction: {line}");
    }
    writeln!(out, "{style}{line}{}", style.render_reset())?;
    let roots: Vec<String> = sorted_findings(report)
        .into_iter()
        .filter(|f| f.severity == Severity::Error && !f.module.is_empty())
        .map(|f| {
            let breaks = if f.affects.len() > 1 {
                let files: std::collections::BTreeSet<&str> =
                    f.affects.iter().map(|a| a.file.as_str()).collect();
                format!(
                    ", breaks {} in {}",
                    plural(f.affects.len(), "import", "imports"),
                    plural(files.len(), "file", "files")
                )
            } else {
                String::new()
            };
            format!("`{}` ({}{breaks})", clean(&f.module), f.code.as_str())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !roots.is_empty() {
        let mut line = format!("root causes: {}", roots[..roots.len().min(8)].join(", "));
        if roots.len() > 8 {
            line.push_str(&format!(" and {} more", roots.len() - 8));
        }
        writeln!(out, "{}{line}{}", p.dim, p.dim.render_reset())?;
    }

    if !opts.verbose && !report.warnings.is_empty() {
        // The brief keeps image warnings out of the short report, but a reader must know they
        // exist: they can explain a finding that looks impossible.
        writeln!(
            out,
            "{}note{}: {} about the image not shown (use --verbose)",
            p.note,
            p.note.render_reset(),
            plural(report.warnings.len(), "warning", "warnings"),
        )?;
    }

    let python = &report.python;
    let origin = match &report.mode {
        Mode::Image => format!("image {}", clean(&report.image)),
        Mode::Registry {
            repository,
            manifest_digest,
            platform,
            ..
        } => format!(
            "image {} ({}@{}, {})",
            clean(&report.image),
            clean(repository),
            clean(manifest_digest),
            clean(platform)
        ),
        Mode::Built {
            context,
            dockerfile,
            image_id,
            tags,
        } => {
            let short = image_id.strip_prefix("sha256:").unwrap_or(image_id);
            let short = short.get(..12).unwrap_or(short);
            let mut s = format!(
                "built from {} ({}) as {short}",
                clean(context),
                clean(dockerfile)
            );
            if !tags.is_empty() {
                s.push_str(&format!(" ({})", clean(&tags.join(", "))));
            }
            s
        }
        Mode::Prediction {
            context,
            dockerfile,
            base,
        } => format!(
            "predicted from {} ({}) without a build, base {}",
            clean(context),
            clean(dockerfile),
            clean(base)
        ),
    };
    let mut context = format!(
        "{origin} · python {} ({})",
        clean(&python.version),
        clean(&python.executable),
    );
    if !report.entrypoint.is_empty() {
        context.push_str(&format!(" · entrypoint: {}", clean(&report.entrypoint)));
    }
    writeln!(out, "{}{context}{}", p.dim, p.dim.render_reset())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Makes image-controlled text safe to print: control characters (ESC included) become
/// visible symbols, the same treatment `annotate-snippets` gives titles and source lines.
fn clean(s: &str) -> Cow<'_, str> {
    let normalized = normalize_untrusted_str(s);
    if normalized == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(normalized)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn char_span_counts_characters_not_bytes() {
        let line = "é = import_module('x')";
        assert_eq!(char_span(line, 1, 1), 0..2);
        assert_eq!(char_span(line, 3, 1), 3..4);
    }

    #[test]
    fn char_span_clamps_out_of_range_spans() {
        assert_eq!(char_span("import a", 5, 100), 4..8);
        assert_eq!(char_span("import a", 50, 3), 8..8);
        assert_eq!(char_span("import a", 0, 0), 0..1);
    }

    #[test]
    fn clean_makes_escape_sequences_visible() {
        assert!(!clean("/app/\u{1b}[31mred.py").contains('\u{1b}'));
        assert!(matches!(clean("/app/main.py"), Cow::Borrowed(_)));
    }
}
