//! Just enough name resolution to recognise `sys.version_info`, `typing.TYPE_CHECKING`,
//! `importlib.import_module` and friends however they were imported.
//!
//! It is flow- and scope-insensitive on purpose: an alias seen anywhere earlier in
//! the file counts, which is right for the idioms we look for and keeps the walk cheap.
//!
//! Also the filesystem paths a module computes at its top level from literals and
//! `__file__` (`BASE_DIR = Path(__file__).resolve().parent.parent`), for existence tests.

use rustc_hash::FxHashMap as HashMap;

use ruff_python_ast::{self as ast, Expr, StmtImport, StmtImportFrom};

#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// Local name -> dotted name it was imported as.
    aliases: HashMap<String, String>,
    /// The module's own path, when the parser was told (`__file__`).
    pub(crate) file: Option<String>,
    /// Module-level names bound to a path expression we could follow: name -> path
    /// (absolute, or relative to the working directory; `..` allowed).
    paths: HashMap<String, String>,
}

/// `os.path.dirname` of a path string as [`Resolver::path_of`] writes them.
fn dirname(p: &str) -> String {
    match p {
        "/" => "/".into(),
        "" | "." => "..".into(),
        _ if p == ".." || p.ends_with("/..") => format!("{p}/.."),
        _ => match p.rsplit_once('/') {
            Some(("", _)) => "/".into(),
            Some((parent, _)) => parent.into(),
            None => String::new(),
        },
    }
}

fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else if b.is_empty() {
        a.to_string()
    } else {
        format!("{}/{b}", a.trim_end_matches('/'))
    }
}

impl Resolver {
    /// Records `NAME = <path expression>` at module level (any other value forgets NAME).
    pub(crate) fn record_assign(&mut self, target: &Expr, value: &Expr) {
        if let Expr::Name(n) = target {
            match self.path_of(value) {
                Some(p) => {
                    self.paths.insert(n.id.as_str().to_owned(), p);
                }
                None => {
                    self.paths.remove(n.id.as_str());
                }
            }
        }
    }

