//! Which files are "the application": the code the image's owner wrote, as opposed to the
//! interpreter's stdlib and installed distributions. Its imports are the ones checked; the rest
//! is entered only through resolution.

use std::collections::BTreeSet;

use globset::{Glob, GlobSet, GlobSetBuilder};
use importgate_image::Vfs;
use importgate_python::{Origin, Runtime};

use crate::CheckError;

/// Top-level directories that hold the operating system, never an application, when the
/// working directory is `/`.
const SYSTEM_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
    "/sbin", "/sys", "/tmp", "/usr", "/var",
];

/// Directory names never descended into: caches, VCS data, JS dependencies.
fn skip_dir(name: &str) -> bool {
    name == "__pycache__"
        || name == "node_modules"
        || name == "site-packages"
        || name == "dist-packages"
        || (name.starts_with('.') && name.len() > 1)
}

fn build_globs(patterns: &[String]) -> Result<Option<GlobSet>, CheckError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| CheckError::Glob {
            pattern: p.clone(),
            message: e.to_string(),
        })?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| CheckError::Glob {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

/// Files listed in `*.dist-info/RECORD` or `*.egg-info/installed-files.txt` of any directory
/// under the roots: installed code, even when it sits in a `pip install --target` tree.
fn owned_by_distributions(vfs: &Vfs, dirs: &BTreeSet<String>) -> BTreeSet<String> {
    let mut owned = BTreeSet::new();
    for dir in dirs {
        for name in vfs.read_dir(dir).unwrap_or_default() {
            let (meta_dir, list, base) = if name.ends_with(".dist-info") {
                (format!("{dir}/{name}"), "RECORD", dir.clone())
            } else if name.ends_with(".egg-info") {
                (
                    format!("{dir}/{name}"),
                    "installed-files.txt",
                    format!("{dir}/{name}"),
                )
            } else {
                continue;
            };
            let Some(text) = vfs.read_to_string(&format!("{meta_dir}/{list}")) else {
                continue;
            };
            for line in text.lines() {
                let rel = line.split(',').next().unwrap_or("").trim();
                if rel.is_empty() {
                    continue;
                }
                owned.insert(importgate_python::runtime::abspath(&base, rel));
            }
        }
    }
    owned
}

/// The application's `.py` files, sorted, with absolute paths inside the image.
pub fn select(
    vfs: &Vfs,
    rt: &Runtime,
    include: &[String],
    exclude: &[String],
) -> Result<Vec<String>, CheckError> {
    let include = build_globs(include)?;
    let exclude = build_globs(exclude)?;
    let mut roots: BTreeSet<String> = BTreeSet::new();
    roots.insert(rt.cwd.clone());
    for e in &rt.sys_path {
        match e.origin {
            Origin::ScriptDir { .. } | Origin::PythonPath | Origin::WorkingDir { .. } => {
                roots.insert(e.path.clone());
            }
            Origin::Pth { .. }
            | Origin::Launcher {
                installed: false, ..
            } => {
                roots.insert(e.path.clone());
            }
            _ => {}
        }
    }
    let interp = &rt.interpreter;
    let mut excluded_dirs: BTreeSet<String> = rt.site_dirs.iter().cloned().collect();
    excluded_dirs.insert(interp.stdlib.clone());
    excluded_dirs.insert(interp.lib_dynload.clone());
    for e in &rt.sys_path {
        if matches!(
            e.origin,
            Origin::Stdlib
                | Origin::LibDynload
                | Origin::StdlibZip
                | Origin::SitePackages
                | Origin::UserSite
                | Origin::Launcher {
                    installed: true,
                    ..
                }
        ) {
            excluded_dirs.insert(e.path.clone());
        }
    }
    let under = |path: &str, dir: &str| {
        dir == "/" || path == dir || path.starts_with(&format!("{}/", dir.trim_end_matches('/')))
    };

    let mut files = BTreeSet::new();
    let mut dirs_seen = BTreeSet::new();
    for root in &roots {
        let Some(real_root) = vfs.realpath(root) else {
            continue;
        };
        if !vfs.is_dir(&real_root) {
            continue;
        }
        // A root inside the stdlib or site-packages (e.g. a `.pth` pointing into them) is not
        // application code.
        if excluded_dirs
            .iter()
            .any(|d| under(&real_root, d) && d != "/")
        {
            continue;
        }
        let mut stack = vec![real_root.clone()];
        while let Some(dir) = stack.pop() {
            if !dirs_seen.insert(dir.clone()) {
                continue;
            }
            if excluded_dirs.contains(&dir) {
                continue;
            }
            if real_root == "/" && SYSTEM_DIRS.iter().any(|s| under(&dir, s)) {
                continue;
            }
            let Some(id) = vfs.lookup(&dir, true) else {
                continue;
            };
            for (name, child) in vfs.children(id) {
                let path = if dir == "/" {
                    format!("/{name}")
                } else {
                    format!("{dir}/{name}")
                };
                match vfs.kind(child) {
                    importgate_image::NodeKind::Dir(_) if !skip_dir(name) => stack.push(path),
                    importgate_image::NodeKind::File(_) if name.ends_with(".py") => {
                        files.insert(path);
                    }
                    _ => {}
                }
            }
        }
    }
    let owned = owned_by_distributions(vfs, &dirs_seen);
    let mut out: Vec<String> = files
        .into_iter()
        .filter(|f| !owned.contains(f))
        .filter(|f| {
            exclude
                .as_ref()
                .is_none_or(|g| !g.is_match(f.trim_start_matches('/')) && !g.is_match(f))
        })
        .collect();
    if let Some(inc) = include {
        // Include globs add files the default selection left out (and only `.py` files).
        for (path, _) in vfs.walk_files("/") {
            if path.ends_with(".py")
                && (inc.is_match(&path) || inc.is_match(path.trim_start_matches('/')))
                && !out.contains(&path)
            {
                out.push(path);
            }
        }
        out.sort();
    }
    Ok(out)
}
