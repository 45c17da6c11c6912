//! From an image to a [`Report`]: model the runtime, select and parse the application's files,
//! give every import site an absolute module name from how its file is imported, resolve it, and
//! explain each failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use importgate_image::Image;
use importgate_python::resolve::{Failed, Failure, Found, StepResult};
use importgate_python::{Launch, Resolver, Runtime};
use importgate_source::{ImportKind, ImportSite, PackageArg, ParsedModule, Scope, TargetEnv};

use crate::{
    CheckError, CheckedImport, Code, Finding, ImportStatus, PythonSummary, Report, Severity,
    Summary, appfiles,
};

/// What the user asked for beyond the image itself.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Globs of extra application files to check.
    pub include: Vec<String>,
    /// Globs of files to leave out.
    pub exclude: Vec<String>,
}

/// How a file is known to the import system: its module name and `__package__`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    package: Option<String>,
    /// Whether the file runs as `__main__` from a path (a script), where relative imports fail.
    script: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn identity(file: &str, rt: &Runtime, resolver: &Resolver<'_>) -> Identity {
    let vfs = resolver.vfs();
    let real = vfs.realpath(file).unwrap_or_else(|| file.to_string());
    match &rt.launch {
        Launch::Script { path } => {
            let abs = importgate_python::runtime::abspath(&rt.cwd, path);
            if vfs.realpath(&abs).as_deref() == Some(real.as_str()) {
                return Identity {
                    package: None,
                    script: true,
                };
            }
        }
        Launch::Module { module } => {
            let res = resolver.resolve(module);
            let main_file = match res.last_found() {
                Some(Found::Source { file }) => Some((file.clone(), parent_of(module))),
                Some(found @ (Found::RegularPackage { .. } | Found::NamespacePackage { .. })) => {
                    found.search_path().and_then(|p| {
                        p.iter()
                            .map(|d| format!("{d}/__main__.py"))
                            .find(|f| vfs.is_file(f))
                            .map(|f| (f, Some(module.clone())))
                    })
                }
                _ => None,
            };
            if let Some((f, pkg)) = main_file
                && vfs.realpath(&f).as_deref() == Some(real.as_str())
            {
                return Identity {
                    package: pkg,
                    script: false,
                };
            }
        }
        _ => {}
    }
    for entry in &rt.sys_path {
        let Some(rel) = real.strip_prefix(&format!("{}/", entry.path.trim_end_matches('/'))) else {
            continue;
        };
        let Some(rel) = rel.strip_suffix(".py") else {
            continue;
        };
        let parts: Vec<&str> = rel.split('/').collect();
        if !parts.iter().all(|p| is_identifier(p)) {
            continue;
        }
        // `pkg/__init__.py` and `pkg/mod.py` both run with `__package__ == "pkg"`.
        let package = parts[..parts.len() - 1].join(".");
        return Identity {
            package: (!package.is_empty()).then_some(package),
            script: false,
        };
    }
    Identity {
        package: None,
        script: false,
    }
}

fn parent_of(module: &str) -> Option<String> {
    module.rsplit_once('.').map(|(p, _)| p.to_string())
}

/// `importlib._bootstrap._resolve_name`: the absolute name of a relative import.
fn resolve_relative(
    module: Option<&str>,
    level: u32,
    id: &Identity,
) -> Result<String, (Code, String)> {
    let Some(package) = id.package.as_deref().filter(|p| !p.is_empty()) else {
        return Err((
            Code::RelativeImportNoParent,
            "attempted relative import with no known parent package".into(),
        ));
    };
    let parts: Vec<&str> = package.split('.').collect();
    let up = (level - 1) as usize;
    if up >= parts.len() {
        return Err((
            Code::RelativeImportBeyondTop,
            "attempted relative import beyond top-level package".into(),
        ));
    }
    let base = parts[..parts.len() - up].join(".");
    Ok(match module {
        Some(m) if !m.is_empty() => format!("{base}.{m}"),
        _ => base,
    })
}

struct Ctx<'a> {
    rt: &'a Runtime,
    resolver: Resolver<'a>,
    image: &'a Image,
    target: TargetEnv,
    /// Parsed modules by path, for `from a import b` name checks of non-application files.
    parsed: BTreeMap<String, Arc<ParsedModule>>,
}

