//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure DevOps) ingest. The wire
//! types are private and hand-written: the subset used is small and the spec is frozen, and a
//! generated crate would pull a build-time schema compiler.

use std::collections::BTreeMap;
use std::io::{self, Write};

use importgate_check::{Code, Finding, Report, Severity};
use serde::Serialize;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const HELP_BASE: &str = "https://github.com/importgate/importgate/blob/main/docs/rules";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    version: &'a str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    original_uri_base_ids: BTreeMap<&'a str, ArtifactLocation>,
    results: Vec<SarifResult>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    image: &'a str,
    python: &'a str,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    information_uri: &'a str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    help_uri: String,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    /// The frame inside a dependency that raises, and the other application statements that
    /// raise for the same root cause.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedLocation {
    id: usize,
    physical_location: PhysicalLocation,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
}

/// Every code, in a fixed order, so `ruleIndex` is stable between runs.
const RULES: &[(Code, &str, &str)] = &[
    (
        Code::ModuleNotFound,
        "No finder on sys.path returns a spec for the module",
        "CPython raises ModuleNotFoundError: the module is on no sys.path entry (or in no entry of the parent package's __path__) of the interpreter the image runs.",
    ),
    (
        Code::NamespaceShadowed,
        "A directory without __init__.py loses to a regular package of the same name",
        "A regular package or module found on any sys.path entry beats namespace directories, so the submodule in the directory is never searched.",
    ),
    (
        Code::ParentNotPackage,
        "The parent of the imported module is a module, not a package",
        "import a.b fails with \"'a' is not a package\" when a resolves to a plain module.",
    ),
    (
        Code::NameNotInModule,
        "The imported name is neither a submodule nor bound in the module",
        "from a import b raises ImportError: cannot import name 'b'.",
    ),
    (
        Code::CircularImport,
        "The imported name is not bound yet: the module is still being imported (an import cycle)",
        "from a import b runs while a is partially initialized, before the line of a that binds b: ImportError: cannot import name 'b' from partially initialized module 'a' (most likely due to a circular import).",
    ),
    (
        Code::RelativeImportNoParent,
        "A relative import in a file that runs as a script",
        "A script has no __package__, so relative imports raise ImportError.",
    ),
    (
        Code::RelativeImportBeyondTop,
        "A relative import climbs above the top-level package",
        "More leading dots than package levels raises ImportError.",
    ),
    (
        Code::Undecidable,
        "The import cannot be decided statically",
        "A dynamic import whose module is not a literal.",
    ),
    (
        Code::SyntaxError,
        "The file does not parse",
        "Importing the file raises SyntaxError.",
    ),
    (
        Code::GuardedImportMissing,
        "A guarded import would fail, and the failure is caught",
        "The import sits in a try block whose handler catches ImportError; it does not raise.",
    ),
    (
        Code::ScriptNotFound,
        "The script the image configuration runs is not in the image",
        "python SCRIPT (or a framework CLI's path) names a file that does not exist, or a directory without __main__.py: the process exits before running anything.",
    ),
    (
        Code::CommandNotFound,
        "The program the image configuration executes is not in the image",
        "Entrypoint/Cmd names a program that is not on the image's PATH: the container cannot start.",
    ),
    (
        Code::ExecFailed,
        "The program the image configuration executes cannot be started",
        "The program exists but the kernel or loader refuses it: no execute permission for the runtime user, a missing #! interpreter or ELF loader, Windows line endings on the #! line, or a shared library the interpreter needs: the container cannot start.",
    ),
];

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn default_level(code: Code) -> &'static str {
    match code {
        Code::Undecidable | Code::GuardedImportMissing => "note",
        Code::SyntaxError => "warning",
        _ => "error",
    }
}

