//! The report for machines: a JSON document whose shape is defined here, field by field, and
//! nowhere else (see `docs/json-schema.md`).
//!
//! The library types derive `Serialize` for convenience, but serialising them directly would
//! let a rename in `importgate-check` silently change what CI scripts parse. These private wire
//! structs (ripgrep's `jsont.rs` approach) are the schema: changing one is a visible, reviewed
//! edit to this file, and the exhaustive matches below stop the build when the checker grows a
//! variant the schema has not decided how to spell.

use std::io::{self, Write};

use importgate_check::{
    CheckedImport, ConfigLoc, ContextRef, Finding, ImportStatus, Kind, Location, Mode, Report,
};
use importgate_python::{Origin, SysPathEntry};
use serde::Serialize;

/// Bumped only for a change that can break a consumer (a removed or retyped field, a field
/// whose meaning changes). Adding fields or enum values keeps it. 2: a failure raised inside a
/// dependency is located at the application statement that raises (the dependency's frame
/// moved to `related`), findings about the image configuration have `file` `<image-config>`.
pub const SCHEMA_VERSION: u32 = 2;

/// Writes the report as pretty-printed JSON followed by a newline, so the output is both
/// diffable and a well-formed text file.
pub fn render_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document::from_report(report);
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    image: &'a str,
    python: Python<'a>,
    entrypoint: &'a str,
    findings: Vec<JsonFinding<'a>>,
    imports: Vec<Import<'a>>,
    summary: Summary,
    warnings: &'a [String],
    /// Added in schema 1 (additive): the startup path.
    startup: JsonStartup<'a>,
    /// Added in schema 1 (additive): where the image came from.
    mode: JsonMode<'a>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum JsonMode<'a> {
    Image,
    Built {
        context: &'a str,
        dockerfile: &'a str,
        image_id: &'a str,
        tags: &'a [String],
    },
    Prediction {
        context: &'a str,
        dockerfile: &'a str,
        base: &'a str,
    },
    /// Added in schema 1 (additive): read from a registry; `pinned` is `repository@manifest_digest`.
    Registry {
        repository: &'a str,
        tag: Option<&'a str>,
        manifest_digest: &'a str,
        index_digest: Option<&'a str>,
        platform: &'a str,
        pinned: String,
    },
}

impl<'a> From<&'a Mode> for JsonMode<'a> {
    fn from(mode: &'a Mode) -> Self {
        match mode {
            Mode::Image => JsonMode::Image,
            Mode::Built {
                context,
                dockerfile,
                image_id,
                tags,
            } => JsonMode::Built {
                context,
                dockerfile,
                image_id,
                tags,
            },
            Mode::Prediction {
                context,
                dockerfile,
                base,
            } => JsonMode::Prediction {
                context,
                dockerfile,
                base,
            },
            Mode::Registry {
                repository,
                tag,
                manifest_digest,
                index_digest,
                platform,
            } => JsonMode::Registry {
                repository,
                tag: tag.as_deref(),
                manifest_digest,
                index_digest: index_digest.as_deref(),
                platform,
                pinned: format!("{repository}@{manifest_digest}"),
            },
        }
    }
}

#[derive(Serialize)]
struct JsonContext<'a> {
    path: &'a str,
    copy_line: usize,
    fix_path: Option<&'a str>,
}

impl<'a> From<&'a ContextRef> for JsonContext<'a> {
    fn from(c: &'a ContextRef) -> Self {
        JsonContext {
            path: &c.path,
            copy_line: c.copy_line,
            fix_path: c.fix_path.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct JsonStartup<'a> {
    understood: bool,
    notes: &'a [String],
    modules_reached: usize,
    files_parsed: usize,
    third_party_files: usize,
}

#[derive(Serialize)]
struct Python<'a> {
    version: &'a str,
    executable: &'a str,
    sys_path: Vec<PathEntry<'a>>,
}

