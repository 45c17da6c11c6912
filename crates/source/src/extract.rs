//! The AST walk that finds import sites and tracks the context each one runs in.

use std::fmt::Write as _;

use ruff_python_ast::statement_visitor::{self, StatementVisitor};
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, ExceptHandler, Expr, ExprContext, Stmt};
use ruff_text_size::{Ranged, TextRange};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::condition::{self, Branch, Condition, Test};
use crate::ctypes_loads::{self, LibValue, LibVars};
use crate::names::Resolver;

/// The names an import statement anywhere in `body` binds (over-approximated: every alias).
/// With the module-level bindings these are the only heads a recorded call can keep (see
/// `parse_text`), so calls of anything else are not recorded at all: most calls are of
/// builtins, parameters and locals, and recording one costs its position and context.
pub(crate) fn import_bound_names(body: &[Stmt]) -> HashSet<&str> {
    struct Imports<'a>(HashSet<&'a str>);
    impl<'a> StatementVisitor<'a> for Imports<'a> {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::Import(import) => {
                    for alias in &import.names {
                        let name = alias.name.as_str();
                        self.0.insert(alias.asname.as_ref().map_or_else(
                            || name.split('.').next().unwrap_or(name),
                            |a| a.as_str(),
                        ));
                    }
                }
                Stmt::ImportFrom(import) => {
                    for alias in &import.names {
                        self.0.insert(
                            alias
                                .asname
                                .as_ref()
                                .map_or(alias.name.as_str(), |a| a.as_str()),
                        );
                    }
                }
                _ => statement_visitor::walk_stmt(self, stmt),
            }
        }
    }
    let mut imports = Imports(HashSet::default());
    imports.visit_body(body);
    imports.0
}

/// `@X.on_event("startup")` (FastAPI, Starlette): the decorated function runs when the server
/// starts the application.
fn is_startup_hook(decorator: &Expr) -> bool {
    let Expr::Call(call) = decorator else {
        return false;
    };
    let on_event = match &*call.func {
        Expr::Attribute(a) => a.attr.as_str() == "on_event",
        _ => false,
    };
    on_event
        && matches!(
            call.arguments.args.first(),
            Some(Expr::StringLiteral(s)) if s.value.to_str() == "startup"
        )
}

/// The last name of a call that runs the coroutines (or coroutine functions) it is given:
/// `asyncio.run`, `uvloop.run`, `anyio.run`, `trio.run`, `asyncio.Runner().run`,
/// `loop.run_until_complete`, and the task makers `create_task`, `ensure_future`, `gather`,
/// `wait_for`, `run_coroutine_threadsafe`, `start_soon` (`TaskGroup.create_task`,
/// `nursery.start_soon`).
const COROUTINE_RUNNERS: &[&str] = &[
    "run",
    "run_until_complete",
    "create_task",
    "ensure_future",
    "gather",
    "wait_for",
    "run_coroutine_threadsafe",
    "start_soon",
];

use crate::{
    CallSite, Caught, ConfigModule, Fallback, FinderFn, FinderRef, FunctionDef, ImportContext,
    ImportKind, ImportSite, LoadTarget, Locator, NativeLoad, PackageArg, PathEdit, Scope,
};

/// What the walk collects from one module.
pub(crate) struct Extracted {
    pub(crate) sites: Vec<ImportSite>,
    pub(crate) loads: Vec<NativeLoad>,
    pub(crate) dynamic_namespace: bool,
    pub(crate) dynamic_submodules: bool,
    pub(crate) import_hook: bool,
    pub(crate) finders: Vec<FinderFn>,
    pub(crate) fallbacks: Vec<Fallback>,
    pub(crate) called_at_import: Vec<String>,
    pub(crate) functions: Vec<FunctionDef>,
    pub(crate) calls: Vec<CallSite>,
    pub(crate) celery_modules: Vec<ConfigModule>,
    pub(crate) path_edits: Vec<PathEdit>,
}

/// A name bound in one scope, while looking for a fallback chain.
#[derive(Debug, Default)]
struct ChainVar {
    none_first: bool,
    alternatives: Vec<usize>,
    /// Bound in another way: not a chain.
    spoiled: bool,
}

/// Returns the sites in source order, the `ctypes` loads in source order, whether the module
/// writes its own namespace dynamically (see [`crate::Bindings::dynamic_namespace`]) and whether
/// it registers other modules in `sys.modules` ([`crate::Bindings::dynamic_submodules`]), and
/// what loads need from functions (finders, fallback chains, functions called at import).
/// `callable` tells the names a call's head must be for the call to be recorded.
pub(crate) fn extract(
    body: &[Stmt],
    locator: &Locator<'_>,
    file: Option<&str>,
    callable: &dyn Fn(&str) -> bool,
) -> Extracted {
    let mut names = Resolver::default();
    names.file = file.map(str::to_string);
    let mut extractor = Extractor {
        locator,
        callable,
        names,
        sites: Vec::new(),
        loads: Vec::new(),
        lib_vars: LibVars::default(),
        fn_aliases: HashMap::default(),
        finder_vars: HashMap::default(),
        finder_candidates: Vec::new(),
        returned: HashSet::default(),
        chain_vars: HashMap::default(),
        fallbacks: Vec::new(),
        called_at_import: Vec::new(),
        functions: Vec::new(),
        calls: Vec::new(),
        celery_modules: Vec::new(),
        path_edits: Vec::new(),
        startup_hooks: Vec::new(),
        lifespan: false,
        yields: Vec::new(),
        awaited: HashSet::default(),
        lambdas: 0,
        main_only: None,
        caught: Caught::NOTHING,
        namespace_aliases: HashSet::default(),
        handler: false,
        try_body: None,
        fallback_of: Vec::new(),
        type_checking: false,
        conditions: Vec::new(),
        scopes: Vec::new(),
        dynamic_namespace: false,
        dynamic_submodules: false,
        import_hook: false,
    };
    extractor.visit_body(body);
    let mut finders: Vec<FinderFn> = Vec::new();
    for (function, var, conditions, name) in extractor.finder_candidates {
        let returned = var
            .as_ref()
            .is_none_or(|v| extractor.returned.contains(&(function.clone(), v.clone())));
        if !returned {
            continue;
        }
        match finders.iter_mut().find(|f| f.name == function) {
            Some(f) => f.candidates.push((conditions, name)),
            None => finders.push(FinderFn {
                name: function,
                candidates: vec![(conditions, name)],
            }),
        }
    }
    // Starlette runs `on_event("startup")` hooks only when the application has no lifespan.
    let mut calls = extractor.calls;
    if !extractor.lifespan {
        calls.extend(extractor.startup_hooks);
    }
    Extracted {
        sites: extractor.sites,
        loads: extractor.loads,
        dynamic_namespace: extractor.dynamic_namespace,
        dynamic_submodules: extractor.dynamic_submodules,
        import_hook: extractor.import_hook,
        finders,
        fallbacks: extractor.fallbacks,
        called_at_import: extractor.called_at_import,
        functions: extractor.functions,
        calls,
        celery_modules: extractor.celery_modules,
        path_edits: extractor.path_edits,
    }
}

