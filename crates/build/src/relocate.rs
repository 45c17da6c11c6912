//! Putting a report back into the user's files: each finding's image path becomes the context
//! file `COPY` took it from, the path a hint asks to create is named in the context, and a
//! module missing from the image whose file is in the context says why it did not arrive.

use importgate_check::{Code, ContextRef, Finding, Report};
use importgate_context::{Absence, PathMap};

/// Fills [`Finding::context`] and [`Report::context_files`], rewrites the hint's
/// [`Finding::fix_path`] as a context path, and adds notes to missing-module findings whose
/// module exists in the context. Call it after setting `report.mode`, which says that the
/// paths are context paths (see [`importgate_check::Mode::join_context`]).
pub fn relocate(report: &mut Report, map: &PathMap) {
    let sys_path: Vec<String> = report
        .python
        .sys_path
        .iter()
        .map(|e| e.path.clone())
        .collect();
    let mode = report.mode.clone();
    // The Dockerfile relative to the context, when it lies inside it.
    let dockerfile_rel = match &mode {
        importgate_check::Mode::Built {
            context,
            dockerfile,
            ..
        }
        | importgate_check::Mode::Prediction {
            context,
            dockerfile,
            ..
        } => {
            let dir = context.trim_end_matches('/');
            if dir.is_empty() || dir == "." {
                Some(dockerfile.trim_start_matches("./").to_string())
            } else {
                dockerfile
                    .strip_prefix(&format!("{dir}/"))
                    .map(str::to_string)
            }
        }
        importgate_check::Mode::Image | importgate_check::Mode::Registry { .. } => None,
    };
    let shown = |rel: &str| mode.join_context(rel).unwrap_or_else(|| rel.to_string());
    let files: std::collections::BTreeSet<&str> = report
        .imports
        .iter()
        .map(|i| i.file.as_str())
        .chain(report.findings.iter().map(|f| f.file.as_str()))
        .chain(report.files.iter().map(String::as_str))
        .collect();
    let context_files: std::collections::BTreeMap<String, String> = files
        .into_iter()
        .filter_map(|file| Some((file.to_string(), map.to_context(file)?.path)))
        .collect();
    report.context_files = context_files;
    // `from pkg import name` names the missing submodule only in the import record.
    let from_names: std::collections::BTreeMap<(String, u32, u32), String> = report
        .imports
        .iter()
        .filter_map(|i| Some(((i.file.clone(), i.line, i.column), i.name.clone()?)))
        .collect();
    for f in &mut report.findings {
        if let Some(loc) = map.to_context(&f.file) {
            let fix = f.fix_path.as_deref().and_then(|p| context_path(map, p));
            if let (Some(fix_rel), Some(fix_image), Some(hint)) =
                (&fix, f.fix_path.as_deref(), f.hint.as_mut())
            {
                *hint = hint.replace(fix_image, &shown(fix_rel));
            }
            f.context = Some(ContextRef {
                path: loc.path,
                copy_line: loc.copy_line,
                fix_path: fix,
                line: None,
            });
        }
        // A finding about what the container runs: on the CMD/ENTRYPOINT line that set it.
        if let (Some(cfg), Some(df)) = (&f.config, &dockerfile_rel)
            && let Some(line) = map.instruction_line(&cfg.instruction)
        {
            f.context = Some(ContextRef {
                path: df.clone(),
                copy_line: line,
                fix_path: None,
                line: u32::try_from(line).ok(),
            });
        }
        if is_missing_module(f) {
            let module = f.module.clone();
            explain_absence(f, &module, map, &sys_path, &shown);
        } else if f.code == Code::NameNotInModule
            && let Some(name) = from_names.get(&(f.file.clone(), f.line, f.column))
            && name != "*"
        {
            // The name may be a submodule whose file never arrived.
            let module = format!("{}.{name}", f.module);
            explain_absence(f, &module, map, &sys_path, &shown);
        }
    }
}

/// Codes that mean "no finder found the module" (whatever the kind of import site).
fn is_missing_module(f: &Finding) -> bool {
    matches!(
        f.code,
        Code::ModuleNotFound
            | Code::LazyImportMissing
            | Code::DynamicImportMissing
            | Code::GuardedImportMissing
    ) && !f.module.is_empty()
}

/// An image path in the context, also for a path that does not exist yet (the `__init__.py` a
/// hint asks for): the nearest ancestor that maps, with the rest appended.
fn context_path(map: &PathMap, image_path: &str) -> Option<String> {
    if let Some(loc) = map.to_context(image_path) {
        return Some(loc.path);
    }
    let mut dir = image_path;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        if parent.is_empty() {
            return None;
        }
        if let Some(loc) = map.to_context(parent) {
            let rest = &image_path[parent.len()..];
            let base = loc.path.trim_end_matches('/');
            return Some(if base.is_empty() || base == "." {
                rest.trim_start_matches('/').to_string()
            } else {
                format!("{base}{rest}")
            });
        }
        dir = parent;
    }
    None
}

