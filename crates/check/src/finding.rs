//! Findings: what the checker concludes about one import site, in a form every report format
//! can render without knowing how it was decided.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Stable kebab-case codes: users select, ignore and search for them, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// No finder on sys.path returns a spec: `ModuleNotFoundError`.
    ModuleNotFound,
    /// A directory without `__init__.py` lost to a regular package or module elsewhere.
    NamespaceShadowed,
    /// `import a.b` where `a` is a module, not a package.
    ParentNotPackage,
    /// `from a import b`: neither a submodule nor a name bound in `a` (`ImportError`).
    NameNotInModule,
    /// A relative import in a file run as a script, or beyond the top-level package.
    RelativeImportNoParent,
    RelativeImportBeyondTop,
    /// The import cannot be decided statically (a non-literal dynamic import, say).
    Undecidable,
    /// A file of the application that does not parse.
    SyntaxError,
    /// The import is guarded (`try/except ImportError`) and would fail: not an error.
    GuardedImportMissing,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ModuleNotFound => "module-not-found",
            Code::NamespaceShadowed => "namespace-shadowed",
            Code::ParentNotPackage => "parent-not-package",
            Code::NameNotInModule => "name-not-in-module",
            Code::RelativeImportNoParent => "relative-import-no-parent",
            Code::RelativeImportBeyondTop => "relative-import-beyond-top",
            Code::Undecidable => "undecidable-import",
            Code::SyntaxError => "syntax-error",
            Code::GuardedImportMissing => "guarded-import-missing",
        }
    }

    /// The exception CPython raises, for the headline.
    pub fn exception(self) -> Option<&'static str> {
        match self {
            Code::ModuleNotFound | Code::NamespaceShadowed | Code::ParentNotPackage => {
                Some("ModuleNotFoundError")
            }
            Code::NameNotInModule | Code::RelativeImportNoParent => Some("ImportError"),
            Code::RelativeImportBeyondTop => Some("ImportError"),
            Code::SyntaxError => Some("SyntaxError"),
            Code::GuardedImportMissing | Code::Undecidable => None,
        }
    }
}

/// One conclusion about one import site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    /// The absolute dotted name CPython would fail to import (or the module a missing name was
    /// looked up in, for `name-not-in-module`).
    pub module: String,
    /// Path of the importing file inside the image.
    pub file: String,
    /// 1-based line and column (in characters) of the import site.
    pub line: u32,
    pub column: u32,
    /// One line, in CPython's words where there are any.
    pub message: String,
    /// A concrete fix.
    pub hint: Option<String>,
    /// Why: the sys.path walk and the rule that decided, one line each.
    pub notes: Vec<String>,
    /// The source line of the import site, for snippets; not part of the JSON schema.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// Length in characters of the import site on `source_line`, for underlining.
    #[serde(skip)]
    pub span_len: u32,
}
