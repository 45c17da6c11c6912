//! Names a module binds at module level, for checking `from a import b`
//! against `a`'s source without running it.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Pattern, Stmt};
use ruff_text_size::{Ranged, TextSize};

use std::collections::{BTreeMap, BTreeSet};

use crate::condition::string_literal;
use crate::{Bindings, getattr};

pub(crate) fn collect(body: &[Stmt]) -> Bindings {
    let mut collector = Collector::default();
    collector.body(body, 0);
    let mut bindings = collector.bindings;
    bindings.has_getattr = bindings.names.contains("__getattr__");
    if bindings.has_getattr && !collector.getattr_other && !collector.getattr_defs.is_empty() {
        let mutated = getattr::mutated_names(body);
        let literals: BTreeMap<String, BTreeSet<String>> = collector
            .literals
            .into_iter()
            .filter(|(name, _)| {
                collector.bind_counts.get(name) == Some(&1) && !mutated.contains(name)
            })
            .collect();
        bindings.getattr_names = collector
            .getattr_defs
            .iter()
            .map(|def| getattr::served(def, &literals))
            .try_fold(BTreeSet::new(), |mut all, served| {
                all.extend(served?);
                Some(all)
            });
    }
    bindings.dunder_all = if collector.all_dynamic {
        None
    } else {
        collector.all
    };
    bindings
}

/// Where each module-level name is first bound, as a byte offset: a statement binds its names
/// when it runs, a class statement when its body is done, and a name a function declares
/// `global` from the start (when that function runs is not known). What a partially
/// initialised module holds while one of its imports runs (a circular import) is what is bound
/// before that import.
pub(crate) fn first_bound(body: &[Stmt]) -> BTreeMap<String, TextSize> {
    let mut collector = Collector {
        positions: Some(BTreeMap::new()),
        ..Collector::default()
    };
    collector.body(body, 0);
    collector.positions.unwrap_or_default()
}

#[derive(Default)]
struct Collector {
    bindings: Bindings,
    all: Option<Vec<String>>,
    all_dynamic: bool,
    /// Module-level `def __getattr__`s, for [`getattr::served`].
    getattr_defs: Vec<ast::StmtFunctionDef>,
    /// `__getattr__` is also bound by something other than a `def` (an import, an assignment).
    getattr_other: bool,
    /// Names assigned a literal collection of strings at module level, and how often each
    /// name is bound at all: only a name bound once stands for its literal.
    literals: BTreeMap<String, BTreeSet<String>>,
    bind_counts: BTreeMap<String, u32>,
    /// When asked for ([`first_bound`]): the first offset each name is bound at, and the
    /// offset the statement being collected binds at.
    positions: Option<BTreeMap<String, TextSize>>,
    at: TextSize,
}

impl Collector {
    /// `depth` counts enclosing compound statements: an `__all__ = [...]` inside an
    /// `if` may or may not run, so it adds to earlier values instead of replacing them.
    fn body(&mut self, body: &[Stmt], depth: u32) {
        let outer = self.at;
        for stmt in body {
            // A class binds its name once its body has run; anything else as it starts.
            self.at = match stmt {
                Stmt::ClassDef(class) => class.range.end(),
                other => other.start(),
            };
            self.stmt(stmt, depth);
        }
        self.at = outer;
    }

