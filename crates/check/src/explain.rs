//! `importgate explain`: the walk CPython's import system does for one import in the image,
//! recorded by a tracing [`Resolver`] — the same code that decides the checker's verdicts, so
//! the explanation cannot disagree with them.

use importgate_image::Image;
use importgate_python::resolve::Failure;
use importgate_python::{Found, Resolution, Resolver, TraceEvent};
use serde::Serialize;

use crate::CheckError;

/// What `importgate explain` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The statement explained (`import core.aws_service`, `from core import aws_service`).
    pub statement: String,
    /// The absolute module name resolved.
    pub module: String,
    pub python: String,
    /// sys.path as modelled, each entry with where it comes from.
    pub sys_path: Vec<PathEntry>,
    /// The walk, in order.
    pub events: Vec<TraceEvent>,
    /// For `from X import name`: how `name` is found in `X`.
    pub from_name: Option<FromName>,
    /// One sentence: what CPython does.
    pub verdict: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathEntry {
    pub path: String,
    pub origin: String,
}

/// `from X import name`: an attribute bound by X's code, else the submodule `X.name`.
#[derive(Debug, Clone, Serialize)]
pub struct FromName {
    pub name: String,
    /// X's file binds `name` at module level (or may, through `__getattr__`/a dynamic
    /// namespace).
    pub bound: bool,
    /// The walk for `X.name` when it is not bound (`_handle_fromlist` imports it).
    pub submodule_events: Vec<TraceEvent>,
}

/// Parses `MODULE` or `from MODULE import NAME`.
fn parse_target(target: &str) -> (String, Option<String>) {
    let t = target.trim();
    if let Some(rest) = t.strip_prefix("from ")
        && let Some((module, name)) = rest.split_once(" import ")
    {
        return (module.trim().to_string(), Some(name.trim().to_string()));
    }
    (
        t.strip_prefix("import ").unwrap_or(t).trim().to_string(),
        None,
    )
}

/// The absolute name of a relative `module` imported from `file`: the file's package is its
/// directory's dotted path below the longest sys.path entry that holds it.
fn absolute(module: &str, file: Option<&str>, sys_path: &[PathEntry]) -> String {
    let level = module.chars().take_while(|c| *c == '.').count();
    if level == 0 {
        return module.to_string();
    }
    let Some(file) = file else {
        return module.trim_start_matches('.').to_string();
    };
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let entry = sys_path
        .iter()
        .map(|e| e.path.trim_end_matches('/'))
        .filter(|p| dir == *p || dir.starts_with(&format!("{p}/")))
        .max_by_key(|p| p.len())
        .unwrap_or("");
    let mut package: Vec<&str> = dir[entry.len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    for _ in 1..level {
        package.pop();
    }
    let rest = &module[level..];
    let mut parts: Vec<&str> = package;
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts.join(".")
}

fn verdict(res: &Resolution) -> (String, bool) {
    match &res.failure {
        None => (
            format!(
                "`{}` imports {}",
                res.name,
                res.last_found().map_or("nothing".into(), Found::describe)
            ),
            true,
        ),
        Some(failed) => {
            let mut text = match &failed.failure {
                Failure::NotFound => {
                    format!("ModuleNotFoundError: No module named '{}'", failed.module)
                }
                Failure::ParentNotPackage { parent, .. } => format!(
                    "ModuleNotFoundError: No module named '{}'; '{parent}' is not a package",
                    failed.module
                ),
            };
            for s in &failed.shadowed {
                text.push_str(&format!(
                    "; {} would provide it, but {} wins over the namespace directory {}",
                    s.would_be,
                    s.winner.describe(),
                    s.dir
                ));
            }
            if failed.uncertain {
                text.push_str("; an archive on the path could not be read: uncertain");
            }
            (text, false)
        }
    }
}

/// Explains `target` (`MODULE` or `from MODULE import NAME`) as imported by the image's
/// interpreter, from `file` when given (relative names, and as the importing file).
pub fn explain(image: &Image, target: &str, file: Option<&str>) -> Result<Explanation, CheckError> {
    let mut rt = importgate_python::model(&image.fs, &image.config)?;
    let argv = importgate_python::runtime::program_argv(&image.fs, &image.config);
    // The same sys.path additions as the check (app servers' `--chdir`, `--pythonpath`).
    let config = importgate_python::runtime::with_exports(&image.config, &rt.exported);
    crate::entry::apply_server_paths(&image.fs, &config, &mut rt, &argv);
    let sys_path: Vec<PathEntry> = rt
        .sys_path
        .iter()
        .map(|e| PathEntry {
            path: e.path.clone(),
            origin: e.origin.describe(),
        })
        .collect();
    let (module, name) = parse_target(target);
    let module = absolute(&module, file, &sys_path);
    let resolver = Resolver::new(&image.fs, &rt).tracing();
    let res = resolver.resolve(&module);
    let events = resolver.take_trace();
    let (mut verdict_text, mut ok) = verdict(&res);
    let from_name = match (&name, &res.failure, res.last_found()) {
        (Some(name), None, Some(found)) => {
            let bound = found
                .file()
                .filter(|f| f.ends_with(".py"))
                .and_then(|f| Some((f, image.fs.read(f)??)))
                .map(|(f, src)| {
                    let b = importgate_source::parse_bytes(&src, Some(f)).bindings;
                    b.names.contains(name)
                        || b.getattr_serves(name)
                        || b.dynamic_namespace
                        || !b.star_imports.is_empty()
                })
                .unwrap_or(false);
            let mut submodule_events = Vec::new();
            if !bound {
                if found.search_path().is_some() {
                    let sub = resolver.resolve(&format!("{module}.{name}"));
                    submodule_events = resolver.take_trace();
                    (verdict_text, ok) = verdict(&sub);
                    if !ok {
                        verdict_text = format!(
                            "ImportError: cannot import name '{name}' from '{module}' \
                             (not bound by its code, and {verdict_text})"
                        );
                    } else {
                        verdict_text = format!("`{name}` is the submodule: {verdict_text}");
                    }
                } else {
                    ok = false;
                    verdict_text = format!(
                        "ImportError: cannot import name '{name}' from '{module}' \
                         ({} does not bind it and is not a package)",
                        found.describe()
                    );
                }
            } else {
                verdict_text = format!("`{name}` is bound by the code of {}", found.describe());
            }
            Some(FromName {
                name: name.clone(),
                bound,
                submodule_events,
            })
        }
        _ => None,
    };
    let statement = match &name {
        Some(n) => format!("from {module} import {n}"),
        None => format!("import {module}"),
    };
    Ok(Explanation {
        statement,
        module,
        python: format!(
            "{}.{} ({})",
            rt.interpreter.version.major, rt.interpreter.version.minor, rt.interpreter.executable
        ),
        sys_path,
        events,
        from_name,
        verdict: verdict_text,
        ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_relative_names() {
        assert_eq!(parse_target("core.aws"), ("core.aws".into(), None));
        assert_eq!(
            parse_target("from core import aws"),
            ("core".into(), Some("aws".into()))
        );
        let path = vec![PathEntry {
            path: "/app".into(),
            origin: String::new(),
        }];
        assert_eq!(
            absolute(".models", Some("/app/svc/api/views.py"), &path),
            "svc.api.models"
        );
        assert_eq!(
            absolute("..core", Some("/app/svc/api/views.py"), &path),
            "svc.core"
        );
        assert_eq!(absolute("os", None, &path), "os");
    }
}