/// The files that would provide `module` below a sys.path entry: `a/b.py`, `a/b/__init__.py`.
fn module_files(module: &str) -> [String; 2] {
    let rel = module.replace('.', "/");
    [format!("{rel}.py"), format!("{rel}/__init__.py")]
}

fn explain_absence(
    f: &mut Finding,
    module: &str,
    map: &PathMap,
    sys_path: &[String],
    shown: &dyn Fn(&str) -> String,
) {
    let files = module_files(module);
    let dir = module.replace('.', "/");
    for entry in sys_path {
        let base = entry.trim_end_matches('/');
        for rel in files.iter().chain(std::iter::once(&dir)) {
            let image_path = format!("{base}/{rel}");
            if let Some(Absence::Excluded {
                path,
                pattern,
                ignore_file,
            }) = map.why_absent(&image_path)
            {
                let ignore_file = shown(&ignore_file);
                push_reason(
                    f,
                    format!(
                        "{} is in the context but {ignore_file} line {} (`{}`) excludes it from the build, so it is not at {image_path}",
                        shown(&path),
                        pattern.line,
                        pattern.text
                    ),
                );
                // Patterns are relative to the context, whatever the report's paths are.
                f.hint = Some(format!(
                    "let {} into the build: change `{}` on line {} of {ignore_file}, or add `!{path}` after it",
                    shown(&path),
                    pattern.text,
                    pattern.line
                ));
                return;
            }
        }
    }
    let mut candidates: Vec<String> = files
        .iter()
        .flat_map(|rel| map.uncopied_candidates(rel))
        .collect();
    candidates.sort();
    candidates.dedup();
    if let Some(first) = candidates.first() {
        let more = match candidates.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        push_reason(
            f,
            format!(
                "present in the context at {}{more} but no COPY brings it into the image",
                shown(first)
            ),
        );
        if let Some(entry) = sys_path.first() {
            let rel = if first.ends_with("/__init__.py") {
                &dir
            } else {
                &files[0]
            };
            let from = first.strip_suffix("/__init__.py").unwrap_or(first);
            // A COPY source is relative to the context, whatever the report's paths are.
            f.hint = Some(format!(
                "COPY {from} to {}/{rel} (the first directory on sys.path)",
                entry.trim_end_matches('/')
            ));
        }
    }
}