/// `Some(true)` for `__name__ == "__main__"` (either way round), `Some(false)` for `!=`.
fn dunder_main_test(test: &Expr) -> Option<bool> {
    let Expr::Compare(cmp) = test else {
        return None;
    };
    let ([op], [right]) = (&*cmp.ops, &*cmp.comparators) else {
        return None;
    };
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
    if !((is_name(&cmp.left) && is_main(right)) || (is_main(&cmp.left) && is_name(right))) {
        return None;
    }
    match op {
        ast::CmpOp::Eq => Some(true),
        ast::CmpOp::NotEq => Some(false),
        _ => None,
    }
}

/// An `and` one of whose operands is `__name__ == "__main__"`: true only in `__main__`.
fn requires_main(test: &Expr) -> bool {
    matches!(test, Expr::BoolOp(b) if b.op == ast::BoolOp::And
        && b.values.iter().any(|v| dunder_main_test(v) == Some(true) || requires_main(v)))
}

/// `a`, `a.b.c` for a name or an attribute chain on a name.
/// The name a `Name`/`Attribute` chain starts from: `a` of `a.b.c`.
fn chain_head(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(n) => Some(n.id.as_str()),
        Expr::Attribute(a) => chain_head(&a.value),
        _ => None,
    }
}

fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => {
            let mut head = dotted(&a.value)?;
            head.push('.');
            head.push_str(a.attr.as_str());
            Some(head)
        }
        _ => None,
    }
}

/// Whether a `sys.modules[KEY] = …` store may replace the module itself: a key that mentions
/// `__name__`, a top-level literal (it may be the module's own name) or anything not
/// understood. `'os.path'` and `io.__name__` register another module.
fn may_be_self(key: &Expr) -> bool {
    fn mentions_name(e: &Expr) -> bool {
        match e {
            Expr::Name(n) => n.id.as_str() == "__name__",
            Expr::BinOp(b) => mentions_name(&b.left) || mentions_name(&b.right),
            Expr::FString(_) | Expr::Call(_) => true,
            _ => false,
        }
    }
    if mentions_name(key) {
        return true;
    }
    match key {
        Expr::StringLiteral(s) => !s.value.to_str().contains('.'),
        Expr::Attribute(a) => a.attr.as_str() != "__name__",
        _ => true,
    }
}

/// Visits what of a `class` statement runs where it stands — decorators, type parameters, bases
/// and keywords — leaving its body, which runs in a scope of its own, to the caller.
pub(crate) fn visit_class_header<'a, V: Visitor<'a> + ?Sized>(
    visitor: &mut V,
    class: &'a ast::StmtClassDef,
) {
    for decorator in &class.decorator_list {
        visitor.visit_decorator(decorator);
    }
    if let Some(type_params) = &class.type_params {
        visitor.visit_type_params(type_params);
    }
    if let Some(arguments) = &class.arguments {
        visitor.visit_arguments(arguments);
    }
}

struct Extractor<'l, 's> {
    locator: &'l Locator<'s>,
    /// Whether a call whose head is this name may be kept: see [`import_bound_names`].
    callable: &'l dyn Fn(&str) -> bool,
    names: Resolver,
    sites: Vec<ImportSite>,
    loads: Vec<NativeLoad>,
    /// Module-level names bound to a library name or a `find_library` result.
    lib_vars: LibVars,
    /// Local name → the function a module-level `from ... import` binds, for finder calls.
    fn_aliases: HashMap<String, FinderRef>,
    /// Module-level names bound once to a call of a function without arguments.
    finder_vars: HashMap<String, FinderRef>,
    /// `(function, variable it is assigned to, conditions, library)`: `find_library` calls
    /// inside module-level functions.
    finder_candidates: Vec<(String, Option<String>, Vec<Condition>, String)>,
    /// `(function, name)` of each `return NAME`.
    returned: HashSet<(String, String)>,
    /// `(scope, name)` → what binds it, for fallback chains.
    chain_vars: HashMap<(String, String), ChainVar>,
    fallbacks: Vec<Fallback>,
    called_at_import: Vec<String>,
    functions: Vec<FunctionDef>,
    calls: Vec<CallSite>,
    celery_modules: Vec<ConfigModule>,
    path_edits: Vec<PathEdit>,
    /// Per enclosing function, whether its own body yields (a generator).
    yields: Vec<bool>,
    /// Calls whose coroutine is run: awaited, or given to an event loop or a task.
    awaited: HashSet<TextRange>,
    /// `@app.on_event("startup")` functions, as calls; kept when no `lifespan=` is given.
    startup_hooks: Vec<CallSite>,
    /// A `lifespan=` keyword was seen.
    lifespan: bool,
    /// Depth of `lambda` bodies: a call there runs when the lambda is called, not here.
    lambdas: u32,
    /// Inside an arm of `if __name__ == "__main__":` (see [`ImportContext::main_only`]).
    main_only: Option<bool>,
    /// What the enclosing handlers (and `suppress` blocks, `find_spec` tests) catch.
    caught: Caught,
    /// Names bound to `globals()`: a write through one writes the module's namespace.
    namespace_aliases: HashSet<String>,
    handler: bool,
    /// See [`ImportContext::try_body`] and [`ImportContext::fallback_of`].
    try_body: Option<u32>,
    fallback_of: Vec<u32>,
    type_checking: bool,
    conditions: Vec<Condition>,
    scopes: Vec<Scope>,
    dynamic_namespace: bool,
    dynamic_submodules: bool,
    /// It installs an import hook ([`crate::Bindings::import_hook`]).
    import_hook: bool,
}

impl Extractor<'_, '_> {
    fn scope(&self) -> Scope {
        self.scopes
            .iter()
            .rev()
            .find(|s| matches!(s, Scope::Function(_)))
            .or_else(|| self.scopes.last())
            .cloned()
            .unwrap_or(Scope::Module)
    }

