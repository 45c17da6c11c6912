//! The checker: picks the application's files, parses them, resolves every import against the
//! image's interpreter model and turns each import that would raise into a [`Finding`].

pub mod finding;

pub use finding::{Code, Finding, Severity};

use importgate_python::SysPathEntry;
use serde::Serialize;

/// Everything a report needs, already decided and sorted.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The image as the user named it.
    pub image: String,
    pub python: PythonSummary,
    /// How the container starts, in words (`python -m app`, `uvicorn main:app`).
    pub entrypoint: String,
    pub findings: Vec<Finding>,
    /// Every import site checked, with its verdict: what differential tests replay in the image.
    pub imports: Vec<CheckedImport>,
    pub summary: Summary,
    /// Things the checker could not decide or that look wrong in the image itself.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PythonSummary {
    /// `3.12` style.
    pub version: String,
    pub executable: String,
    pub sys_path: Vec<SysPathEntry>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub imports: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

/// One import site and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedImport {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The statement as written, normalised to one line (`from . import x`, `import a.b as c`).
    pub statement: String,
    /// The absolute module the statement imports (the `from` module for `from a import b`);
    /// empty when a relative import cannot be made absolute.
    pub module: String,
    /// For `from a import b`, the `b`.
    pub name: Option<String>,
    /// `__package__` the statement runs with (`None` for a script or a top-level module).
    pub package: Option<String>,
    /// `ok`, `error`, `guarded` (would fail but is caught), `skipped` (never runs here).
    pub status: ImportStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportStatus {
    Ok,
    Error,
    Guarded,
    Skipped,
}