    fn stmt(&mut self, stmt: &Stmt, depth: u32) {
        match stmt {
            Stmt::FunctionDef(def) => {
                if def.name.as_str() == "__getattr__" {
                    self.getattr_defs.push(def.clone());
                    *self
                        .bind_counts
                        .entry("__getattr__".to_owned())
                        .or_default() += 1;
                    self.bindings.names.insert("__getattr__".to_owned());
                    self.bound_at("__getattr__", self.at);
                } else {
                    self.bind(def.name.as_str());
                }
                // `global X` inside a function binds X here when it runs.
                self.globals(&def.body);
            }
            Stmt::ClassDef(class) => {
                self.bind(class.name.as_str());
                self.globals(&class.body);
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    match &alias.asname {
                        Some(asname) => self.bind(asname.as_str()),
                        None => self.bind(name.split('.').next().unwrap_or(name)),
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    if name == "*" {
                        // What a star import binds is not known here: `*` stands for it.
                        self.bound_at("*", self.at);
                        self.bindings.star_imports.push((
                            import.module.as_ref().map(|m| m.as_str().to_owned()),
                            import.level,
                        ));
                    } else {
                        self.bind(alias.asname.as_ref().map_or(name, |a| a.as_str()));
                    }
                }
            }
            Stmt::Assign(assign) => {
                if let ([Expr::Name(name)], 0) = (&*assign.targets, depth)
                    && let Some(strings) = getattr::literal_strings(&assign.value)
                {
                    self.literals.insert(name.id.to_string(), strings);
                }
                self.walrus(&assign.value);
                let all_target = assign.targets.iter().any(is_dunder_all);
                for target in &assign.targets {
                    self.target(target);
                }
                if all_target {
                    match literal_names(&assign.value) {
                        Some(names) if depth == 0 => self.all = Some(names),
                        Some(names) => self.all.get_or_insert_default().extend(names),
                        None => self.all_dynamic = true,
                    }
                }
            }
            Stmt::AnnAssign(assign) => {
                if let (Some(value), Expr::Name(name), 0) = (&assign.value, &*assign.target, depth)
                    && let Some(strings) = getattr::literal_strings(value)
                {
                    self.literals.insert(name.id.to_string(), strings);
                }
                if let Some(value) = &assign.value {
                    self.walrus(value);
                    // A bare annotation `x: int` binds nothing.
                    self.target(&assign.target);
                    if is_dunder_all(&assign.target) {
                        match literal_names(value) {
                            Some(names) if depth == 0 => self.all = Some(names),
                            Some(names) => self.all.get_or_insert_default().extend(names),
                            None => self.all_dynamic = true,
                        }
                    }
                }
            }
            Stmt::AugAssign(assign) => {
                self.walrus(&assign.value);
                self.target(&assign.target);
                if is_dunder_all(&assign.target) {
                    match (assign.op, literal_names(&assign.value), &mut self.all) {
                        (ast::Operator::Add, Some(names), Some(all)) => all.extend(names),
                        _ => self.all_dynamic = true,
                    }
                }
            }
            Stmt::TypeAlias(alias) => self.target(&alias.name),
            Stmt::For(for_stmt) => {
                self.walrus(&for_stmt.iter);
                self.target(&for_stmt.target);
                self.body(&for_stmt.body, depth + 1);
                self.body(&for_stmt.orelse, depth + 1);
            }
            Stmt::While(while_stmt) => {
                self.walrus(&while_stmt.test);
                self.body(&while_stmt.body, depth + 1);
                self.body(&while_stmt.orelse, depth + 1);
            }
            Stmt::If(if_stmt) => {
                self.walrus(&if_stmt.test);
                self.body(&if_stmt.body, depth + 1);
                for clause in &if_stmt.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.walrus(test);
                    }
                    self.body(&clause.body, depth + 1);
                }
            }
            Stmt::With(with) => {
                for item in &with.items {
                    self.walrus(&item.context_expr);
                    if let Some(vars) = &item.optional_vars {
                        self.target(vars);
                    }
                }
                self.body(&with.body, depth + 1);
            }
            Stmt::Try(try_stmt) => {
                self.body(&try_stmt.body, depth + 1);
                // `except E as e` unbinds `e` when the handler ends, so only its body counts.
                for handler in &try_stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    self.body(&handler.body, depth + 1);
                }
                self.body(&try_stmt.orelse, depth + 1);
                self.body(&try_stmt.finalbody, depth + 1);
            }
            Stmt::Match(match_stmt) => {
                self.walrus(&match_stmt.subject);
                for case in &match_stmt.cases {
                    self.pattern(&case.pattern);
                    self.body(&case.body, depth + 1);
                }
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    self.bind(name.as_str());
                }
            }
            Stmt::Expr(expr) => {
                self.walrus(&expr.value);
                self.all_method_call(&expr.value);
            }
            Stmt::Assert(assert) => self.walrus(&assert.test),
            _ => {}
        }
    }

    fn bind(&mut self, name: &str) {
        *self.bind_counts.entry(name.to_owned()).or_default() += 1;
        if name == "__getattr__" {
            self.getattr_other = true;
        }
        if !name.is_empty() {
            self.bindings.names.insert(name.to_owned());
            self.bound_at(name, self.at);
        }
    }

    fn bound_at(&mut self, name: &str, at: TextSize) {
        if let Some(positions) = &mut self.positions {
            positions
                .entry(name.to_owned())
                .and_modify(|p| *p = (*p).min(at))
                .or_insert(at);
        }
    }

    /// Names declared `global` in a def or class body: bound when that code runs, which may
    /// be any time, so as early as can be.
    fn globals(&mut self, body: &[Stmt]) {
        let mut names = BTreeSet::new();
        collect_globals(body, &mut names);
        for name in &names {
            self.bound_at(name, TextSize::default());
        }
        self.bindings.names.extend(names);
    }

    fn target(&mut self, target: &Expr) {
        match target {
            Expr::Name(name) => self.bind(name.id.as_str()),
            Expr::Tuple(tuple) => tuple.elts.iter().for_each(|e| self.target(e)),
            Expr::List(list) => list.elts.iter().for_each(|e| self.target(e)),
            Expr::Starred(starred) => self.target(&starred.value),
            _ => {}
        }
        // `__all__, x = ...` or `(__all__) = f()` cannot be followed.
        if matches!(target, Expr::Tuple(_) | Expr::List(_)) && contains_dunder_all(target) {
            self.all_dynamic = true;
        }
    }

    fn pattern(&mut self, pattern: &Pattern) {
        match pattern {
            Pattern::MatchAs(p) => {
                if let Some(name) = &p.name {
                    self.bind(name.as_str());
                }
                if let Some(inner) = &p.pattern {
                    self.pattern(inner);
                }
            }
            Pattern::MatchStar(p) => {
                if let Some(name) = &p.name {
                    self.bind(name.as_str());
                }
            }
            Pattern::MatchMapping(p) => {
                p.patterns.iter().for_each(|q| self.pattern(q));
                if let Some(rest) = &p.rest {
                    self.bind(rest.as_str());
                }
            }
            Pattern::MatchSequence(p) => p.patterns.iter().for_each(|q| self.pattern(q)),
            Pattern::MatchClass(p) => {
                p.arguments.patterns.iter().for_each(|q| self.pattern(q));
                for keyword in &p.arguments.keywords {
                    self.pattern(&keyword.pattern);
                }
            }
            Pattern::MatchOr(p) => p.patterns.iter().for_each(|q| self.pattern(q)),
            Pattern::MatchValue(_) | Pattern::MatchSingleton(_) => {}
        }
    }

    /// Walrus targets bind in the module scope, even inside comprehensions.
    fn walrus(&mut self, expr: &Expr) {
        let mut finder = WalrusFinder::default();
        finder.visit_expr(expr);
        for name in finder.names {
            self.bind(&name);
        }
    }

    /// `__all__.extend([...])`, `__all__.append("x")`, `__all__.remove("x")`.
    fn all_method_call(&mut self, expr: &Expr) {
        let Expr::Call(call) = expr else { return };
        let Expr::Attribute(attr) = &*call.func else {
            return;
        };
        if !is_dunder_all(&attr.value) {
            return;
        }
        let arg = match (&*call.arguments.args, call.arguments.keywords.is_empty()) {
            ([arg], true) => arg,
            _ => {
                self.all_dynamic = true;
                return;
            }
        };
        let Some(all) = &mut self.all else {
            self.all_dynamic = true;
            return;
        };
        match (attr.attr.as_str(), literal_names(arg), string_literal(arg)) {
            ("extend", Some(names), _) => all.extend(names),
            ("append", _, Some(name)) => all.push(name),
            ("remove", _, Some(name)) => all.retain(|n| *n != name),
            _ => self.all_dynamic = true,
        }
    }
}