    fn context(&self, lazy: bool) -> ImportContext {
        ImportContext {
            caught: self.caught,
            type_checking: self.type_checking,
            scope: self.scope(),
            in_function: self.owner().flatten(),
            main_only: self.main_only,
            condition: self.conditions.last().cloned(),
            conditions: self.conditions.clone(),
            lazy,
            handler: self.handler,
            after_yield: matches!(self.scopes.last(), Some(Scope::Function(_)))
                && self.yields.last() == Some(&true),
            try_body: self.try_body,
            fallback_of: self.fallback_of.clone(),
        }
    }

    fn push_load(&mut self, target: LoadTarget, range: TextRange) {
        let (line, column) = self.locator.line_column(range.start());
        let statement = one_line(
            self.locator
                .source()
                .get(range.start().to_usize()..range.end().to_usize())
                .unwrap_or_default(),
        );
        let context = self.context(false);
        self.loads.push(NativeLoad {
            target,
            line,
            column,
            end_column: self.locator.first_line_end_column(range),
            statement,
            context,
        });
    }

    /// `sys.path.insert(i, P)`, `sys.path.append(P)`, `site.addsitedir(P)` with a path this
    /// module spells out.
    fn path_edit(&mut self, call: &ast::ExprCall) {
        // Every module-level call of every module parsed comes here: only a call of a method
        // of one of these names is worth spelling out.
        let last = match &*call.func {
            Expr::Attribute(a) => a.attr.as_str(),
            Expr::Name(n) => n.id.as_str(),
            _ => return,
        };
        if !matches!(last, "insert" | "append" | "addsitedir")
            || !call.arguments.keywords.is_empty()
        {
            return;
        }
        let Some(func) = self.names.qualified(&call.func) else {
            return;
        };
        let (index, arg) = match (func.as_str(), &*call.arguments.args) {
            ("sys.path.insert", [Expr::NumberLiteral(n), arg]) => {
                let Some(i) = crate::condition::int_literal(n) else {
                    return;
                };
                (Some(i.min(1 << 16)), arg)
            }
            ("sys.path.append" | "site.addsitedir", [arg]) => (None, arg),
            _ => return,
        };
        let Some(path) = self.names.path_of(arg) else {
            return;
        };
        let line = self.locator.line_column(call.range().start()).0;
        let context = self.context(false);
        self.path_edits.push(PathEdit {
            path,
            index,
            line,
            context,
        });
    }

    /// What `dlopen` is given by a loader's argument, when the code spells it out.
    fn load_target(&self, arg: &Expr) -> Option<LoadTarget> {
        if let Some(n) = ctypes_loads::find_library_call(arg, &self.names) {
            return Some(LoadTarget::DlopenFound(n));
        }
        match ctypes_loads::lib_value(arg, &self.names, &self.lib_vars) {
            Some(LibValue::Literal(s)) => return Some(LoadTarget::Dlopen(s)),
            Some(LibValue::Found(n)) => return Some(LoadTarget::DlopenFound(n)),
            None => {}
        }
        // `os.path.join(os.path.dirname(__file__), "libx.so")` and the like; a name bound more
        // than once is not followed (the last binding need not be the one that ran).
        if let Expr::Name(n) = arg
            && self.lib_vars.seen(n.id.as_str())
        {
            return None;
        }
        self.names
            .path_of(arg)
            .filter(|p| p.contains('/'))
            .map(LoadTarget::Dlopen)
    }

    /// A `ctypes` call or `cdll` item that loads a library.
    fn ctypes_load(&mut self, expr: &Expr) {
        let target = match expr {
            Expr::Call(call) => ctypes_loads::loader_argument(call, &self.names)
                .and_then(|arg| self.load_target(arg)),
            _ => ctypes_loads::loader_item(expr, &self.names).map(LoadTarget::Dlopen),
        };
        if let Some(target) = target {
            self.push_load(target, expr.range());
        }
    }

    /// The function a module-level `NAME = f()` calls, when it may be a finder.
    fn finder_call(&self, value: &Expr) -> Option<FinderRef> {
        let Expr::Call(call) = value else {
            return None;
        };
        if !call.arguments.args.is_empty() || !call.arguments.keywords.is_empty() {
            return None;
        }
        let Expr::Name(n) = &*call.func else {
            return None;
        };
        Some(
            self.fn_aliases
                .get(n.id.as_str())
                .cloned()
                .unwrap_or_else(|| FinderRef {
                    level: 0,
                    module: None,
                    function: n.id.as_str().to_string(),
                }),
        )
    }

    /// Who runs the code here: `Some(None)` for module-level code (class bodies included),
    /// `Some(Some(f))` for the body of the module-level function `f` (and class bodies in it),
    /// `None` inside a nested function or a method.
    fn owner(&self) -> Option<Option<String>> {
        self.owner_scope().map(|owner| {
            owner.map(|(class, function)| match class {
                Some(c) => format!("{c}.{function}"),
                None => function.to_string(),
            })
        })
    }

    /// [`Self::owner`] before its name is built: the module-level class and the function.
    fn owner_scope(&self) -> Option<Option<(Option<&str>, &str)>> {
        let (first, rest) = match self.scopes.as_slice() {
            [Scope::Function(f), rest @ ..] => (Some((None, f.as_str())), rest),
            // A method of a module-level class, as `Class.method` (Django's `ready`).
            [Scope::Class(c), Scope::Function(m), rest @ ..] => {
                (Some((Some(c.as_str()), m.as_str())), rest)
            }
            all => (None, all),
        };
        rest.iter()
            .all(|s| matches!(s, Scope::Class(_)))
            .then_some(first)
    }