impl Ctx<'_> {
    fn module_source(&mut self, file: &str) -> Option<Arc<ParsedModule>> {
        if let Some(p) = self.parsed.get(file) {
            return Some(p.clone());
        }
        let text = self.image.fs.read_to_string(file)?;
        let parsed = Arc::new(importgate_source::parse_module(&text));
        self.parsed.insert(file.to_string(), parsed.clone());
        Some(parsed)
    }

    /// Whether `name` is bound in the module `found` (a `.py` module or a package `__init__.py`);
    /// `true` when that cannot be known (extension, builtin, contents not read, dynamic namespace).
    fn binds(&mut self, module: &str, found: &Found, name: &str, depth: u8) -> bool {
        if depth > 8 {
            return true;
        }
        let Some(file) = found.file().filter(|f| f.ends_with(".py")) else {
            return !matches!(found, Found::NamespacePackage { .. });
        };
        let file = file.to_string();
        let Some(parsed) = self.module_source(&file) else {
            return true;
        };
        let b = &parsed.bindings;
        if b.names.contains(name) || b.has_getattr || b.dynamic_namespace {
            return true;
        }
        if !parsed.syntax_errors.is_empty() {
            return true;
        }
        let is_pkg = file.ends_with("/__init__.py");
        let package = if is_pkg {
            Some(module.to_string())
        } else {
            parent_of(module)
        };
        let id = Identity {
            package,
            script: false,
        };
        for (star, level) in b.star_imports.clone() {
            let target = if level == 0 {
                star.clone().unwrap_or_default()
            } else {
                match resolve_relative(star.as_deref(), level, &id) {
                    Ok(t) => t,
                    Err(_) => continue,
                }
            };
            let res = self.resolver.resolve(&target);
            match res.last_found().cloned() {
                Some(f) if res.failure.is_none() => {
                    if self.binds(&target, &f, name, depth + 1) {
                        return true;
                    }
                }
                _ => return true,
            }
        }
        false
    }
}