/// The reason goes before the sys.path walk (which the short report may cut), right after the
/// note that says when the import runs.
fn push_reason(f: &mut Finding, note: String) {
    let at = usize::from(f.notes.first().is_some_and(|n| n.starts_with("fails ")));
    f.notes.insert(at, note);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use importgate_check::{
        CheckedImport, ImportStatus, Kind, Mode, PythonSummary, Severity, Startup, Summary,
    };
    use importgate_context::{BuildContext, Dockerfile, plan};
    use importgate_python::{Origin, SysPathEntry};

    fn finding(code: Code, module: &str, file: &str, hint: &str) -> Finding {
        Finding {
            id: String::new(),
            severity: Severity::Error,
            code,
            module: module.into(),
            file: file.into(),
            line: 1,
            column: 1,
            message: format!("No module named '{module}'"),
            hint: Some(hint.into()),
            notes: vec![
                "fails at startup: main.py → x".into(),
                "searched /app".into(),
            ],
            kind: Kind::Startup,
            chain: Vec::new(),
            fix_path: None,
            context: None,
            config: None,
            related: Vec::new(),
            affects: Vec::new(),
            source_line: None,
            uncertain: None,
            span_len: 1,
        }
    }

    /// A context on disk, its Dockerfile plan and a report with one finding of each kind
    /// `relocate` handles.
    fn relocated() -> Report {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            (
                "Dockerfile",
                "FROM base\nWORKDIR /app\nCOPY backend/ .\nCMD [\"python\", \"main.py\"]\n",
            ),
            (".dockerignore", "# keep out\nbackend/core/aws_*\n"),
            ("backend/main.py", "import services.case_service\n"),
            (
                "backend/services/case_service.py",
                "import core.aws_service\n",
            ),
            ("backend/core/aws_service.py", ""),
            ("tools/helpers.py", ""),
        ];
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let ctx = BuildContext::open(dir.path(), None).unwrap();
        let df = Dockerfile::parse(ctx.dockerfile_text()).unwrap();
        let map = PathMap::new(&ctx, &plan(&df, &[], None).unwrap());
        let mut shadowed = finding(
            Code::NamespaceShadowed,
            "core.aws_service",
            "/app/services/case_service.py",
            "create /app/core/__init__.py so that `core` is a regular package there",
        );
        shadowed.fix_path = Some("/app/core/__init__.py".into());
        let mut from_import = finding(Code::NameNotInModule, "core", "/app/main.py", "h");
        from_import.line = 3;
        let mut config_finding = finding(Code::ScriptNotFound, "", "<image-config>", "h");
        config_finding.line = 2;
        config_finding.config = Some(importgate_check::ConfigLoc {
            instruction: "CMD".into(),
            argument: 2,
            code_line: None,
            code_column: None,
        });
        let mut report = Report {
            image: "sha256:1".into(),
            python: PythonSummary {
                version: "3.12".into(),
                executable: "/usr/local/bin/python".into(),
                sys_path: vec![SysPathEntry {
                    path: "/app".into(),
                    origin: Origin::ScriptDir {
                        script: "/app/main.py".into(),
                    },
                }],
            },
            entrypoint: "python main.py".into(),
            findings: vec![
                shadowed,
                finding(
                    Code::ModuleNotFound,
                    "core.aws_service",
                    "/app/main.py",
                    "h",
                ),
                finding(Code::ModuleNotFound, "helpers", "/app/main.py", "h"),
                finding(Code::ModuleNotFound, "yaml", "/usr/lib/x.py", "install"),
                from_import,
                config_finding,
            ],
            imports: vec![CheckedImport {
                file: "/app/main.py".into(),
                line: 3,
                column: 1,
                statement: "from core import aws_service".into(),
                module: "core".into(),
                name: Some("aws_service".into()),
                package: None,
                status: ImportStatus::Error,
                finding: None,
                raised_in: None,
            }],
            summary: Summary::default(),
            warnings: Vec::new(),
            startup: Startup::default(),
            mode: Mode::Built {
                context: "ctx".into(),
                dockerfile: "ctx/Dockerfile".into(),
                image_id: "sha256:1".into(),
                tags: Vec::new(),
            },
            context_files: Default::default(),
            files: vec!["/app/main.py".into()],
        };
        relocate(&mut report, &map);
        report
    }

    /// A finding about what the container runs is shown on the Dockerfile's CMD line.
    #[test]
    fn config_findings_land_on_the_cmd_line() {
        let report = relocated();
        let f = report
            .findings
            .iter()
            .find(|f| f.file == "<image-config>")
            .unwrap();
        let ctx = f.context.as_ref().unwrap();
        assert_eq!((ctx.path.as_str(), ctx.line), ("Dockerfile", Some(4)));
        assert_eq!(report.shown_path(f), "ctx/Dockerfile");
        assert_eq!(report.shown_line(f), 4);
    }

    #[test]
    fn findings_and_hints_move_to_the_context() {
        let report = relocated();
        let f = &report.findings[0];
        assert_eq!(
            f.context,
            Some(ContextRef {
                path: "backend/services/case_service.py".into(),
                copy_line: 3,
                fix_path: Some("backend/core/__init__.py".into()),
                line: None,
            })
        );
        assert_eq!(
            f.hint.as_deref(),
            Some("create ctx/backend/core/__init__.py so that `core` is a regular package there")
        );
        assert_eq!(f.fix_path.as_deref(), Some("/app/core/__init__.py"));
        assert_eq!(
            report.context_files.get("/app/main.py").map(String::as_str),
            Some("backend/main.py")
        );
        // Not from the context: untouched.
        assert_eq!(report.findings[3].context, None);
        assert_eq!(report.findings[3].hint.as_deref(), Some("install"));
        assert_eq!(report.findings[3].notes.len(), 2);
    }

    #[test]
    fn missing_modules_say_why_right_after_when_they_run() {
        let report = relocated();
        let excluded = &report.findings[1];
        assert_eq!(
            excluded.notes[1],
            "ctx/backend/core/aws_service.py is in the context but ctx/.dockerignore line 2 \
             (`backend/core/aws_*`) excludes it from the build, so it is not at \
             /app/core/aws_service.py"
        );
        assert!(
            excluded
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("`!backend/core/aws_service.py`")),
            "{excluded:?}"
        );
        let uncopied = &report.findings[2];
        assert_eq!(
            uncopied.notes[1],
            "present in the context at ctx/tools/helpers.py but no COPY brings it into the image"
        );
        assert_eq!(
            uncopied.hint.as_deref(),
            Some("COPY tools/helpers.py to /app/helpers.py (the first directory on sys.path)")
        );
    }

    #[test]
    fn a_missing_from_import_name_that_is_an_excluded_submodule_says_why() {
        let report = relocated();
        let f = &report.findings[4];
        assert!(
            f.notes.iter().any(|n| n.starts_with(
                "ctx/backend/core/aws_service.py is in the context but ctx/.dockerignore line 2"
            )),
            "{f:?}"
        );
    }

    #[test]
    fn module_files_are_the_two_forms_a_finder_looks_for() {
        assert_eq!(
            module_files("core.aws_service"),
            ["core/aws_service.py", "core/aws_service/__init__.py"]
        );
    }
}
