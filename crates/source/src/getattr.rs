//! Which names a module-level `__getattr__` (PEP 562) can serve.
//!
//! `from m import x` calls `m.__getattr__("x")` when `m` does not bind `x`, and fails only
//! when that call raises. Most such functions serve a closed set of names (lazy submodules,
//! deprecated aliases, `__version__`) and end in `raise AttributeError`: Flask 3's serves only
//! `__version__`, so `from flask import Markup` fails in CPython although Flask has a
//! `__getattr__`. Taking every such module to bind every name hid those failures.
//!
//! The analysis follows the function's control flow with the set of names that can reach each
//! point: tests on the name (`name == "x"`, `name in {...}`, `name in _LAZY` for a module-level
//! literal, `not`, `and`, `or`) narrow it, a `raise` ends it, and a `return` or falling off the
//! end (which returns `None`, a value like any other) serves what reaches it. Anything it does
//! not understand serves every name, so the answer is a superset of what CPython serves.

use std::collections::{BTreeMap, BTreeSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, CmpOp, Expr, Stmt};

use crate::condition::string_literal;

/// Names that may reach a point of the function: every name, or only these.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    Any,
    Only(BTreeSet<String>),
}

impl Reach {
    fn none() -> Reach {
        Reach::Only(BTreeSet::new())
    }

    fn union(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::Only(mut a), Reach::Only(b)) => {
                a.extend(b);
                Reach::Only(a)
            }
            _ => Reach::Any,
        }
    }

    fn within(&self, set: &BTreeSet<String>) -> Reach {
        match self {
            Reach::Any => Reach::Only(set.clone()),
            Reach::Only(a) => Reach::Only(a.intersection(set).cloned().collect()),
        }
    }

    fn outside(&self, set: &BTreeSet<String>) -> Reach {
        match self {
            Reach::Any => Reach::Any,
            Reach::Only(a) => Reach::Only(a.difference(set).cloned().collect()),
        }
    }
}

/// What a test on the name tells: true only for names in `set` (`positive`), or true for
/// every name outside it.
struct NameTest {
    set: BTreeSet<String>,
    positive: bool,
}

/// The names one `def __getattr__` can return a value for, `None` when that cannot be told.
/// `literals` are the module's names bound once to a literal collection of strings.
pub(crate) fn served(
    def: &ast::StmtFunctionDef,
    literals: &BTreeMap<String, BTreeSet<String>>,
) -> Option<BTreeSet<String>> {
    if def.is_async || !def.decorator_list.is_empty() {
        return None;
    }
    let params = &def.parameters;
    let param = params
        .posonlyargs
        .iter()
        .chain(&params.args)
        .next()?
        .parameter
        .name
        .as_str()
        .to_owned();
    let mut scan = BodyScan {
        param: &param,
        yields: false,
        rebinds: false,
    };
    scan.visit_body(&def.body);
    if scan.yields || scan.rebinds {
        return None;
    }
    let mut flow = Flow {
        param: &param,
        literals,
        lookups: BTreeMap::new(),
    };
    flow.lookups = flow.lookup_vars(&def.body);
    let (served, falls) = flow.block(&def.body, Reach::Any);
    match served.union(falls) {
        Reach::Any => None,
        Reach::Only(names) => Some(names),
    }
}

struct Flow<'a> {
    param: &'a str,
    literals: &'a BTreeMap<String, BTreeSet<String>>,
    /// Locals bound once, to `TABLE.get(name)` of a literal table: the table's keys
    /// (starlette's `deprecated = __deprecated__.get(name)`, then `if deprecated:`).
    lookups: BTreeMap<String, BTreeSet<String>>,
}