#[derive(Default)]
struct WalrusFinder {
    names: Vec<String>,
}

impl<'a> Visitor<'a> for WalrusFinder {
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            // A lambda is its own scope.
            Expr::Lambda(_) => {}
            Expr::Named(named) => {
                if let Expr::Name(name) = &*named.target {
                    self.names.push(name.id.as_str().to_owned());
                }
                visitor::walk_expr(self, expr);
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

/// `global` declarations anywhere below a def/class body, including nested defs.
fn collect_globals(body: &[Stmt], names: &mut std::collections::BTreeSet<String>) {
    struct Globals<'n>(&'n mut std::collections::BTreeSet<String>);
    impl<'a> ruff_python_ast::statement_visitor::StatementVisitor<'a> for Globals<'_> {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            if let Stmt::Global(global) = stmt {
                for name in &global.names {
                    if !name.as_str().is_empty() {
                        self.0.insert(name.as_str().to_owned());
                    }
                }
            }
            ruff_python_ast::statement_visitor::walk_stmt(self, stmt);
        }
    }
    use ruff_python_ast::statement_visitor::StatementVisitor;
    Globals(names).visit_body(body);
}

fn is_dunder_all(expr: &Expr) -> bool {
    matches!(expr, Expr::Name(name) if name.id.as_str() == "__all__")
}

fn contains_dunder_all(expr: &Expr) -> bool {
    match expr {
        Expr::Tuple(t) => t.elts.iter().any(contains_dunder_all),
        Expr::List(l) => l.elts.iter().any(contains_dunder_all),
        Expr::Starred(s) => contains_dunder_all(&s.value),
        other => is_dunder_all(other),
    }
}

/// A list/tuple of string literals, or `+` of such.
fn literal_names(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::List(ast::ExprList { elts, .. }) | Expr::Tuple(ast::ExprTuple { elts, .. }) => {
            elts.iter().map(string_literal).collect()
        }
        Expr::BinOp(ast::ExprBinOp {
            left,
            op: ast::Operator::Add,
            right,
            ..
        }) => {
            let mut names = literal_names(left)?;
            names.extend(literal_names(right)?);
            Some(names)
        }
        _ => None,
    }
}
