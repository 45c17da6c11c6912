//! Just enough name resolution to recognise `sys.version_info`, `typing.TYPE_CHECKING`,
//! `importlib.import_module` and friends however they were imported.
//!
//! It is flow- and scope-insensitive on purpose: an alias seen anywhere earlier in
//! the file counts, which is right for the idioms we look for and keeps the walk cheap.

use std::collections::HashMap;

use ruff_python_ast::{Expr, StmtImport, StmtImportFrom};

#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// Local name -> dotted name it was imported as.
    aliases: HashMap<String, String>,
}

impl Resolver {
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
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                Some(
                    self.aliases
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.to_owned()),
                )
            }
            Expr::Attribute(attr) => {
                let base = self.qualified(&attr.value)?;
                Some(format!("{base}.{}", attr.attr.as_str()))
            }
            _ => None,
        }
    }
}
