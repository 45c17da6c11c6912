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