/// `module-not-found` → `ModuleNotFound`, SARIF's readable rule name.
fn pascal(code: &str) -> String {
    code.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Where a result is: the user's file relative to `%SRCROOT%` (the directory importgate ran in,
/// which the code-scanning service resolves to the checkout) when the image was built from a
/// context, an absolute `file://` URI when that context lies outside the working directory,
/// else the path inside the image relative to `IMAGEROOT`.
fn artifact(report: &Report, f: &Finding) -> ArtifactLocation {
    if f.context.is_some() {
        let shown = report.shown_path(f);
        if shown.starts_with('/') {
            return ArtifactLocation {
                uri: format!("file://{}", percent_path(&shown)),
                uri_base_id: None,
            };
        }
        return ArtifactLocation {
            uri: percent_path(&shown),
            uri_base_id: Some("%SRCROOT%"),
        };
    }
    ArtifactLocation {
        uri: percent_path(f.file.trim_start_matches('/')),
        uri_base_id: Some("IMAGEROOT"),
    }
}

/// An image file as an artifact: its context file when the report knows one.
fn artifact_of(report: &Report, file: &str) -> ArtifactLocation {
    if report.context_files.contains_key(file) {
        let shown = report.shown_file(file);
        if !shown.starts_with('/') {
            return ArtifactLocation {
                uri: percent_path(&shown),
                uri_base_id: Some("%SRCROOT%"),
            };
        }
    }
    ArtifactLocation {
        uri: percent_path(file.trim_start_matches('/')),
        uri_base_id: Some("IMAGEROOT"),
    }
}

/// A path as a URI reference: characters outside RFC 3986's unreserved set and `/` escaped.
fn percent_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders the report as one SARIF log with one run. Locations are the user's files when the
/// image was built from a context, else paths inside the image (see [`artifact`]).
pub fn render_sarif(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let rules: Vec<Rule> = RULES
        .iter()
        .map(|(code, short, full)| {
            let id = code.as_str().to_string();
            Rule {
                name: pascal(&id),
                short_description: Text {
                    text: (*short).to_string(),
                },
                full_description: Text {
                    text: (*full).to_string(),
                },
                help: Help {
                    text: format!("{full} See docs/rules/{id}.md."),
                    markdown: format!("{full}\n\nSee [{id}]({HELP_BASE}/{id}.md)."),
                },
                help_uri: format!("{HELP_BASE}/{id}.md"),
                default_configuration: Configuration {
                    level: default_level(*code),
                },
                id,
            }
        })
        .collect();
    let results = crate::human::sorted_findings(report)
        .into_iter()
        .map(|f| {
            let mut text = f.message.clone();
            if report.mode.is_prediction() {
                text.push_str(" (prediction)");
            }
            if f.context.is_some() && f.config.is_none() {
                text.push_str("\nin the image at ");
                text.push_str(&f.file);
            }
            for note in &f.notes {
                text.push('\n');
                text.push_str(note);
            }
            if let Some(hint) = &f.hint {
                text.push_str("\nhelp: ");
                text.push_str(hint);
            }
            SarifResult {
                rule_id: f.code.as_str().to_string(),
                rule_index: RULES.iter().position(|(c, _, _)| *c == f.code).unwrap_or(0),
                level: level(f.severity),
                message: Text { text },
                locations: vec![Location {
                    physical_location: PhysicalLocation {
                        artifact_location: artifact(report, f),
                        region: Region {
                            start_line: report.shown_line(f).max(1),
                            start_column: f.column.max(1),
                        },
                    },
                }],
                related_locations: f
                    .related
                    .iter()
                    .map(|r| (r, r.message.clone()))
                    .chain(
                        f.affects
                            .iter()
                            .filter(|a| !(a.file == f.file && a.line == f.line))
                            .map(|a| (a, format!("also raises: {}", a.statement))),
                    )
                    .enumerate()
                    .map(|(id, (l, text))| RelatedLocation {
                        id,
                        physical_location: PhysicalLocation {
                            artifact_location: artifact_of(report, &l.file),
                            region: Region {
                                start_line: l.line.max(1),
                                start_column: l.column.max(1),
                            },
                        },
                        message: Text { text },
                    })
                    .collect(),
            }
        })
        .collect();
    let mut bases = BTreeMap::new();
    bases.insert(
        "IMAGEROOT",
        ArtifactLocation {
            uri: "file:///".into(),
            uri_base_id: None,
        },
    );
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "importgate",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://github.com/importgate/importgate",
                    rules,
                },
            },
            original_uri_base_ids: bases,
            results,
            properties: RunProperties {
                image: &report.image,
                python: &report.python.version,
            },
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}
