//! The checker: picks the application's files, parses them, resolves every import against the
//! image's interpreter model and turns each import that would raise into a [`Finding`].

pub mod finding;

pub use finding::{Code, ConfigLoc, ContextRef, Finding, Kind, Location, Severity};

use importgate_python::SysPathEntry;
use serde::Serialize;

/// Everything a report needs, already decided and sorted.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
    /// What the entrypoint starts and how far the startup closure went.
    pub startup: Startup,
    /// Where the image came from: named by the user, built from a context, or predicted.
    pub mode: Mode,
    /// Image path → context-relative path of every application file that came from the build
    /// context, so per-file reports (JUnit) name the user's files too; empty for an image.
    pub context_files: std::collections::BTreeMap<String, String>,
    /// The application files checked (image paths, sorted), with or without imports: per-file
    /// reports (JUnit) list each.
    pub files: Vec<String>,
}

/// How the checked image came to be; renderers say so, and a prediction says it on every
/// finding because its verdicts rest on a model rather than on the built image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mode {
    /// An existing image (daemon reference, archive, OCI layout).
    #[default]
    Image,
    /// Built by importgate from a build context (`--context`).
    Built {
        /// The context directory as the user gave it (`examples/seed-app`); findings'
        /// [`ContextRef`] paths are relative to it.
        context: String,
        /// The Dockerfile as the user gave it, or its default path in the context.
        dockerfile: String,
        /// `sha256:` id of the built image.
        image_id: String,
        /// `--tag` names given to it; empty when it was left untagged.
        tags: Vec<String>,
    },
    /// Predicted from the Dockerfile and the context without building (`--no-build`).
    Prediction {
        /// The context directory as the user gave it.
        context: String,
        /// The Dockerfile as the user gave it, or its default path in the context.
        dockerfile: String,
        /// What the final stage's base was read from, in words (`importgate-test/python:3.12-slim
        /// from the local engine`, `bundled model of python:3.12-slim`).
        base: String,
    },
    /// Read from an OCI Distribution registry (`registry:` / `docker://`): what exactly was
    /// checked, so a release pipeline can pin it.
    Registry {
        /// `HOST/REPO`, Docker Hub names normalised (`docker.io/library/python`).
        repository: String,
        /// The tag asked for, if any.
        tag: Option<String>,
        /// Digest of the image manifest whose layers were checked.
        manifest_digest: String,
        /// Digest of the index the manifest was picked from, when the reference named one.
        index_digest: Option<String>,
        /// `os/arch[/variant]` of the image checked, from its config.
        platform: String,
    },
}

impl Mode {
    /// The context directory findings' [`ContextRef`] paths are relative to, if any.
    pub fn context_dir(&self) -> Option<&str> {
        match self {
            Mode::Image | Mode::Registry { .. } => None,
            Mode::Built { context, .. } | Mode::Prediction { context, .. } => Some(context),
        }
    }

    pub fn is_prediction(&self) -> bool {
        matches!(self, Mode::Prediction { .. })
    }

    /// A context-relative path (a [`ContextRef`] path) as reports show it: joined to the
    /// context directory as given, which the command line makes relative to the working
    /// directory when it lies below it (see [`display_dir`]). So `--context caseapp/backend`
    /// run at a repository's root reports `caseapp/backend/core/aws_service.py`: the path in
    /// the repository, which is what editors, SARIF's `%SRCROOT%` and annotations resolve
    /// against in CI.
    pub fn join_context(&self, rel: &str) -> Option<String> {
        let dir = self.context_dir()?.trim_end_matches('/');
        Some(match (dir, rel) {
            ("" | ".", _) => rel.to_string(),
            (_, "" | ".") => dir.to_string(),
            _ => format!("{dir}/{rel}"),
        })
    }
}