    /// Records a call of a name or a dotted attribute of one, when module-level code or a
    /// module-level function makes it.
    fn note_call(&mut self, call: &ast::ExprCall) {
        if self.lambdas > 0 || self.type_checking {
            return;
        }
        if self.owner_scope().is_none() {
            return;
        }
        // Only a dotted name is recorded; its string is built once the call is known to be
        // kept (most are not: see `callable`).
        let Some(head) = chain_head(&call.func) else {
            return;
        };
        let last = match &*call.func {
            Expr::Attribute(a) => a.attr.as_str(),
            _ => head,
        };
        // `Celery("proj", include=[…])`, `app.conf.update(imports=[…])`.
        let conf_update = last == "update"
            && matches!(&*call.func, Expr::Attribute(a)
                if matches!(&*a.value, Expr::Attribute(c) if c.attr.as_str() == "conf"));
        if conf_update || self.names.is(&call.func, "celery.Celery") {
            for keyword in &call.arguments.keywords {
                if let Some(setting) = keyword.arg.as_ref().map(|a| a.as_str())
                    && matches!(setting, "include" | "imports")
                {
                    self.note_celery_modules(setting, &keyword.value);
                }
            }
        }
        // What an event loop or a task runner is handed runs: calls it is given (their
        // coroutines), and functions it is given uncalled (`anyio.run(main)`).
        if COROUTINE_RUNNERS.contains(&last) {
            for arg in &call.arguments.args {
                match arg {
                    Expr::Call(inner) => {
                        self.awaited.insert(inner.range());
                    }
                    Expr::Name(_) | Expr::Attribute(_) => {
                        if let Some(function) = dotted(arg) {
                            self.note_run(&function, arg.range().start());
                        }
                    }
                    _ => {}
                }
            }
        }
        // What an ASGI application runs when its server starts it: `FastAPI(lifespan=f)`,
        // `Starlette(on_startup=[f, g])`.
        for keyword in &call.arguments.keywords {
            match (keyword.arg.as_ref().map(|a| a.as_str()), &keyword.value) {
                (Some("lifespan"), value) => {
                    self.lifespan = true;
                    if let Some(function) = dotted(value) {
                        self.note_run(&function, value.range().start());
                    }
                }
                (Some("on_startup"), Expr::List(list)) => {
                    for value in &list.elts {
                        if let Some(function) = dotted(value) {
                            self.note_run(&function, value.range().start());
                        }
                    }
                }
                _ => {}
            }
        }
        if !(self.callable)(head) {
            return;
        }
        let Some(callee) = dotted(&call.func) else {
            return;
        };
        let (line, column) = self.locator.line_column(call.range().start());
        let context = self.context(false);
        self.calls.push(CallSite {
            callee,
            line,
            column,
            context,
            awaited: self.awaited.contains(&call.range()),
        });
    }

    /// The string literals of a list or tuple that names modules a Celery worker imports.
    fn note_celery_modules(&mut self, setting: &str, value: &Expr) {
        let elts = match value {
            Expr::List(l) => &l.elts,
            Expr::Tuple(t) => &t.elts,
            _ => return,
        };
        for elt in elts {
            if let Some(module) = crate::condition::string_literal(elt) {
                let (line, column) = self.locator.line_column(elt.range().start());
                self.celery_modules.push(ConfigModule {
                    module,
                    setting: setting.to_string(),
                    line,
                    column,
                });
            }
        }
    }

    /// Records that `function` is called and its coroutine run by something it is handed to
    /// here (an event loop, a server's lifespan).
    fn note_run(&mut self, function: &str, at: ruff_text_size::TextSize) {
        let (line, column) = self.locator.line_column(at);
        let context = self.context(false);
        self.calls.push(CallSite {
            callee: function.to_string(),
            line,
            column,
            context,
            awaited: true,
        });
    }

    /// The function's name, when directly inside a module-level function.
    fn function_name(&self) -> Option<String> {
        match self.scopes.as_slice() {
            [Scope::Function(f)] => Some(f.clone()),
            _ => None,
        }
    }

    /// The enclosing scopes as one string, for [`Self::chain_vars`]: empty at module level.
    fn scope_key(&self) -> String {
        let mut key = String::new();
        for scope in &self.scopes {
            let (kind, name) = match scope {
                Scope::Module => ('m', ""),
                Scope::Function(f) => ('f', f.as_str()),
                Scope::Class(c) => ('c', c.as_str()),
            };
            key.push(kind);
            key.push_str(name);
            key.push('\0');
        }
        key
    }

    /// A binding of `name` in the current scope by an import (site `index`) or otherwise.
    fn chain_bind(&mut self, name: &str, import: Option<usize>, none: bool) {
        let guarded = self.guarded();
        let entry = self
            .chain_vars
            .entry((self.scope_key(), name.to_string()))
            .or_default();
        match import {
            Some(i) if guarded && entry.none_first => entry.alternatives.push(i),
            None if none && entry.alternatives.is_empty() && !entry.none_first => {
                entry.none_first = true;
            }
            _ => entry.spoiled = true,
        }
    }

    /// `if V: ... else: raise` (every later arm raising) or `if not V: raise` where `V` heads a
    /// fallback chain.
    fn fallback_raise(&mut self, stmt: &ast::StmtIf) {
        let raises = |body: &[Stmt]| body.iter().any(Stmt::is_raise_stmt);
        let var = match &*stmt.test {
            Expr::Name(n)
                if !raises(&stmt.body)
                    && stmt
                        .elif_else_clauses
                        .last()
                        .is_some_and(|c| c.test.is_none())
                    && stmt.elif_else_clauses.iter().all(|c| raises(&c.body)) =>
            {
                n.id.as_str()
            }
            Expr::UnaryOp(u) if u.op == ast::UnaryOp::Not && raises(&stmt.body) => {
                match &*u.operand {
                    Expr::Name(n) => n.id.as_str(),
                    _ => return,
                }
            }
            _ => return,
        };
        let Some(chain) = self.chain_vars.get(&(self.scope_key(), var.to_string())) else {
            return;
        };
        if !chain.none_first || chain.spoiled || chain.alternatives.is_empty() {
            return;
        }
        let alternatives = chain.alternatives.clone();
        let (line, column) = self.locator.line_column(stmt.range.start());
        self.fallbacks.push(Fallback {
            var: var.to_string(),
            alternatives,
            line,
            column,
            context: self.context(false),
        });
    }

    /// `if not NAME: raise ...` (or `NAME is None`, or the `find_library` call itself) after
    /// `NAME = find_library("X")`: the module raises when the library is not found.
    fn require_found(&mut self, stmt: &ast::StmtIf) {
        if !stmt.body.iter().any(Stmt::is_raise_stmt) {
            return;
        }
        let operand = match &*stmt.test {
            Expr::UnaryOp(u) if u.op == ast::UnaryOp::Not => &*u.operand,
            Expr::Compare(c)
                if matches!(&*c.ops, [ast::CmpOp::Is | ast::CmpOp::Eq])
                    && matches!(&*c.comparators, [Expr::NoneLiteral(_)]) =>
            {
                &*c.left
            }
            _ => return,
        };
        let found =
            ctypes_loads::find_library_call(operand, &self.names).or_else(|| match operand {
                Expr::Name(n) => match self.lib_vars.get(n.id.as_str()) {
                    Some(LibValue::Found(x)) => Some(x.clone()),
                    _ => None,
                },
                _ => None,
            });
        if let Some(name) = found {
            self.push_load(LoadTarget::RequireFound(name), stmt.range);
        } else if let Expr::Name(n) = operand
            && let Some(via) = self.finder_vars.get(n.id.as_str()).cloned()
        {
            self.push_load(LoadTarget::RequireFoundVia(via), stmt.range);
        }
    }