fn walk_notes(failed: &Failed, rt: &Runtime, limit_top: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let top_level = !failed.module.contains('.');
    for step in &failed.walk {
        let what = match &step.result {
            StepResult::Missing => "does not exist".to_string(),
            StepResult::Archive => "is an archive whose contents were not inspected".to_string(),
            StepResult::Nothing => "has no such module".to_string(),
            StepResult::Portion { dir } => format!("has only the directory {dir}"),
            StepResult::Package { init } => format!("has {init}"),
            StepResult::Module { file } => format!("has {file}"),
        };
        let origin = if top_level {
            rt.sys_path
                .iter()
                .find(|e| e.path == step.entry)
                .map(|e| format!(" ({})", e.origin.describe()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        if limit_top && matches!(step.result, StepResult::Missing) {
            continue;
        }
        notes.push(format!("searched {}{origin}: {what}", step.entry));
        for ext in &step.foreign_extensions {
            notes.push(format!(
                "found {ext}, which this interpreter does not load: it loads {}",
                rt.interpreter
                    .extension_suffixes
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    notes
}

fn failure_finding(failed: &Failed, rt: &Runtime) -> (Code, String, Vec<String>, Option<String>) {
    let tail = failed.module.rsplit('.').next().unwrap_or(&failed.module);
    match &failed.failure {
        Failure::ParentNotPackage { parent, found } => (
            Code::ParentNotPackage,
            format!(
                "No module named '{}'; '{parent}' is not a package",
                failed.module
            ),
            vec![format!(
                "`{parent}` resolves to {}, which cannot have submodules",
                found.describe()
            )],
            Some(format!(
                "make `{parent}` a package (a directory with `__init__.py`) or import from the right module"
            )),
        ),
        Failure::NotFound => {
            let message = format!("No module named '{}'", failed.module);
            if let Some(sh) = failed.shadowed.first() {
                let parent = parent_of(&failed.module).unwrap_or_default();
                let mut notes = vec![
                    format!(
                        "`{parent}` resolves to {}, which hides the directory {} (no `__init__.py`)",
                        sh.winner.describe(),
                        sh.dir
                    ),
                    format!(
                        "{} exists but is never searched: a regular package or module found on any sys.path entry beats namespace directories",
                        sh.would_be
                    ),
                ];
                notes.extend(walk_notes(failed, rt, true));
                let hint = format!(
                    "create {}/__init__.py so that `{parent}` is a regular package there (it comes first on sys.path), or rename one of the two `{parent}` packages",
                    sh.dir
                );
                return (Code::NamespaceShadowed, message, notes, Some(hint));
            }
            let notes = walk_notes(failed, rt, false);
            let foreign = failed.walk.iter().any(|s| !s.foreign_extensions.is_empty());
            let hint = if foreign {
                format!(
                    "install a build of `{}` for this interpreter (Python {}, suffix `{}`)",
                    failed.module,
                    rt.interpreter.version,
                    rt.interpreter
                        .extension_suffixes
                        .first()
                        .cloned()
                        .unwrap_or_default()
                )
            } else if failed.module.contains('.') {
                let parent = parent_of(&failed.module).unwrap_or_default();
                format!(
                    "no `{tail}` in package `{parent}`: check the spelling, and that `{tail}.py` is copied into the image"
                )
            } else {
                let site = rt
                    .site_dirs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| rt.interpreter.stdlib.clone());
                format!(
                    "install the distribution that provides `{tail}` (into {site}), or put its directory on PYTHONPATH"
                )
            };
            (Code::ModuleNotFound, message, notes, Some(hint))
        }
    }
}

fn source_line(text: &str, line: u32) -> Option<String> {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .map(str::to_string)
}

fn scope_note(site: &ImportSite) -> Option<String> {
    match &site.context.scope {
        Scope::Module => None,
        Scope::Function(f) => Some(format!(
            "the import is inside `{f}()`: it fails when that function runs"
        )),
        Scope::Class(c) => Some(format!("the import is in the body of class `{c}`")),
    }
}

/// Runs the whole check on a loaded image.
pub fn check(image: &Image, opts: &CheckOptions) -> Result<Report, CheckError> {
    let rt = importgate_python::model(&image.fs, &image.config)?;
    let files = appfiles::select(&image.fs, &rt, &opts.include, &opts.exclude)?;
    let sources: Vec<(String, Arc<str>)> = files
        .iter()
        .filter_map(|f| {
            let text = image.fs.read_to_string(f)?;
            Some((f.clone(), Arc::<str>::from(text)))
        })
        .collect();
    let mut warnings: Vec<String> = image.warnings.clone();
    warnings.extend(rt.warnings.iter().cloned());
    for hook in &rt.startup_hooks {
        warnings.push(format!(
            "startup code may change the import system (not modelled): {hook}"
        ));
    }
    if sources.len() < files.len() {
        warnings.push(format!(
            "{} application files could not be read",
            files.len() - sources.len()
        ));
    }
    let texts: BTreeMap<String, Arc<str>> = sources.iter().cloned().collect();
    let parsed = importgate_source::parse_many(sources);

    let v = rt.interpreter.version;
    let mut ctx = Ctx {
        rt: &rt,
        resolver: Resolver::new(&image.fs, &rt),
        image,
        target: TargetEnv {
            version: (v.major as u32, v.minor as u32, 0),
            sys_platform: "linux".into(),
            os_name: "posix".into(),
            platform_system: "Linux".into(),
        },
        parsed: BTreeMap::new(),
    };
    let mut findings = Vec::new();
    let mut imports = Vec::new();
    for (file, module) in &parsed {
        let text = texts.get(file).cloned().unwrap_or_else(|| Arc::from(""));
        for err in &module.syntax_errors {
            findings.push(Finding {
                severity: Severity::Warning,
                code: Code::SyntaxError,
                module: String::new(),
                file: file.clone(),
                line: err.line,
                column: err.column,
                message: if module.python2_hint {
                    format!("{} (this looks like Python 2 code)", err.message)
                } else {
                    err.message.clone()
                },
                hint: None,
                notes: Vec::new(),
                source_line: source_line(&text, err.line),
                span_len: 1,
            });
        }
        let id = identity(file, &rt, &ctx.resolver);
        for site in &module.imports {
            check_site(
                &mut ctx,
                file,
                &text,
                &id,
                site,
                &mut findings,
                &mut imports,
            );
        }
    }
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    let summary = Summary {
        files: parsed.len(),
        imports: imports.len(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        infos: findings
            .iter()
            .filter(|f| f.severity == Severity::Info)
            .count(),
    };
    Ok(Report {
        image: image.reference.clone(),
        python: PythonSummary {
            version: rt.interpreter.version.to_string(),
            executable: rt.interpreter.executable.clone(),
            sys_path: rt.sys_path.clone(),
        },
        entrypoint: rt.launch.describe(),
        findings,
        imports,
        summary,
        warnings,
    })
}

#[allow(clippy::too_many_arguments)]
fn check_site(
    ctx: &mut Ctx<'_>,
    file: &str,
    text: &str,
    id: &Identity,
    site: &ImportSite,
    findings: &mut Vec<Finding>,
    imports: &mut Vec<CheckedImport>,
) {
    let mut record = CheckedImport {
        file: file.to_string(),
        line: site.line,
        column: site.column,
        statement: site.statement.clone(),
        package: id.package.clone(),
        module: String::new(),
        name: None,
        status: ImportStatus::Ok,
    };
    let span_len = site.end_column.saturating_sub(site.column).max(1);
    let finding = |severity, code, module: &str, message: String, notes, hint| Finding {
        severity,
        code,
        module: module.to_string(),
        file: file.to_string(),
        line: site.line,
        column: site.column,
        message,
        hint,
        notes,
        source_line: source_line(text, site.line),
        span_len,
    };
    // Code that never runs in this image (rule G2).
    let dead = site.context.type_checking
        || site
            .context
            .conditions
            .iter()
            .any(|c| c.reaches(&ctx.target) == Some(false));
    // Target module and, for `from a import b`, the name.
    let (module, name) = match &site.kind {
        ImportKind::Import { module } => (Ok(module.clone()), None),
        ImportKind::From {
            module,
            level,
            name,
        } => {
            let m = if *level == 0 {
                Ok(module.clone().unwrap_or_default())
            } else {
                resolve_relative(module.as_deref(), *level, id)
            };
            (m, Some(name.clone()))
        }
        ImportKind::Dynamic {
            module,
            package,
            package_arg,
        } => {
            let Some(m) = module else {
                record.status = ImportStatus::Skipped;
                if !dead {
                    findings.push(finding(
                        Severity::Info,
                        Code::Undecidable,
                        "",
                        "the module of this dynamic import is not a literal; it cannot be checked statically".into(),
                        Vec::new(),
                        None,
                    ));
                }
                imports.push(record);
                return;
            };
            if m.starts_with('.') {
                let level = m.chars().take_while(|c| *c == '.').count() as u32;
                let rest = &m[level as usize..];
                let pkg = match package_arg {
                    PackageArg::Literal => package.clone(),
                    PackageArg::DunderPackage | PackageArg::DunderName => id.package.clone(),
                    _ => None,
                };
                let pid = Identity {
                    package: pkg,
                    script: id.script,
                };
                (
                    resolve_relative((!rest.is_empty()).then_some(rest), level, &pid),
                    None,
                )
            } else {
                (Ok(m.clone()), None)
            }
        }
    };
    record.name = name.clone().filter(|n| n != "*");
    if dead {
        record.status = ImportStatus::Skipped;
        record.module = module.clone().unwrap_or_default();
        imports.push(record);
        return;
    }
    let guarded = site.context.guarded;
    let (sev, status) = if guarded {
        (Severity::Info, ImportStatus::Guarded)
    } else {
        (Severity::Error, ImportStatus::Error)
    };
    let mut extra_notes: Vec<String> = scope_note(site).into_iter().collect();
    if guarded {
        extra_notes
            .push("the import is guarded (a failure is caught), so it does not raise".into());
    }
    let module = match module {
        Ok(m) => m,
        Err((code, message)) => {
            let mut notes = extra_notes.clone();
            if id.script {
                notes.insert(
                    0,
                    format!(
                        "{file} runs as the main script (`{}`), so it has no package",
                        ctx.rt.launch.describe()
                    ),
                );
            }
            findings.push(finding(
                if guarded { Severity::Info } else { Severity::Error },
                if guarded { Code::GuardedImportMissing } else { code },
                "",
                message,
                notes,
                Some(if code == Code::RelativeImportNoParent {
                    "use an absolute import, or run the program as a module (`python -m package.module`)".into()
                } else {
                    "use an absolute import; a relative import cannot climb above the top-level package".into()
                }),
            ));
            record.status = status;
            imports.push(record);
            return;
        }
    };
    record.module = module.clone();
    let res = ctx.resolver.resolve(&module);
    if let Some(failed) = &res.failure {
        let (code, message, mut notes, hint) = failure_finding(failed, ctx.rt);
        notes.extend(extra_notes);
        let (sev, code, status) = if failed.uncertain && !guarded {
            (Severity::Warning, code, ImportStatus::Error)
        } else if guarded {
            (sev, Code::GuardedImportMissing, status)
        } else {
            (sev, code, status)
        };
        findings.push(finding(sev, code, &failed.module, message, notes, hint));
        record.status = status;
        imports.push(record);
        return;
    }
    if let (Some(name), Some(found)) = (name.as_deref(), res.last_found().cloned())
        && name != "*"
        && !ctx.resolver.submodule_exists(&found, name)
        && !ctx.binds(&module, &found, name, 0)
    {
        let where_ = found.file().map(|f| format!(" ({f})")).unwrap_or_default();
        let hint = if found.search_path().is_some() {
            format!("define `{name}` in `{module}`, or add the submodule `{module}.{name}`")
        } else {
            format!("define `{name}` in `{module}`, or import it from the module that defines it")
        };
        let mut notes = vec![format!("`{module}` resolves to {}", found.describe())];
        if found.search_path().is_some() {
            notes.push(format!(
                "no submodule `{name}` in {}",
                found.search_path().unwrap_or_default().join(", ")
            ));
        }
        notes.extend(extra_notes);
        findings.push(finding(
            sev,
            if guarded {
                Code::GuardedImportMissing
            } else {
                Code::NameNotInModule
            },
            &module,
            format!("cannot import name '{name}' from '{module}'{where_}"),
            notes,
            Some(hint),
        ));
        record.status = status;
    }
    imports.push(record);
}