/// A context directory as reports name it: relative to `cwd` when it lies below it (an
/// absolute `--context` inside the repository still gives repository paths), `./` and
/// trailing `/` dropped; elsewhere as given.
pub fn display_dir(dir: &std::path::Path, cwd: Option<&std::path::Path>) -> String {
    let below = match cwd {
        Some(cwd) if dir.is_absolute() => dir.strip_prefix(cwd).ok(),
        _ => None,
    };
    let shown = below.unwrap_or(dir);
    let parts: Vec<String> = shown
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return ".".to_string();
    }
    let joined = parts.join("/");
    if shown.is_absolute() {
        // `components()` yields the root as `/`.
        format!("/{}", joined.trim_start_matches('/'))
    } else {
        joined
    }
}

impl Report {
    /// Where a finding should be shown: its context file when known, else its image path.
    pub fn shown_path<'a>(&self, finding: &'a Finding) -> std::borrow::Cow<'a, str> {
        match finding
            .context
            .as_ref()
            .and_then(|c| self.mode.join_context(&c.path))
        {
            Some(p) => std::borrow::Cow::Owned(p),
            None => self.shown_file(&finding.file),
        }
    }

    /// The line a finding is shown at: the Dockerfile line for a finding about what the
    /// container runs, when the image was built from a context; else its own.
    pub fn shown_line(&self, finding: &Finding) -> u32 {
        finding
            .context
            .as_ref()
            .and_then(|c| c.line)
            .unwrap_or(finding.line)
    }

    /// An application file (image path) as shown: its context file when known.
    pub fn shown_file<'a>(&self, image_path: &'a str) -> std::borrow::Cow<'a, str> {
        match self
            .context_files
            .get(image_path)
            .and_then(|rel| self.mode.join_context(rel))
        {
            Some(p) => std::borrow::Cow::Owned(p),
            None => std::borrow::Cow::Borrowed(image_path),
        }
    }
}