    /// What `handler` catches: nothing when it re-raises.
    fn handler_caught(&self, handler: &ExceptHandler) -> Caught {
        let ExceptHandler::ExceptHandler(handler) = handler;
        // `except ImportError: raise SomethingElse(...)` still fails the import.
        if handler.body.iter().any(Stmt::is_raise_stmt) {
            return Caught::NOTHING;
        }
        handler
            .type_
            .as_deref()
            .map_or(Caught::EVERYTHING, |t| self.classes_caught(t))
    }

    /// What an `except` clause's type expression (a class or a tuple of them) catches.
    fn classes_caught(&self, expr: &Expr) -> Caught {
        if let Expr::Tuple(tuple) = expr {
            return tuple
                .elts
                .iter()
                .fold(Caught::NOTHING, |c, e| c | self.classes_caught(e));
        }
        self.names.qualified(expr).map_or(Caught::NOTHING, |n| {
            Caught::by_class(n.strip_prefix("builtins.").unwrap_or(&n))
        })
    }

    fn push_site(
        &mut self,
        kind: ImportKind,
        range: TextRange,
        statement: String,
        target: Option<TextRange>,
        lazy: bool,
    ) {
        let (line, column) = self.locator.line_column(range.start());
        self.sites.push(ImportSite {
            kind,
            line,
            column,
            end_column: self.locator.first_line_end_column(range),
            statement,
            target: target.map(|t| self.locator.span(t)),
            context: self.context(lazy),
        });
    }

    fn import(&mut self, stmt: &ast::StmtImport) {
        for alias in &stmt.names {
            let module = alias.name.as_str();
            // Error recovery produces empty names; there is nothing to import.
            if module.is_empty() {
                continue;
            }
            let mut statement = format!("import {module}");
            if let Some(asname) = &alias.asname {
                let _ = write!(statement, " as {}", asname.as_str());
            }
            self.push_site(
                ImportKind::Import {
                    module: module.to_owned(),
                },
                stmt.range,
                statement,
                Some(alias.range),
                stmt.is_lazy,
            );
            let local = alias
                .asname
                .as_ref()
                .map_or_else(
                    || module.split('.').next().unwrap_or(module),
                    |a| a.as_str(),
                )
                .to_string();
            self.chain_bind(&local, Some(self.sites.len() - 1), false);
        }
        self.names.record_import(stmt);
    }

    fn import_from(&mut self, stmt: &ast::StmtImportFrom) {
        let module = stmt
            .module
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .filter(|m| !m.is_empty());
        if stmt.level == 0 && module.is_none() {
            return;
        }
        let dots = ".".repeat(usize::try_from(stmt.level).unwrap_or(0));
        let from = format!("from {dots}{}", module.as_deref().unwrap_or_default());
        for alias in &stmt.names {
            let name = alias.name.as_str();
            if name.is_empty() {
                continue;
            }
            let mut statement = format!("{from} import {name}");
            if let Some(asname) = &alias.asname {
                let _ = write!(statement, " as {}", asname.as_str());
            }
            self.push_site(
                ImportKind::From {
                    module: module.clone(),
                    level: stmt.level,
                    name: name.to_owned(),
                },
                stmt.range,
                statement,
                Some(alias.range),
                stmt.is_lazy,
            );
            let local = alias
                .asname
                .as_ref()
                .map_or(name, |a| a.as_str())
                .to_string();
            self.chain_bind(&local, Some(self.sites.len() - 1), false);
            if self.scopes.is_empty() && name != "*" {
                self.fn_aliases.insert(
                    local,
                    FinderRef {
                        level: stmt.level,
                        module: module.clone(),
                        function: name.to_string(),
                    },
                );
            }
        }
        self.names.record_import_from(stmt);
    }

    fn dynamic_import(&mut self, call: &ast::ExprCall) {
        let is_import_module = self.names.is(&call.func, "importlib.import_module");
        let is_dunder = self.names.is_any(
            &call.func,
            &["__import__", "importlib.__import__", "builtins.__import__"],
        );
        if !is_import_module && !is_dunder {
            return;
        }
        let module_expr = argument(call, 0, "name");
        let module = module_expr.and_then(condition::string_literal);
        let package_expr = if is_import_module {
            argument(call, 1, "package")
        } else {
            None
        };
        let package = package_expr.and_then(condition::string_literal);
        let package_arg = match package_expr {
            None => PackageArg::Absent,
            Some(_) if package.is_some() => PackageArg::Literal,
            Some(Expr::Name(n)) if n.id.as_str() == "__name__" => PackageArg::DunderName,
            Some(Expr::Name(n)) if n.id.as_str() == "__package__" => PackageArg::DunderPackage,
            Some(_) => PackageArg::Other,
        };
        let statement = match (&module, is_import_module) {
            (Some(m), true) => match &package {
                Some(p) => format!(
                    "import importlib; importlib.import_module({}, package={})",
                    py_str(m),
                    py_str(p)
                ),
                None => format!("import importlib; importlib.import_module({})", py_str(m)),
            },
            (Some(m), false) => format!("__import__({})", py_str(m)),
            (None, _) => one_line(
                self.locator
                    .source()
                    .get(call.range().start().to_usize()..call.range().end().to_usize())
                    .unwrap_or_default(),
            ),
        };
        self.push_site(
            ImportKind::Dynamic {
                module,
                package,
                package_arg,
            },
            call.range(),
            statement,
            module_expr.map(Ranged::range),
            false,
        );
    }