    /// The path an expression computes, when it is built from string literals, `__file__`
    /// and names bound to such paths with `os.path.{join,dirname,abspath,realpath,normpath}`,
    /// `pathlib.Path(...)`, `.parent`, `.parents[n]`, `.resolve()`, `.absolute()`, `/` and
    /// `.joinpath()`. Relative results are relative to the working directory.
    pub(crate) fn path_of(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::StringLiteral(s) => {
                let v = s.value.to_str();
                let v = v.strip_prefix("./").unwrap_or(v);
                Some(if v == "/" {
                    v.to_owned()
                } else {
                    v.trim_end_matches('/').to_owned()
                })
            }
            Expr::Name(n) if n.id.as_str() == "__file__" => self.file.clone(),
            Expr::Name(n) => self.paths.get(n.id.as_str()).cloned(),
            Expr::Attribute(a) if a.attr.as_str() == "parent" => {
                Some(dirname(&self.path_of(&a.value)?))
            }
            Expr::Subscript(sub) => {
                let Expr::Attribute(a) = &*sub.value else {
                    return None;
                };
                let Expr::NumberLiteral(n) = &*sub.slice else {
                    return None;
                };
                if a.attr.as_str() != "parents" {
                    return None;
                }
                let mut p = self.path_of(&a.value)?;
                for _ in 0..=crate::condition::int_literal(n)?.min(32) {
                    p = dirname(&p);
                }
                Some(p)
            }
            Expr::BinOp(b) if b.op == ast::Operator::Div => {
                Some(join(&self.path_of(&b.left)?, &self.path_of(&b.right)?))
            }
            Expr::Call(call) => {
                let args = &call.arguments.args;
                if !call.arguments.keywords.is_empty() {
                    return None;
                }
                if let Expr::Attribute(a) = &*call.func
                    && matches!(
                        a.attr.as_str(),
                        "resolve" | "absolute" | "joinpath" | "expanduser"
                    )
                    && self
                        .qualified(&call.func)
                        .is_none_or(|q| !q.starts_with("os."))
                {
                    let mut p = self.path_of(&a.value)?;
                    if a.attr.as_str() == "joinpath" {
                        for arg in args {
                            p = join(&p, &self.path_of(arg)?);
                        }
                    } else if !args.is_empty() {
                        return None;
                    }
                    return Some(p);
                }
                let func = self.qualified(&call.func)?;
                let func = func
                    .strip_prefix("posixpath.")
                    .map_or(func.clone(), |f| format!("os.path.{f}"));
                match func.as_str() {
                    "os.path.dirname" if args.len() == 1 => Some(dirname(&self.path_of(&args[0])?)),
                    "os.path.abspath" | "os.path.realpath" | "os.path.normpath"
                        if args.len() == 1 =>
                    {
                        self.path_of(&args[0])
                    }
                    "os.path.join" | "pathlib.Path" | "pathlib.PurePath" | "pathlib.PosixPath"
                        if !args.is_empty() =>
                    {
                        let mut p = String::new();
                        for arg in args {
                            p = join(&p, &self.path_of(arg)?);
                        }
                        Some(p)
                    }
                    // `sys.path.insert(0, str(BASE_DIR / "src"))`
                    "str" | "os.fspath" if args.len() == 1 => self.path_of(&args[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub(crate) fn record_import(&mut self, stmt: &StmtImport) {
        for alias in &stmt.names {
            let name = alias.name.as_str();
            match &alias.asname {
                Some(asname) => {
                    self.aliases
                        .insert(asname.as_str().to_owned(), name.to_owned());
                }
                None => {
                    // `import os.path` binds `os`, which still means `os`.
                    let head = name.split('.').next().unwrap_or(name);
                    self.aliases.remove(head);
                }
            }
        }
    }

    pub(crate) fn record_import_from(&mut self, stmt: &StmtImportFrom) {
        // Relative imports never name the stdlib modules we care about.
        let (0, Some(module)) = (stmt.level, &stmt.module) else {
            return;
        };
        for alias in &stmt.names {
            let name = alias.name.as_str();
            if name == "*" {
                continue;
            }
            let local = alias.asname.as_ref().map_or(name, |a| a.as_str());
            self.aliases
                .insert(local.to_owned(), format!("{}.{name}", module.as_str()));
        }
    }

    /// Dotted name of a `Name`/`Attribute` chain with its head alias expanded.
    pub(crate) fn qualified(&self, expr: &Expr) -> Option<String> {
        let mut out = String::new();
        self.write_qualified(expr, &mut out).then_some(out)
    }

    /// Appends the dotted name of `expr` to `out` (one buffer for the whole chain: this runs
    /// for every call and attribute of every module parsed).
    fn write_qualified(&self, expr: &Expr, out: &mut String) -> bool {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                out.push_str(self.aliases.get(id).map_or(id, String::as_str));
                true
            }
            Expr::Attribute(attr) => {
                if !self.write_qualified(&attr.value, out) {
                    return false;
                }
                out.push('.');
                out.push_str(attr.attr.as_str());
                true
            }
            _ => false,
        }
    }

    /// Whether [`Self::qualified`] of `expr` is `target`, decided from the chain's tail without
    /// building the name: most calls are not the few the walk looks for.
    pub(crate) fn is(&self, expr: &Expr, target: &str) -> bool {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                self.aliases.get(id).map_or(id, String::as_str) == target
            }
            Expr::Attribute(attr) => target
                .strip_suffix(attr.attr.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|rest| self.is(&attr.value, rest)),
            _ => false,
        }
    }

    /// Whether [`Self::qualified`] of `expr` is one of `targets`.
    pub(crate) fn is_any(&self, expr: &Expr, targets: &[&str]) -> bool {
        targets.iter().any(|t| self.is(expr, t))
    }
}
