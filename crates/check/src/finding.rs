//! Findings: what the checker concludes about one import site, in a form every report format
//! can render without knowing how it was decided.

use serde::Serialize;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
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
    /// `from a import b` while `a` is still being imported (an import cycle) and has not yet
    /// reached the line that binds `b`: `ImportError: cannot import name 'b' from partially
    /// initialized module 'a'`.
    CircularImport,
    /// A relative import in a file run as a script, or beyond the top-level package.
    RelativeImportNoParent,
    RelativeImportBeyondTop,
    /// The import cannot be decided statically (a non-literal dynamic import, say).
    Undecidable,
    /// A file of the application that does not parse.
    SyntaxError,
    /// The import is guarded (`try/except ImportError`) and would fail: not an error.
    GuardedImportMissing,
    /// An import inside a function or method that would fail when the function runs: its own
    /// code because it does not break startup, so a gate can weigh it separately.
    LazyImportMissing,
    /// A literal `importlib.import_module("a.b")` / `__import__("a")` that would fail.
    DynamicImportMissing,
    /// An extension module (or a library it needs) names a shared library the image's dynamic
    /// loader cannot find: `ImportError: libX.so: cannot open shared object file`.
    MissingSharedLibrary,
    /// An extension module built for another machine than the image's platform.
    IncompatibleExtension,
    /// The runtime user cannot read a module file the finder sees: `PermissionError`.
    PermissionDenied,
    /// `python SCRIPT` (or a framework CLI's path) names a file that is not in the image, or a
    /// directory without `__main__.py`: the interpreter exits before running anything.
    ScriptNotFound,
    /// The program Entrypoint/Cmd executes is not in the image (not on its PATH).
    CommandNotFound,
    /// The program is in the image but cannot be started: no execute permission, a `#!`
    /// interpreter or ELF loader that is missing, a shared library the interpreter itself needs.
    ExecFailed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ModuleNotFound => "module-not-found",
            Code::NamespaceShadowed => "namespace-shadowed",
            Code::ParentNotPackage => "parent-not-package",
            Code::NameNotInModule => "name-not-in-module",
            Code::CircularImport => "circular-import",
            Code::RelativeImportNoParent => "relative-import-no-parent",
            Code::RelativeImportBeyondTop => "relative-import-beyond-top",
            Code::Undecidable => "undecidable-import",
            Code::SyntaxError => "syntax-error",
            Code::GuardedImportMissing => "guarded-import-missing",
            Code::LazyImportMissing => "lazy-import-missing",
            Code::DynamicImportMissing => "dynamic-import-missing",
            Code::MissingSharedLibrary => "missing-shared-library",
            Code::IncompatibleExtension => "incompatible-extension",
            Code::PermissionDenied => "permission-denied",
            Code::ScriptNotFound => "script-not-found",
            Code::CommandNotFound => "command-not-found",
            Code::ExecFailed => "exec-failed",
        }
    }

    /// The exception CPython raises, for the headline.
    pub fn exception(self) -> Option<&'static str> {
        match self {
            Code::ModuleNotFound | Code::NamespaceShadowed | Code::ParentNotPackage => {
                Some("ModuleNotFoundError")
            }
            Code::NameNotInModule | Code::CircularImport | Code::RelativeImportNoParent => {
                Some("ImportError")
            }
            Code::RelativeImportBeyondTop => Some("ImportError"),
            Code::SyntaxError => Some("SyntaxError"),
            Code::LazyImportMissing | Code::DynamicImportMissing => Some("ImportError"),
            Code::MissingSharedLibrary | Code::IncompatibleExtension => Some("ImportError"),
            Code::PermissionDenied => Some("PermissionError"),
            Code::ScriptNotFound | Code::CommandNotFound | Code::ExecFailed => None,
            Code::GuardedImportMissing | Code::Undecidable => None,
        }
    }

    /// Every code, for `--select`/`--ignore` validation and documentation.
    pub const ALL: [Code; 18] = [
        Code::ModuleNotFound,
        Code::NamespaceShadowed,
        Code::ParentNotPackage,
        Code::NameNotInModule,
        Code::CircularImport,
        Code::RelativeImportNoParent,
        Code::RelativeImportBeyondTop,
        Code::Undecidable,
        Code::SyntaxError,
        Code::GuardedImportMissing,
        Code::LazyImportMissing,
        Code::DynamicImportMissing,
        Code::MissingSharedLibrary,
        Code::IncompatibleExtension,
        Code::PermissionDenied,
        Code::ScriptNotFound,
        Code::CommandNotFound,
        Code::ExecFailed,
    ];

    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// When the failing import runs, which decides how much it matters: a CI gate must stop an