    fn note_namespace_call(&mut self, call: &ast::ExprCall) {
        let at_module = self.scope() == Scope::Module;
        if let Expr::Attribute(attr) = &*call.func {
            let method = attr.attr.as_str();
            if matches!(method, "update" | "setdefault" | "__setitem__")
                && self.is_namespace_dict(&attr.value, at_module)
            {
                self.dynamic_namespace = true;
            }
            if matches!(method, "append" | "extend" | "insert")
                && matches!(&*attr.value, Expr::Name(n) if n.id.as_str() == "__path__")
            {
                self.dynamic_namespace = true;
            }
        }
        // `IntEnum._convert_('VerifyFlags', __name__, ...)` (ssl, signal, socket; `_convert`
        // before 3.8) creates an enum and its members in the module named by `__name__`.
        if at_module
            && let Expr::Attribute(attr) = &*call.func
            && matches!(attr.attr.as_str(), "_convert_" | "_convert")
            && call
                .arguments
                .args
                .iter()
                .chain(call.arguments.keywords.iter().map(|k| &k.value))
                .any(|arg| matches!(arg, Expr::Name(n) if n.id.as_str() == "__name__"))
        {
            self.dynamic_namespace = true;
        }
        // Handing the namespace to other code (`exec(src, globals())`,
        // `install(globals())`) lets it bind anything.
        let hands_out_namespace = call
            .arguments
            .args
            .iter()
            .chain(call.arguments.keywords.iter().map(|k| &k.value))
            .any(|arg| self.is_namespace_dict(arg, at_module));
        if hands_out_namespace {
            self.dynamic_namespace = true;
        }
        // An import hook (`sys.meta_path.append(finder)`, six's `six.moves`): the finder can
        // serve modules no file holds, so the module's submodules cannot be judged from files.
        if let Expr::Attribute(attr) = &*call.func
            && matches!(attr.attr.as_str(), "append" | "insert" | "extend")
            && self
                .names
                .is_any(&attr.value, &["sys.meta_path", "sys.path_hooks"])
        {
            self.import_hook = true;
        }
        if at_module && self.names.is(&call.func, "exec") {
            self.dynamic_namespace = true;
        }
        if self.names.is(&call.func, "setattr")
            && let Some(Expr::Subscript(sub)) = call.arguments.args.first()
            && self.names.is(&sub.value, "sys.modules")
        {
            self.dynamic_namespace = true;
        }
    }

    /// `globals()`, or at module level also `vars()` / `locals()`.
    fn is_namespace_dict(&self, expr: &Expr, at_module: bool) -> bool {
        if let Expr::Name(n) = expr {
            return self.namespace_aliases.contains(n.id.as_str());
        }
        let Expr::Call(call) = expr else {
            return false;
        };
        if !call.arguments.args.is_empty() || !call.arguments.keywords.is_empty() {
            return false;
        }
        if self
            .names
            .is_any(&call.func, &["globals", "builtins.globals"])
        {
            return true;
        }
        at_module && self.names.is_any(&call.func, &["vars", "locals"])
    }

    /// `Some(false)` for tests that are never true at runtime (`TYPE_CHECKING`,
    /// `False`, `0`), `Some(true)` for always-true ones.
    fn static_truth(&self, test: &Expr) -> Option<bool> {
        match test {
            Expr::BooleanLiteral(b) => Some(b.value),
            Expr::NumberLiteral(n) => condition::int_literal(n).map(|v| v != 0),
            Expr::UnaryOp(ast::ExprUnaryOp {
                op: ast::UnaryOp::Not,
                operand,
                ..
            }) => self.static_truth(operand).map(|v| !v),
            Expr::Name(_) | Expr::Attribute(_) => {
                let name = self.names.qualified(test)?;
                (name == "TYPE_CHECKING" || name.ends_with(".TYPE_CHECKING")).then_some(false)
            }
            _ => None,
        }
    }

    fn guarded(&self) -> bool {
        self.caught.contains(Caught::MISSING_MODULE)
    }

    /// What a `with suppress(...)` item catches.
    fn suppressed(&self, item: &ast::WithItem) -> Caught {
        let Expr::Call(call) = &item.context_expr else {
            return Caught::NOTHING;
        };
        if !matches!(
            self.names.qualified(&call.func).as_deref(),
            Some("contextlib.suppress" | "suppress")
        ) {
            return Caught::NOTHING;
        }
        call.arguments
            .args
            .iter()
            .fold(Caught::NOTHING, |c, a| c | self.classes_caught(a))
    }

    /// Visits `body` as one arm of an `if`.
    fn visit_arm<'a>(&mut self, body: &'a [Stmt], condition: Condition, dead: bool)
    where
        Self: Visitor<'a>,
    {
        let saved = self.type_checking;
        self.type_checking |= dead;
        self.conditions.push(condition);
        self.visit_body(body);
        self.conditions.pop();
        self.type_checking = saved;
    }

    fn visit_if<'a>(&mut self, stmt: &'a ast::StmtIf)
    where
        Self: Visitor<'a>,
    {
        self.visit_expr(&stmt.test);
        self.require_found(stmt);
        self.fallback_raise(stmt);
        let truth = self.static_truth(&stmt.test);
        let test = condition::recognise(&stmt.test, &self.names);
        // `if find_spec("x"):` guards the body; `if find_spec("x") is None:` the other arms.
        let spec_test = self.find_spec_test(&stmt.test);
        let saved_caught = self.caught;
        if spec_test == Some(true) {
            self.caught |= Caught::MISSING_MODULE;
        }
        let saved_main = self.main_only;
        let main_test = dunder_main_test(&stmt.test);
        if main_test.is_some() {
            self.main_only = main_test;
        }
        if main_test.is_some() {
            // Decided per module by `main_only`, not an unknown condition.
            self.visit_body(&stmt.body);
        } else {
            // `if not TYPE_CHECKING and __name__ == "__main__":` (Cython's `cython.py`): the
            // body runs only as `__main__`; the other arms are not decided by it.
            if requires_main(&stmt.test) {
                self.main_only = Some(true);
            }
            self.visit_arm(
                &stmt.body,
                Test::in_branch(test.as_ref(), Branch::Body),
                truth == Some(false),
            );
            self.main_only = saved_main;
        }
        if let Some(m) = main_test {
            self.main_only = Some(!m);
        }
        self.caught = saved_caught;
        if spec_test == Some(false) {
            self.caught |= Caught::MISSING_MODULE;
        }

        // Every later arm runs only when the earlier tests were false.
        let saved = self.type_checking;
        let depth = self.conditions.len();
        if main_test.is_none() {
            self.conditions
                .push(Test::in_branch(test.as_ref(), Branch::Else));
        }
        self.type_checking |= truth == Some(true);
        for clause in &stmt.elif_else_clauses {
            match &clause.test {
                Some(elif) => {
                    self.visit_expr(elif);
                    let truth = self.static_truth(elif);
                    let test = condition::recognise(elif, &self.names);
                    self.visit_arm(
                        &clause.body,
                        Test::in_branch(test.as_ref(), Branch::Body),
                        truth == Some(false),
                    );
                    self.conditions
                        .push(Test::in_branch(test.as_ref(), Branch::Else));
                    self.type_checking |= truth == Some(true);
                }
                None => self.visit_body(&clause.body),
            }
        }
        self.conditions.truncate(depth);
        self.type_checking = saved;
        self.caught = saved_caught;
        self.main_only = saved_main;
    }

    /// `Some(true)` when `test` is true only if a module is found (`find_spec(...)`,
    /// `find_spec(...) is not None`), `Some(false)` for the negation (`... is None`,
    /// `not find_spec(...)`): an import in the arm that runs when the module exists is
    /// effectively guarded by the test.
    fn find_spec_test(&self, test: &Expr) -> Option<bool> {
        match test {
            Expr::Call(call) => matches!(
                self.names.qualified(&call.func).as_deref(),
                Some("importlib.util.find_spec" | "find_spec")
            )
            .then_some(true),
            Expr::UnaryOp(ast::ExprUnaryOp {
                op: ast::UnaryOp::Not,
                operand,
                ..
            }) => self.find_spec_test(operand).map(|v| !v),
            Expr::Compare(cmp) if cmp.ops.len() == 1 && cmp.comparators.len() == 1 => {
                let is_none = matches!(cmp.comparators[0], Expr::NoneLiteral(_));
                let inner = self.find_spec_test(&cmp.left)?;
                match cmp.ops[0] {
                    ast::CmpOp::IsNot | ast::CmpOp::NotEq if is_none => Some(inner),
                    ast::CmpOp::Is | ast::CmpOp::Eq if is_none => Some(!inner),
                    _ => None,
                }
            }
            Expr::BoolOp(b) if b.op == ast::BoolOp::And => b
                .values
                .iter()
                .any(|v| self.find_spec_test(v) == Some(true))
                .then_some(true),
            _ => None,
        }
    }
}