#[derive(Serialize)]
struct PathEntry<'a> {
    path: &'a str,
    origin: JsonOrigin<'a>,
    /// The same words `--verbose` prints, so a consumer need not know every `kind`.
    description: String,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum JsonOrigin<'a> {
    ScriptDir { script: &'a str },
    WorkingDir { reason: &'a str },
    ScriptBinDir { script: &'a str },
    PythonPath,
    StdlibZip,
    Stdlib,
    LibDynload,
    SitePackages,
    UserSite,
    Pth { file: &'a str, line: u32 },
    Launcher { reason: &'a str, installed: bool },
    CodeEdit { file: &'a str, line: u32 },
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    /// Added in schema 2: `F1`, `F2`, …; `imports[].finding` refers to it.
    id: &'a str,
    severity: &'static str,
    code: &'static str,
    module: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
    hint: Option<&'a str>,
    notes: &'a [String],
    /// When the import runs: `startup`, `module-level`, `lazy`, `dynamic`, `guarded`,
    /// `undecidable`.
    kind: &'static str,
    /// For `startup` findings, the modules from the entrypoint to the failing one.
    chain: &'a [String],
    /// Added in schema 1 (additive): the image path the hint asks to create or change.
    fix_path: Option<&'a str>,
    /// Added in schema 1 (additive): the finding's file in the build context.
    context: Option<JsonContext<'a>>,
    /// Added in schema 2: for `file` `<image-config>`, the instruction and argument.
    config: Option<JsonConfig<'a>>,
    /// Added in schema 2: where inside a dependency the exception is raised.
    related: Vec<JsonLocation<'a>>,
    /// Added in schema 2: every application statement that raises for this root cause.
    affects: Vec<JsonLocation<'a>>,
    /// Added in schema 2 (additive, only in a prediction): why the verdict is uncertain.
    #[serde(skip_serializing_if = "Option::is_none")]
    uncertain: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonConfig<'a> {
    instruction: &'a str,
    argument: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_column: Option<u32>,
}

impl<'a> From<&'a ConfigLoc> for JsonConfig<'a> {
    fn from(c: &'a ConfigLoc) -> Self {
        JsonConfig {
            instruction: &c.instruction,
            argument: c.argument,
            code_line: c.code_line,
            code_column: c.code_column,
        }
    }
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    statement: &'a str,
}

impl<'a> From<&'a Location> for JsonLocation<'a> {
    fn from(l: &'a Location) -> Self {
        JsonLocation {
            file: &l.file,
            line: l.line,
            column: l.column,
            message: &l.message,
            statement: &l.statement,
        }
    }
}

#[derive(Serialize)]
struct Import<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    statement: &'a str,
    package: Option<&'a str>,
    module: &'a str,
    name: Option<&'a str>,
    status: &'static str,
    /// Added in schema 2: the finding that explains an `error` or `guarded` status.
    finding: Option<&'a str>,
    /// Added in schema 2: the dependency module the statement raises inside, when the
    /// statement itself resolves but executing what it imports fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    raised_in: Option<&'a str>,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    imports: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    /// Added in schema 2: application statements that raise, and the files holding them.
    failing_statements: usize,
    failing_files: usize,
}

impl<'a> Document<'a> {
    fn from_report(report: &'a Report) -> Self {
        let s = &report.summary;
        Document {
            schema_version: SCHEMA_VERSION,
            image: &report.image,
            python: Python {
                version: &report.python.version,
                executable: &report.python.executable,
                sys_path: report.python.sys_path.iter().map(PathEntry::from).collect(),
            },
            entrypoint: &report.entrypoint,
            // Same order as the human report, so the two can be compared line by line.
            findings: crate::human::sorted_findings(report)
                .into_iter()
                .map(JsonFinding::from)
                .collect(),
            imports: report.imports.iter().map(Import::from).collect(),
            summary: Summary {
                files: s.files,
                imports: s.imports,
                errors: s.errors,
                warnings: s.warnings,
                infos: s.infos,
                failing_statements: s.failing_statements,
                failing_files: s.failing_files,
            },
            warnings: &report.warnings,
            startup: JsonStartup {
                understood: report.startup.understood,
                notes: &report.startup.notes,
                modules_reached: report.startup.modules_reached,
                files_parsed: report.startup.files_parsed,
                third_party_files: report.startup.third_party_files,
            },
            mode: JsonMode::from(&report.mode),
        }
    }
}

impl<'a> From<&'a SysPathEntry> for PathEntry<'a> {
    fn from(entry: &'a SysPathEntry) -> Self {
        let origin = match &entry.origin {
            Origin::ScriptDir { script } => JsonOrigin::ScriptDir { script },
            Origin::WorkingDir { reason } => JsonOrigin::WorkingDir { reason },
            Origin::ScriptBinDir { script } => JsonOrigin::ScriptBinDir { script },
            Origin::PythonPath => JsonOrigin::PythonPath,
            Origin::StdlibZip => JsonOrigin::StdlibZip,
            Origin::Stdlib => JsonOrigin::Stdlib,
            Origin::LibDynload => JsonOrigin::LibDynload,
            Origin::SitePackages => JsonOrigin::SitePackages,
            Origin::UserSite => JsonOrigin::UserSite,
            Origin::Pth { file, line } => JsonOrigin::Pth { file, line: *line },
            Origin::Launcher { reason, installed } => JsonOrigin::Launcher {
                reason,
                installed: *installed,
            },
            Origin::CodeEdit { file, line } => JsonOrigin::CodeEdit { file, line: *line },
        };
        PathEntry {
            path: &entry.path,
            origin,
            description: entry.origin.describe(),
        }
    }
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
        JsonFinding {
            id: &f.id,
            severity: f.severity.as_str(),
            code: f.code.as_str(),
            module: &f.module,
            file: &f.file,
            line: f.line,
            column: f.column,
            message: &f.message,
            hint: f.hint.as_deref(),
            notes: &f.notes,
            kind: kind_str(f.kind),
            chain: &f.chain,
            fix_path: f.fix_path.as_deref(),
            context: f.context.as_ref().map(JsonContext::from),
            config: f.config.as_ref().map(JsonConfig::from),
            related: f.related.iter().map(JsonLocation::from).collect(),
            affects: f.affects.iter().map(JsonLocation::from).collect(),
            uncertain: f.uncertain.as_deref(),
        }
    }
}

impl<'a> From<&'a CheckedImport> for Import<'a> {
    fn from(i: &'a CheckedImport) -> Self {
        Import {
            file: &i.file,
            line: i.line,
            column: i.column,
            statement: &i.statement,
            package: i.package.as_deref(),
            module: &i.module,
            name: i.name.as_deref(),
            status: status_str(i.status),
            finding: i.finding.as_deref(),
            raised_in: i.raised_in.as_deref(),
        }
    }
}

/// Spelled out here rather than borrowed from the library's serde attributes, so renaming a
/// variant there cannot rename it in the schema.
fn status_str(status: ImportStatus) -> &'static str {
    match status {
        ImportStatus::Ok => "ok",
        ImportStatus::Error => "error",
        ImportStatus::Guarded => "guarded",
        ImportStatus::Skipped => "skipped",
    }
}

/// Spelled out here for the same reason as [`status_str`].
fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::Startup => "startup",
        Kind::ModuleLevel => "module-level",
        Kind::Lazy => "lazy",
        Kind::Dynamic => "dynamic",
        Kind::Guarded => "guarded",
        Kind::Undecidable => "undecidable",
    }
}