/// image that cannot start, but may only warn about a function nobody calls at startup.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Runs while the entrypoint starts: the module is reached from it at import time.
    Startup,
    /// Module-level code of a module the entrypoint does not reach statically (it may still be
    /// imported later, by a worker, a plugin loader or a test).
    ModuleLevel,
    /// Inside a function or method: fails when it is called.
    Lazy,
    /// A literal `importlib.import_module`/`__import__` call.
    Dynamic,
    /// Caught by `try/except ImportError`, `contextlib.suppress` or a `find_spec` test.
    Guarded,
    /// Cannot be decided statically (non-literal dynamic import, syntax error).
    Undecidable,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Startup => "startup",
            Kind::ModuleLevel => "module-level",
            Kind::Lazy => "lazy",
            Kind::Dynamic => "dynamic",
            Kind::Guarded => "guarded",
            Kind::Undecidable => "undecidable",
        }
    }

    pub const ALL: [Kind; 6] = [
        Kind::Startup,
        Kind::ModuleLevel,
        Kind::Lazy,
        Kind::Dynamic,
        Kind::Guarded,
        Kind::Undecidable,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One conclusion about one import site (or one root cause shared by several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// `F1`, `F2`, … in report order: what `imports[].finding` refers to.
    pub id: String,
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
    /// When the import runs (startup, lazy, ...); decides the default severity.
    pub kind: Kind,
    /// For a startup finding, the modules from the entrypoint to the one that fails
    /// (`app.main`, `fastapi`, `starlette`, `anyio`); empty otherwise.
    pub chain: Vec<String>,
    /// The image path the hint asks to create or change (`/app/core/__init__.py`), kept apart
    /// from the hint's words so a report built from a context can name the context file
    /// instead ([`ContextRef::fix_path`]).
    pub fix_path: Option<String>,
    /// Where the importing file comes from in the build context, when the image was built
    /// (or predicted) from one; `None` when only the image is known.
    pub context: Option<ContextRef>,
    /// For a finding about what the image configuration runs (`file` is `<image-config>`):
    /// which instruction and argument; `line` is then that argument's position.
    pub config: Option<ConfigLoc>,
    /// Where the failure really happens when it is not at `file:line`: the frame inside a
    /// dependency that raises (`site-packages/httpx/_transports/default.py:30 import
    /// httpcore`), outermost last.
    pub related: Vec<Location>,
    /// Every application statement that raises because of this root cause, the primary
    /// location included; empty when only the primary location does.
    pub affects: Vec<Location>,
    /// Set by the pre-build mode when a `RUN` step it does not model may write what this
    /// verdict rests on: why the prediction cannot be sure (the finding is then a warning).
    pub uncertain: Option<String>,
    /// The source line of the import site, for snippets; not part of the JSON schema (which
    /// `importgate-report` defines), but kept with a report stored between runs.
    pub source_line: Option<String>,
    /// Length in characters of the import site on `source_line`, for underlining.
    pub span_len: u32,
}

/// A finding's place in the build context: the user's file rather than the image's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContextRef {
    /// The importing file, relative to the context root (`backend/services/case_service.py`).
    pub path: String,
    /// The Dockerfile line of the `COPY`/`ADD` that puts the file into the image.
    pub copy_line: usize,
    /// [`Finding::fix_path`] relative to the context root, when it maps there.
    pub fix_path: Option<String>,
    /// The line in `path` when it is not the finding's own line: a finding about what the
    /// container runs is shown on the Dockerfile's `CMD`/`ENTRYPOINT` line.
    pub line: Option<u32>,
}

/// Where in the image configuration a finding about the container's start is: `Entrypoint +
/// Cmd` as one list, counted from 1, so `line` of such a finding points at the argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConfigLoc {
    /// `ENTRYPOINT`, `CMD`, or `ENV` (a variable such as `FLASK_APP`; `argument` is 0).
    pub instruction: String,
    /// 1-based position in Entrypoint + Cmd.
    pub argument: u32,
    /// For `python -c`: line and column of the failing statement inside the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_column: Option<u32>,
}

/// A place in the image, for related locations and the statements a root cause breaks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// What happens there, for related locations (`imports httpcore`); empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The statement as written, for `affects` entries.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub statement: String,
}