/// The startup path: how the entrypoint was read and the size of the closure followed from it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Startup {
    /// False when the entrypoint was not understood: then no finding is marked `startup` and
    /// module-level findings stand in for them.
    pub understood: bool,
    /// What was recognised (`uvicorn imports app.main`), configuration read, path options.
    pub notes: Vec<String>,
    /// Modules (files) executed at startup, application and third-party.
    pub modules_reached: usize,
    /// Python files parsed: the application's plus the third-party ones the closure reached.
    pub files_parsed: usize,
    /// Reached files outside the application (site-packages).
    pub third_party_files: usize,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PythonSummary {
    /// `3.12` style.
    pub version: String,
    pub executable: String,
    pub sys_path: Vec<SysPathEntry>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Summary {
    pub files: usize,
    pub imports: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Application statements that raise (each counted once, whichever finding explains it).
    pub failing_statements: usize,
    /// Application files holding them.
    pub failing_files: usize,
}

/// One import site and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// The id of the finding that explains an `error` (or `guarded`) status.
    pub finding: Option<String>,
    /// When the statement raises inside a dependency it imports (a broken chain, an
    /// extension for another CPython), the module where the exception is raised; the
    /// statement itself resolves.
    pub raised_in: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportStatus {
    Ok,
    Error,
    Guarded,
    Skipped,
}

pub mod ahead;
pub mod appfiles;
mod attribute;
pub mod checker;
mod closure;
mod cycles;
mod entry;
pub mod explain;
pub use entry::CONFIG_FILE;
pub mod native;
pub mod policy;
mod stdlib_names;
mod stored;

pub use ahead::ParseAhead;
pub use checker::{CheckOptions, check};

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Model(#[from] importgate_python::ModelError),
    #[error("invalid glob `{pattern}`: {message}")]
    Glob { pattern: String, message: String },
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
}

/// Whether the image loader keeps a member's contents: Python sources outside installed
/// distributions (and every package `__init__.py`, for `from pkg import name`), `.pth` and venv
/// files, distribution records, scripts in `bin/` (for shebangs), the interpreter binary (for
/// its builtin modules; libpython is read for its `PyInit_*` symbols and dropped), and the
/// account files (for the runtime user's HOME).
/// Shared objects and the files of `bin/` and `sbin/` directories are not kept but summarised
/// ([`importgate_image::ElfSummary`]), for the native-extension checks and for the programs the
/// Entrypoint runs.
pub fn capture_policy() -> Arc<importgate_image::Capture> {
    Arc::new(|path: &str, size: u64| {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.starts_with("libpython") && name.contains(".so") && size <= 256 << 20 {
            // Read for its builtin modules (`PyInit_*`), not kept.
            importgate_image::Keep::ElfExports
        } else if keep_contents(path, size) || native::wants_contents(path, size) {
            importgate_image::Keep::Contents
        } else if native::wants_elf_summary(path, size) {
            importgate_image::Keep::ElfSummary
        } else {
            importgate_image::Keep::Nothing
        }
    })
}

fn keep_contents(path: &str, size: u64) -> bool {
    {
        let name = path.rsplit('/').next().unwrap_or(path);
        let installed = path.contains("/site-packages/") || path.contains("/dist-packages/");
        if name.ends_with(".py") {
            // Installed modules are kept up to 1 MiB for the startup closure into
            // site-packages; larger ones are generated tables, not import logic. A
            // distribution's own test suite (`numpy/_core/tests/…`) is not imported when an
            // application starts: not kept (about a third of the sources of a scientific
            // stack), except the `__init__.py` that makes it a package.
            let test_suite = installed && path.split('/').any(|c| c == "tests" || c == "test");
            return size <= 8 << 20
                && (!installed || name == "__init__.py" || (size <= 1 << 20 && !test_suite));
        }
        if name == "pyproject.toml" || name == "importgate.toml" {
            return size <= 1 << 20 && !installed;
        }
        if name.ends_with(".ini") && !installed {
            // uWSGI configurations name the application.
            return size <= 64 << 10;
        }
        if (name.ends_with(".sh") || name.contains("entrypoint") || name == "bootstrap")
            && !installed
        {
            // Entrypoint wrappers ending in `exec ...`; `bootstrap` is what AWS Lambda's
            // entrypoint (and every custom runtime) executes.
            return size <= 64 << 10;
        }
        if name.ends_with(".pyc") && !path.contains("/__pycache__/") && !installed {
            // Sourceless modules: their bytecode says which names they bind.
            return size <= 1 << 20;
        }
        if name.ends_with(".zip") || name.ends_with(".egg") || name.ends_with(".pyz") {
            // Archives that can be on sys.path: zipimport reads their directory.
            return size <= 64 << 20;
        }
        if name.ends_with(".pth")
            || name.ends_with("._pth")
            || name == "pyvenv.cfg"
            || name == "RECORD"
            || name == "installed-files.txt"
            || name == "top_level.txt"
            || name == "entry_points.txt"
        {
            return size <= 8 << 20;
        }
        if path == "/etc/passwd" || path == "/etc/group" {
            return true;
        }
        if path.contains("/bin/") {
            return name.starts_with("python") && size <= 64 << 20 || size <= 64 << 10;
        }
        false
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn context_dirs_are_shown_from_the_working_directory() {
        let cwd = Some(Path::new("/repo"));
        assert_eq!(
            display_dir(Path::new("caseapp/backend"), cwd),
            "caseapp/backend"
        );
        assert_eq!(display_dir(Path::new("./caseapp/"), cwd), "caseapp");
        assert_eq!(display_dir(Path::new("."), cwd), ".");
        assert_eq!(display_dir(Path::new("/repo/caseapp"), cwd), "caseapp");
        assert_eq!(display_dir(Path::new("/repo"), cwd), ".");
        assert_eq!(
            display_dir(Path::new("/elsewhere/app"), cwd),
            "/elsewhere/app"
        );
        assert_eq!(display_dir(Path::new("../app"), cwd), "../app");
    }

    #[test]
    fn context_paths_join_the_context_directory() {
        let mode = |dir: &str| Mode::Prediction {
            context: dir.into(),
            dockerfile: String::new(),
            base: String::new(),
        };
        assert_eq!(
            mode("caseapp/backend")
                .join_context("core/aws_service.py")
                .as_deref(),
            Some("caseapp/backend/core/aws_service.py")
        );
        assert_eq!(
            mode(".").join_context("core/x.py").as_deref(),
            Some("core/x.py")
        );
        assert_eq!(mode("app/").join_context(".").as_deref(), Some("app"));
        assert_eq!(Mode::Image.join_context("x.py"), None);
    }
}