impl<'a> Visitor<'a> for Extractor<'_, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => self.import(import),
            Stmt::ImportFrom(import) => self.import_from(import),
            Stmt::FunctionDef(def) => {
                for decorator in &def.decorator_list {
                    self.visit_decorator(decorator);
                }
                // `@app.on_event("startup")`: the ASGI server's lifespan startup runs it.
                if self.scopes.is_empty()
                    && def
                        .decorator_list
                        .iter()
                        .any(|d| is_startup_hook(&d.expression))
                {
                    let before = self.calls.len();
                    self.note_run(def.name.as_str(), def.range().start());
                    let hook = self.calls.split_off(before);
                    self.startup_hooks.extend(hook);
                }
                if let Some(type_params) = &def.type_params {
                    self.visit_type_params(type_params);
                }
                self.visit_parameters(&def.parameters);
                if let Some(returns) = &def.returns {
                    self.visit_annotation(returns);
                }
                // The body runs when called, outside any enclosing `try`.
                let saved_caught = std::mem::take(&mut self.caught);
                let saved_handler = std::mem::replace(&mut self.handler, false);
                // A module-level function, or a method of a module-level class
                // (`Class.method`).
                let qualified = match self.scopes.as_slice() {
                    [] => Some(def.name.to_string()),
                    [Scope::Class(c)] => Some(format!("{c}.{}", def.name)),
                    _ => None,
                };
                self.scopes
                    .push(Scope::Function(def.name.as_str().to_owned()));
                self.yields.push(false);
                self.visit_body(&def.body);
                self.scopes.pop();
                let generator = self.yields.pop().unwrap_or(false);
                if let Some(name) = qualified {
                    let p = &def.parameters;
                    let bare_call = p
                        .posonlyargs
                        .iter()
                        .chain(&p.args)
                        .chain(&p.kwonlyargs)
                        .all(|a| a.default.is_some());
                    self.functions.push(FunctionDef {
                        name,
                        bare_call,
                        generator,
                        coroutine: def.is_async,
                    });
                }
                self.caught = saved_caught;
                self.handler = saved_handler;
            }
            Stmt::ClassDef(class) => {
                // `@enum.global_enum` (re's `RegexFlag` from 3.11: `re.IGNORECASE`) copies the
                // enum's members into its module's namespace.
                if self.scope() == Scope::Module
                    && class.decorator_list.iter().any(|d| {
                        let target = match &d.expression {
                            Expr::Call(call) => &*call.func,
                            other => other,
                        };
                        self.names
                            .qualified(target)
                            .is_some_and(|q| q == "global_enum" || q.ends_with(".global_enum"))
                    })
                {
                    self.dynamic_namespace = true;
                }
                visit_class_header(self, class);
                self.scopes
                    .push(Scope::Class(class.name.as_str().to_owned()));
                self.visit_body(&class.body);
                self.scopes.pop();
            }
            Stmt::Try(try_stmt) => {
                let caught = try_stmt
                    .handlers
                    .iter()
                    .fold(Caught::NOTHING, |c, h| c | self.handler_caught(h));
                let guards = caught.contains(Caught::MISSING_MODULE);
                let saved_caught = self.caught;
                self.caught |= caught;
                // A body of imports alone: its handlers run only if one of them fails.
                let shim = (guards && imports_only(&try_stmt.body))
                    .then(|| u32::from(try_stmt.range.start()));
                let saved_try = std::mem::replace(&mut self.try_body, shim);
                self.visit_body(&try_stmt.body);
                self.try_body = saved_try;
                self.caught = saved_caught;
                let saved_handler = std::mem::replace(&mut self.handler, true);
                self.fallback_of.extend(shim);
                for handler in &try_stmt.handlers {
                    self.visit_except_handler(handler);
                }
                if shim.is_some() {
                    self.fallback_of.pop();
                }
                // The `else` arm runs only when the body raised nothing: after a guarded import
                // it is the other outcome of the same test (SQLAlchemy imports its greenlet
                // support there only when `import greenlet` worked).
                self.handler = saved_handler || guards;
                self.visit_body(&try_stmt.orelse);
                self.handler = saved_handler;
                self.visit_body(&try_stmt.finalbody);
            }
            Stmt::If(if_stmt) => self.visit_if(if_stmt),
            Stmt::Return(ret) => {
                if let (Some(function), Some(value)) = (self.function_name(), ret.value.as_deref())
                {
                    match value {
                        Expr::Name(n) => {
                            self.returned.insert((function, n.id.to_string()));
                        }
                        v => {
                            if let Some(x) = ctypes_loads::find_library_call(v, &self.names) {
                                self.finder_candidates.push((
                                    function,
                                    None,
                                    self.conditions.clone(),
                                    x,
                                ));
                            }
                        }
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Expr(e) => {
                if self.scopes.is_empty()
                    && let Expr::Call(call) = &*e.value
                    && let Expr::Name(f) = &*call.func
                {
                    self.called_at_import.push(f.id.to_string());
                }
                if self.scopes.is_empty()
                    && let Expr::Call(call) = &*e.value
                {
                    self.path_edit(call);
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Assign(assign) => {
                // `namespace = globals()`: writes through the alias (`namespace[name] = cls`,
                // fontTools' table classes) write the module's names; reads (os's `_globals`)
                // do not.
                if let [Expr::Name(alias)] = &*assign.targets
                    && self.is_namespace_dict(&assign.value, self.scope() == Scope::Module)
                {
                    self.namespace_aliases.insert(alias.id.to_string());
                }
                // `app.conf.include = […]`: what a Celery worker imports when it starts.
                if self.scopes.is_empty()
                    && let [Expr::Attribute(target)] = &*assign.targets
                    && matches!(target.attr.as_str(), "include" | "imports")
                    && matches!(&*target.value, Expr::Attribute(conf) if conf.attr.as_str() == "conf")
                {
                    self.note_celery_modules(target.attr.as_str(), &assign.value);
                }
                // `BASE_DIR = Path(__file__).resolve().parent`, for existence tests.
                if self.scopes.is_empty()
                    && let [target] = &*assign.targets
                {
                    self.names.record_assign(target, &assign.value);
                    if let Expr::Name(n) = target {
                        let value =
                            ctypes_loads::lib_value(&assign.value, &self.names, &self.lib_vars);
                        let first = !self.lib_vars.seen(n.id.as_str());
                        self.lib_vars.bind(n.id.as_str(), value);
                        match self.finder_call(&assign.value) {
                            Some(via) if first => {
                                self.finder_vars.insert(n.id.to_string(), via);
                            }
                            _ => {
                                self.finder_vars.remove(n.id.as_str());
                            }
                        }
                    }
                }
                if let [Expr::Name(n)] = &*assign.targets {
                    let none = assign.value.is_none_literal_expr();
                    self.chain_bind(n.id.as_str(), None, none);
                    if let Some(function) = self.function_name()
                        && let Some(x) = ctypes_loads::find_library_call(&assign.value, &self.names)
                    {
                        self.finder_candidates.push((
                            function,
                            Some(n.id.to_string()),
                            self.conditions.clone(),
                            x,
                        ));
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::With(with) => {
                for item in &with.items {
                    self.visit_with_item(item);
                }
                let saved_caught = self.caught;
                for item in &with.items {
                    self.caught |= self.suppressed(item);
                }
                self.visit_body(&with.body);
                self.caught = saved_caught;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(call) => {
                self.note_call(call);
                self.dynamic_import(call);
                self.note_namespace_call(call);
                self.ctypes_load(expr);
            }
            Expr::Attribute(a) if a.ctx == ExprContext::Load => self.ctypes_load(expr),
            Expr::Subscript(sub) if sub.ctx == ExprContext::Load => self.ctypes_load(expr),
            Expr::Lambda(_) => {
                let saved_caught = std::mem::take(&mut self.caught);
                self.lambdas += 1;
                visitor::walk_expr(self, expr);
                self.lambdas -= 1;
                self.caught = saved_caught;
                return;
            }
            Expr::Await(a) => {
                if let Expr::Call(inner) = &*a.value {
                    self.awaited.insert(inner.range());
                }
            }
            Expr::Yield(_) | Expr::YieldFrom(_) => {
                // A lambda's `yield` makes the lambda a generator, not the function.
                if self.lambdas == 0
                    && matches!(self.scopes.last(), Some(Scope::Function(_)))
                    && let Some(y) = self.yields.last_mut()
                {
                    *y = true;
                }
            }
            Expr::Subscript(sub) if sub.ctx == ExprContext::Store => {
                let at_module = self.scope() == Scope::Module;
                // A module `__getattr__` caching what it serves (typing's
                // `globals()[attr] = obj`) writes only the names it serves, which the
                // `__getattr__` analysis knows.
                let in_getattr =
                    matches!(self.scopes.as_slice(), [Scope::Function(f)] if f == "__getattr__");
                if self.is_namespace_dict(&sub.value, at_module) {
                    self.dynamic_namespace |= !in_getattr;
                } else if self.names.is(&sub.value, "sys.modules") {
                    if may_be_self(&sub.slice) {
                        self.dynamic_namespace = true;
                    } else {
                        self.dynamic_submodules = true;
                    }
                }
            }
            Expr::Name(name)
                if name.ctx == ExprContext::Store && name.id.as_str() == "__path__" =>
            {
                self.dynamic_namespace = true;
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// Positional argument `index`, else keyword `keyword`.
pub(crate) fn argument<'a>(
    call: &'a ast::ExprCall,
    index: usize,
    keyword: &str,
) -> Option<&'a Expr> {
    call.arguments.args.get(index).or_else(|| {
        call.arguments
            .keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == keyword))
            .map(|k| &k.value)
    })
}

/// A Python string literal for `s`, so generated statements are valid Python.
fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A `try` body that can raise nothing but what its imports raise: import statements, `pass`,
/// a docstring, and names bound to constants or other names (`HAS_UJSON = True`), with at
/// least one import.
fn imports_only(body: &[Stmt]) -> bool {
    let plain = |e: &Expr| matches!(e, Expr::Name(_)) || e.is_literal_expr();
    body.iter()
        .any(|s| matches!(s, Stmt::Import(_) | Stmt::ImportFrom(_)))
        && body.iter().all(|s| match s {
            Stmt::Import(_) | Stmt::ImportFrom(_) | Stmt::Pass(_) => true,
            Stmt::Expr(e) => e.value.is_literal_expr(),
            Stmt::Assign(a) => {
                a.targets.iter().all(|t| matches!(t, Expr::Name(_))) && plain(&a.value)
            }
            Stmt::AnnAssign(a) => {
                matches!(&*a.target, Expr::Name(_)) && a.value.as_deref().is_none_or(plain)
            }
            _ => false,
        })
}