impl Flow<'_> {
    /// The locals of `body` stored exactly once, by `VAR = TABLE.get(name)` (or with a `None`
    /// default), with the keys of `TABLE`.
    fn lookup_vars(&self, body: &[Stmt]) -> BTreeMap<String, BTreeSet<String>> {
        struct Stores<'b, 'f> {
            flow: &'b Flow<'f>,
            count: BTreeMap<String, usize>,
            lookups: BTreeMap<String, BTreeSet<String>>,
            /// Inside a nested function or class: its stores count, its lookups are its own.
            nested: bool,
        }
        impl<'a> Visitor<'a> for Stores<'_, '_> {
            fn visit_stmt(&mut self, stmt: &'a Stmt) {
                match stmt {
                    Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {
                        let outer = std::mem::replace(&mut self.nested, true);
                        visitor::walk_stmt(self, stmt);
                        self.nested = outer;
                    }
                    // A name a nested scope, `global` or `del` touches is not followed.
                    Stmt::Global(ast::StmtGlobal { names, .. })
                    | Stmt::Nonlocal(ast::StmtNonlocal { names, .. }) => {
                        for n in names {
                            *self.count.entry(n.as_str().to_owned()).or_default() += 2;
                        }
                    }
                    Stmt::Assign(a) => {
                        if let [Expr::Name(target)] = &*a.targets
                            && !self.nested
                            && let Some(keys) = self.flow.get_lookup(&a.value)
                        {
                            self.lookups.insert(target.id.as_str().to_owned(), keys);
                        }
                        visitor::walk_stmt(self, stmt);
                    }
                    _ => visitor::walk_stmt(self, stmt),
                }
            }
            fn visit_expr(&mut self, expr: &'a Expr) {
                if let Expr::Name(n) = expr
                    && n.ctx != ast::ExprContext::Load
                {
                    *self.count.entry(n.id.as_str().to_owned()).or_default() += 1;
                }
                visitor::walk_expr(self, expr);
            }
        }
        let mut stores = Stores {
            flow: self,
            count: BTreeMap::new(),
            lookups: BTreeMap::new(),
            nested: false,
        };
        stores.visit_body(body);
        let Stores { count, lookups, .. } = stores;
        lookups
            .into_iter()
            .filter(|(var, _)| count.get(var) == Some(&1) && var != self.param)
            .collect()
    }

    /// The keys of `TABLE` when `expr` is `TABLE.get(name)` or `TABLE.get(name, None)`.
    fn get_lookup(&self, expr: &Expr) -> Option<BTreeSet<String>> {
        let Expr::Call(call) = expr else {
            return None;
        };
        let Expr::Attribute(attr) = &*call.func else {
            return None;
        };
        let default_none = match &*call.arguments.args {
            [key] => self.is_param(key),
            [key, default] => self.is_param(key) && default.is_none_literal_expr(),
            _ => false,
        };
        if attr.attr.as_str() != "get" || !default_none || !call.arguments.keywords.is_empty() {
            return None;
        }
        match &*attr.value {
            // Only a module-level literal never changed, or a literal written here.
            Expr::Name(n) => self.literals.get(n.id.as_str()).cloned(),
            Expr::Dict(_) => literal_strings(&attr.value),
            _ => None,
        }
    }

    /// A test on a lookup local: its table's keys, and whether the test is true only for
    /// them (`VAR`, `VAR is not None`) or false only for them (`not VAR`, `VAR is None`).
    /// A key whose value is falsy (or `None`) can go either way, so only one side narrows.
    fn lookup_test(&self, test: &Expr) -> Option<(&BTreeSet<String>, bool)> {
        match test {
            Expr::Name(n) => self.lookups.get(n.id.as_str()).map(|k| (k, true)),
            Expr::UnaryOp(u) if u.op == ast::UnaryOp::Not => {
                self.lookup_test(&u.operand).map(|(k, t)| (k, !t))
            }
            Expr::Compare(cmp)
                if cmp.ops.len() == 1
                    && cmp.comparators.len() == 1
                    && cmp.comparators[0].is_none_literal_expr()
                    && matches!(cmp.ops[0], CmpOp::Is | CmpOp::IsNot) =>
            {
                let Expr::Name(n) = &*cmp.left else {
                    return None;
                };
                let keys = self.lookups.get(n.id.as_str())?;
                Some((keys, cmp.ops[0] == CmpOp::IsNot))
            }
            _ => None,
        }
    }

    /// Returns the names served inside `body` and those that reach its end.
    fn block(&self, body: &[Stmt], mut reach: Reach) -> (Reach, Reach) {
        let mut served = Reach::none();
        for stmt in body {
            if reach == Reach::none() {
                break;
            }
            let (s, next) = self.stmt(stmt, reach);
            served = served.union(s);
            reach = next;
        }
        (served, reach)
    }

    fn stmt(&self, stmt: &Stmt, reach: Reach) -> (Reach, Reach) {
        match stmt {
            Stmt::Return(ret) => {
                let served = match ret.value.as_deref() {
                    Some(value) => self.returned(value, &reach),
                    None => reach,
                };
                (served, Reach::none())
            }
            Stmt::Raise(_) => (Reach::none(), Reach::none()),
            Stmt::If(if_stmt) => {
                let mut served = Reach::none();
                let mut falls = Reach::none();
                let mut rest = reach;
                let branches = std::iter::once((Some(&*if_stmt.test), &if_stmt.body)).chain(
                    if_stmt
                        .elif_else_clauses
                        .iter()
                        .map(|c| (c.test.as_ref(), &c.body)),
                );
                let mut has_else = false;
                for (test, body) in branches {
                    let (taken, not_taken) = match test {
                        Some(test) => self.split(test, &rest),
                        None => {
                            has_else = true;
                            (rest.clone(), Reach::none())
                        }
                    };
                    let (s, f) = self.block(body, taken);
                    served = served.union(s);
                    falls = falls.union(f);
                    rest = not_taken;
                }
                if !has_else {
                    falls = falls.union(rest);
                }
                (served, falls)
            }
            Stmt::Try(try_stmt) => {
                let (mut served, body_falls) = self.block(&try_stmt.body, reach.clone());
                let (s, else_falls) = self.block(&try_stmt.orelse, body_falls);
                served = served.union(s);
                let mut falls = else_falls;
                for handler in &try_stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    let (s, f) = self.block(&handler.body, reach.clone());
                    served = served.union(s);
                    falls = falls.union(f);
                }
                if !try_stmt.finalbody.is_empty() && returns(&try_stmt.finalbody) {
                    // A `return` in `finally` overrides any raise before it.
                    return (reach.clone(), reach);
                }
                (served, falls)
            }
            // Loops, `with` and `match` are not followed: a return inside serves whatever
            // reaches them, and they may fall through.
            Stmt::For(_) | Stmt::While(_) | Stmt::With(_) | Stmt::Match(_) => {
                if returns(std::slice::from_ref(stmt)) {
                    (reach.clone(), reach)
                } else {
                    (Reach::none(), reach)
                }
            }
            // `msg = TABLE[name]` raises `KeyError` for names outside a literal table.
            Stmt::Assign(ast::StmtAssign { value, .. })
            | Stmt::Expr(ast::StmtExpr { value, .. }) => match self.lookup(value) {
                Some(keys) => (Reach::none(), reach.within(&keys)),
                None => (Reach::none(), reach),
            },
            _ => (Reach::none(), reach),
        }
    }

    /// The keys of the literal table `expr` looks the name up in (`TABLE[name]`).
    fn lookup(&self, expr: &Expr) -> Option<BTreeSet<String>> {
        match expr {
            Expr::Subscript(sub) if self.is_param(&sub.slice) => self.collection(&sub.value),
            _ => None,
        }
    }

    /// A returned value that only exists for names the module already binds (its globals)
    /// or for the keys of a literal table serves no other name.
    fn returned(&self, value: &Expr, reach: &Reach) -> Reach {
        if let Expr::Subscript(sub) = value
            && self.is_param(&sub.slice)
            && is_globals_call(&sub.value)
        {
            return Reach::none();
        }
        match self.lookup(value) {
            Some(keys) => reach.within(&keys),
            None => reach.clone(),
        }
    }

    /// The names for which `test` is true and those for which it is false.
    fn split(&self, test: &Expr, reach: &Reach) -> (Reach, Reach) {
        if let Some((keys, true_only_for_keys)) = self.lookup_test(test) {
            return if true_only_for_keys {
                (reach.within(keys), reach.clone())
            } else {
                (reach.clone(), reach.within(keys))
            };
        }
        match self.name_test(test) {
            Some(NameTest {
                set,
                positive: true,
            }) => (reach.within(&set), reach.outside(&set)),
            Some(NameTest {
                set,
                positive: false,
            }) => (reach.outside(&set), reach.within(&set)),
            None => match test {
                // `name in X and other`: true only for names in X.
                Expr::BoolOp(b) if b.op == ast::BoolOp::And => {
                    let mut taken = reach.clone();
                    for value in &b.values {
                        if let Some(NameTest {
                            set,
                            positive: true,
                        }) = self.name_test(value)
                        {
                            taken = taken.within(&set);
                        }
                    }
                    (taken, reach.clone())
                }
                _ => (reach.clone(), reach.clone()),
            },
        }
    }

    fn name_test(&self, test: &Expr) -> Option<NameTest> {
        match test {
            Expr::UnaryOp(u) if u.op == ast::UnaryOp::Not => {
                let inner = self.name_test(&u.operand)?;
                Some(NameTest {
                    set: inner.set,
                    positive: !inner.positive,
                })
            }
            Expr::BoolOp(b) if b.op == ast::BoolOp::Or => {
                let mut set = BTreeSet::new();
                for value in &b.values {
                    let t = self.name_test(value)?;
                    if !t.positive {
                        return None;
                    }
                    set.extend(t.set);
                }
                Some(NameTest {
                    set,
                    positive: true,
                })
            }
            Expr::Compare(cmp) if cmp.ops.len() == 1 && cmp.comparators.len() == 1 => {
                let (left, right) = (&*cmp.left, &cmp.comparators[0]);
                match cmp.ops[0] {
                    CmpOp::Eq | CmpOp::NotEq => {
                        let literal = if self.is_param(left) {
                            string_literal(right)
                        } else if self.is_param(right) {
                            string_literal(left)
                        } else {
                            None
                        }?;
                        Some(NameTest {
                            set: BTreeSet::from([literal]),
                            positive: cmp.ops[0] == CmpOp::Eq,
                        })
                    }
                    CmpOp::In | CmpOp::NotIn if self.is_param(left) => Some(NameTest {
                        set: self.collection(right)?,
                        positive: cmp.ops[0] == CmpOp::In,
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn is_param(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Name(n) if n.id.as_str() == self.param)
    }

    /// The strings a literal collection (or a module-level name bound to one, or its
    /// `.keys()`) holds.
    fn collection(&self, expr: &Expr) -> Option<BTreeSet<String>> {
        if let Expr::Name(name) = expr {
            return self.literals.get(name.id.as_str()).cloned();
        }
        if let Expr::Call(call) = expr
            && let Expr::Attribute(attr) = &*call.func
            && attr.attr.as_str() == "keys"
            && call.arguments.is_empty()
        {
            return self.collection(&attr.value);
        }
        literal_strings(expr)
    }
}

/// The strings of a literal list, tuple, set or dict (its keys), also wrapped in `set(…)`,
/// `frozenset(…)`, `tuple(…)`, `list(…)` or `dict(…)`.
pub(crate) fn literal_strings(expr: &Expr) -> Option<BTreeSet<String>> {
    match expr {
        Expr::List(ast::ExprList { elts, .. })
        | Expr::Tuple(ast::ExprTuple { elts, .. })
        | Expr::Set(ast::ExprSet { elts, .. }) => elts.iter().map(string_literal).collect(),
        Expr::Dict(dict) => dict
            .items
            .iter()
            .map(|item| item.key.as_ref().and_then(string_literal))
            .collect(),
        Expr::Call(call) => {
            let Expr::Name(func) = &*call.func else {
                return None;
            };
            match (func.id.as_str(), &*call.arguments.args) {
                ("set" | "frozenset" | "tuple" | "list" | "dict", [arg])
                    if call.arguments.keywords.is_empty() =>
                {
                    literal_strings(arg)
                }
                ("dict", []) => call
                    .arguments
                    .keywords
                    .iter()
                    .map(|k| k.arg.as_ref().map(|a| a.as_str().to_owned()))
                    .collect(),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_globals_call(expr: &Expr) -> bool {
    matches!(expr, Expr::Call(call)
        if call.arguments.is_empty()
            && matches!(&*call.func, Expr::Name(n) if n.id.as_str() == "globals"))
}

/// Whether `body` holds a `return` outside nested functions and classes.
fn returns(body: &[Stmt]) -> bool {
    struct Finder(bool);
    impl<'a> Visitor<'a> for Finder {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::Return(_) => self.0 = true,
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                _ => visitor::walk_stmt(self, stmt),
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_body(body);
    finder.0
}

/// A generator `__getattr__` returns a generator for every name; one that rebinds its
/// parameter defeats the tests on it.
struct BodyScan<'a> {
    param: &'a str,
    yields: bool,
    rebinds: bool,
}

impl<'a> Visitor<'a> for BodyScan<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Assign(a) => {
                self.rebinds |= a.targets.iter().any(|t| self.binds(t));
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AugAssign(a) => {
                self.rebinds |= self.binds(&a.target);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AnnAssign(a) => {
                self.rebinds |= a.value.is_some() && self.binds(&a.target);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::For(f) => {
                self.rebinds |= self.binds(&f.target);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Global(_) | Stmt::Nonlocal(_) | Stmt::Delete(_) | Stmt::Import(_) => {
                // `import name`, `del name`, `global name` rebind it; be conservative.
                self.rebinds |= stmt_names_param(stmt, self.param);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::ImportFrom(i) => {
                self.rebinds |= i
                    .names
                    .iter()
                    .any(|a| a.asname.as_ref().unwrap_or(&a.name).as_str() == self.param);
            }
            Stmt::With(w) => {
                self.rebinds |= w
                    .items
                    .iter()
                    .any(|i| i.optional_vars.as_deref().is_some_and(|v| self.binds(v)));
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Yield(_) | Expr::YieldFrom(_) => self.yields = true,
            Expr::Named(n) if self.binds(&n.target) => self.rebinds = true,
            Expr::Lambda(_) => return,
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

impl BodyScan<'_> {
    fn binds(&self, target: &Expr) -> bool {
        match target {
            Expr::Name(n) => n.id.as_str() == self.param,
            Expr::Tuple(t) => t.elts.iter().any(|e| self.binds(e)),
            Expr::List(l) => l.elts.iter().any(|e| self.binds(e)),
            Expr::Starred(s) => self.binds(&s.value),
            _ => false,
        }
    }
}

fn stmt_names_param(stmt: &Stmt, param: &str) -> bool {
    match stmt {
        Stmt::Global(g) => g.names.iter().any(|n| n.as_str() == param),
        Stmt::Nonlocal(n) => n.names.iter().any(|n| n.as_str() == param),
        Stmt::Delete(d) => d
            .targets
            .iter()
            .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == param)),
        Stmt::Import(i) => i.names.iter().any(|a| {
            a.asname.as_ref().map_or_else(
                || a.name.as_str().split('.').next() == Some(param),
                |n| n.as_str() == param,
            )
        }),
        _ => false,
    }
}

/// Names the module changes in place (`X[k] = v`, `X.update(…)`, `X.add(…)`, …): their
/// literal is not all they hold.
pub(crate) fn mutated_names(body: &[Stmt]) -> BTreeSet<String> {
    #[derive(Default)]
    struct Mutations(BTreeSet<String>);
    impl<'a> Visitor<'a> for Mutations {
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Subscript(sub) if sub.ctx.is_store() || sub.ctx.is_del() => {
                    if let Expr::Name(n) = &*sub.value {
                        self.0.insert(n.id.to_string());
                    }
                }
                Expr::Attribute(attr)
                    if matches!(
                        attr.attr.as_str(),
                        "update"
                            | "add"
                            | "append"
                            | "extend"
                            | "insert"
                            | "setdefault"
                            | "__setitem__"
                            | "__ior__"
                            | "clear"
                            | "pop"
                            | "popitem"
                            | "remove"
                            | "discard"
                    ) =>
                {
                    if let Expr::Name(n) = &*attr.value {
                        self.0.insert(n.id.to_string());
                    }
                }
                _ => {}
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut m = Mutations::default();
    m.visit_body(body);
    m.0
}
