//! Verdicts that a `RUN` step the prediction does not model could change: such a finding is
//! kept, as a warning marked uncertain, instead of an error the built image may not have.
//!
//! A finding depends on a path when the step may write the importing file, a directory on
//! `sys.path` (or one above it), the entry's top-level name below such a directory (`pkg/`,
//! `pkg.py`, `pkg.cpython-312-….so`), a `.pth` file there (it adds `sys.path` entries), or, for
//! what the container runs and the libraries it loads, the working directory, `PATH` and the
//! library directories.

use importgate_check::{Code, Report, Severity};
use importgate_image::ImageConfig;

use crate::Unmodelled;

/// Directories the dynamic loader searches by default.
const LIBRARY_DIRS: &[&str] = &["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"];

/// `path` is `dir` or below it.
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

/// Marks the findings an unmodelled step could change as uncertain warnings, and recounts the
/// summary.
pub fn mark_uncertain(report: &mut Report, config: &ImageConfig, unmodelled: &[Unmodelled]) {
    if unmodelled.is_empty() {
        return;
    }
    let sys_path: Vec<String> = report
        .python
        .sys_path
        .iter()
        .map(|e| e.path.clone())
        .collect();
    let workdir = if config.working_dir.is_empty() {
        "/".to_string()
    } else {
        config.working_dir.clone()
    };
    let path_dirs: Vec<String> = config
        .env_var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(str::to_string)
        .collect();
    for f in &mut report.findings {
        if f.uncertain.is_some() {
            continue;
        }
        let top = f.module.split('.').next().unwrap_or("").to_string();
        let runs = matches!(
            f.code,
            Code::ScriptNotFound
                | Code::CommandNotFound
                | Code::ExecFailed
                | Code::MissingSharedLibrary
                | Code::IncompatibleExtension
        );
        let depends = |u: &str| -> bool {
            if within(&f.file, u) {
                return true;
            }
            for entry in &sys_path {
                if within(entry, u) {
                    return true;
                }
                if let Some(rest) = u.strip_prefix(&format!("{}/", entry.trim_end_matches('/'))) {
                    let first = rest.split('/').next().unwrap_or("");
                    if first.ends_with(".pth")
                        || (!top.is_empty()
                            && (first == top || first.starts_with(&format!("{top}."))))
                    {
                        return true;
                    }
                }
            }
            if runs {
                let related = |d: &str| within(d, u) || within(u, d);
                if related(&workdir)
                    || path_dirs.iter().any(|d| related(d))
                    || LIBRARY_DIRS.iter().any(|d| related(d))
                    || (f.module.starts_with('/') && related(&f.module))
                {
                    return true;
                }
            }
            false
        };
        let Some((step, path)) = unmodelled
            .iter()
            .find_map(|s| s.paths.iter().find(|p| depends(p)).map(|p| (s, p)))
        else {
            continue;
        };
        let mut command = step.command.replace('\n', " ");
        if command.chars().count() > 60 {
            command = command.chars().take(57).collect::<String>() + "...";
        }
        f.uncertain = Some(format!(
            "Dockerfile line {}: `{command}` is not modelled and may write {path}",
            step.line
        ));
        if f.severity == Severity::Error {
            f.severity = Severity::Warning;
        }
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    report.summary.errors = count(Severity::Error);
    report.summary.warnings = count(Severity::Warning);
    report.summary.infos = count(Severity::Info);
    let failing: std::collections::BTreeSet<(&str, u32, u32)> = report
        .imports
        .iter()
        .filter(|i| i.status == importgate_check::ImportStatus::Error)
        .filter(|i| report.files.contains(&i.file))
        .filter(|i| {
            i.finding.as_ref().is_some_and(|id| {
                report
                    .findings
                    .iter()
                    .any(|f| &f.id == id && f.severity == Severity::Error)
            })
        })
        .map(|i| (i.file.as_str(), i.line, i.column))
        .collect();
    let files: std::collections::BTreeSet<&str> = failing.iter().map(|(f, _, _)| *f).collect();
    let (statements, nfiles) = (failing.len(), files.len());
    report.summary.failing_statements = statements;
    report.summary.failing_files = nfiles;
}
