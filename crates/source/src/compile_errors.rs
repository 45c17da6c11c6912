//! Errors CPython raises while compiling a module its parser accepts: the symbol table and the
//! compiler refuse `from m import *` inside a function, a `__future__` import after other
//! statements or naming an unknown feature, `return` or `break` where they cannot be, a name
//! used before its `global` declaration, duplicate parameters, and a few more. Importing such a
//! module raises `SyntaxError` as surely as a parse error does, so they count as syntax errors.
//!
//! The parser crate's `SemanticSyntaxChecker` knows the rules; it asks its caller for the scope
//! facts (which scope the visit is in, the parameters and `global` declarations there, whether
//! a loop encloses). This walk supplies them, and keeps only the kinds CPython raises on every
//! version importgate models: a kind that depends on the version, or on facts this walk does
//! not track (`await` contexts, bindings of enclosing scopes), is dropped rather than guessed.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
use ruff_python_ast::{self as ast, Expr, PythonVersion, Stmt};
use ruff_python_parser::semantic_errors::{
    LazyImportContext, SemanticSyntaxChecker, SemanticSyntaxContext, SemanticSyntaxError,
    SemanticSyntaxErrorKind as Kind, WriteToDebugKind,
};
use ruff_text_size::{TextRange, TextSize};

/// The compile-time errors of a module, in source order: where, and CPython's message for it
/// as the parser crate words it.
pub(crate) fn find(body: &[Stmt], source: &str) -> Vec<(TextSize, String)> {
    let mut walk = Walk {
        checker: SemanticSyntaxChecker::new(),
        source,
        scopes: vec![Scope::new(ScopeKind::Module, body)],
        errors: RefCell::new(Vec::new()),
    };
    for stmt in body {
        walk.visit_stmt(stmt);
    }
    let mut found: Vec<(TextSize, String)> = walk
        .errors
        .into_inner()
        .into_iter()
        .filter(|e| raised_by_every_version(&e.kind))
        .map(|e| (e.range.start(), e.to_string()))
        .collect();
    found.sort_by_key(|(at, _)| *at);
    found
}

/// The kinds CPython 3.6–3.13 all refuse at compile time wherever the syntax they sit in
/// exists (`match`, walrus, type parameters: a version without those fails to parse the module
/// anyway).
fn raised_by_every_version(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::NonModuleImportStar(_)
            | Kind::LateFutureImport
            | Kind::FutureFeatureNotDefined(_)
            | Kind::ReturnOutsideFunction
            | Kind::BreakOutsideLoop
            | Kind::ContinueOutsideLoop
            | Kind::DuplicateParameter(_)
            | Kind::DuplicateKeywordArgument(_)
            | Kind::NonlocalDeclarationAtModuleLevel
            | Kind::GlobalParameter(_)
            | Kind::NonlocalParameter(_)
            | Kind::LoadBeforeGlobalDeclaration { .. }
            | Kind::AnnotatedGlobal(_)
            | Kind::SingleStarredAssignment
            | Kind::MultipleStarredExpressions
            | Kind::WriteToDebug(WriteToDebugKind::Store)
            | Kind::ReturnInGenerator
            | Kind::MultipleCaseAssignment(_)
            | Kind::IrrefutableCasePattern(_)
            | Kind::MultipleStarredNamesInSequencePattern
            | Kind::DifferentMatchPatternBindings
            | Kind::DuplicateMatchClassAttribute(_)
            | Kind::NamedExpressionInComprehensionIterable
            | Kind::ReboundComprehensionVariable
            | Kind::NamedExpressionInClassBodyComprehension
            | Kind::DuplicateTypeParameter
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Module,
    Class,
    Function { is_async: bool },
    Lambda,
    Comprehension { generator: bool },
}

struct Scope {
    kind: ScopeKind,
    params: HashSet<String>,
    /// Each name's first `global` declaration in this scope: CPython refuses a use before it,
    /// wherever in the scope the declaration sits.
    globals: HashMap<String, TextRange>,
    /// Loops of this scope around the visit (a nested function starts outside any).
    loops: u32,
}

impl Scope {
    fn new(kind: ScopeKind, body: &[Stmt]) -> Self {
        let mut globals = HashMap::new();
        collect_globals(body, &mut globals);
        Scope {
            kind,
            params: HashSet::new(),
            globals,
            loops: 0,
        }
    }
}

/// `global` statements of one scope: its body and the blocks in it, not nested scopes.
fn collect_globals(body: &[Stmt], out: &mut HashMap<String, TextRange>) {
    for stmt in body {
        match stmt {
            Stmt::Global(g) => {
                for name in &g.names {
                    out.entry(name.to_string()).or_insert(g.range);
                }
            }
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::If(s) => {
                collect_globals(&s.body, out);
                for clause in &s.elif_else_clauses {
                    collect_globals(&clause.body, out);
                }
            }
            Stmt::For(s) => {
                collect_globals(&s.body, out);
                collect_globals(&s.orelse, out);
            }
            Stmt::While(s) => {
                collect_globals(&s.body, out);
                collect_globals(&s.orelse, out);
            }
            Stmt::With(s) => collect_globals(&s.body, out),
            Stmt::Try(s) => {
                collect_globals(&s.body, out);
                for handler in &s.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = handler;
                    collect_globals(&h.body, out);
                }
                collect_globals(&s.orelse, out);
                collect_globals(&s.finalbody, out);
            }
            Stmt::Match(s) => {
                for case in &s.cases {
                    collect_globals(&case.body, out);
                }
            }
            _ => {}
        }
    }
}

struct Walk<'s> {
    checker: SemanticSyntaxChecker,
    source: &'s str,
    scopes: Vec<Scope>,
    errors: RefCell<Vec<SemanticSyntaxError>>,
}

impl Walk<'_> {
    fn scope(&self) -> &Scope {
        // The module scope is never popped.
        &self.scopes[self.scopes.len() - 1]
    }

    fn scope_mut(&mut self) -> &mut Scope {
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// Runs the checker with `self` as its context (the checker keeps state of its own: the
    /// `__future__` boundary).
    fn check(&mut self, run: impl FnOnce(&mut SemanticSyntaxChecker, &Self)) {
        let mut checker = std::mem::take(&mut self.checker);
        run(&mut checker, self);
        self.checker = checker;
    }

    fn in_scope(&mut self, scope: Scope, visit: impl FnOnce(&mut Self)) {
        self.scopes.push(scope);
        visit(self);
        self.scopes.pop();
    }
}

fn param_names(parameters: &ast::Parameters) -> HashSet<String> {
    parameters.iter().map(|p| p.name().to_string()).collect()
}

impl<'a> Visitor<'a> for Walk<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        self.check(|checker, ctx| checker.visit_stmt(stmt, ctx));
        match stmt {
            Stmt::FunctionDef(def) => {
                for decorator in &def.decorator_list {
                    self.visit_decorator(decorator);
                }
                if let Some(type_params) = &def.type_params {
                    self.visit_type_params(type_params);
                }
                self.visit_parameters(&def.parameters);
                if let Some(returns) = &def.returns {
                    self.visit_annotation(returns);
                }
                let mut scope = Scope::new(
                    ScopeKind::Function {
                        is_async: def.is_async,
                    },
                    &def.body,
                );
                scope.params = param_names(&def.parameters);
                self.in_scope(scope, |walk| walk.visit_body(&def.body));
            }
            Stmt::ClassDef(class) => {
                crate::extract::visit_class_header(self, class);
                let scope = Scope::new(ScopeKind::Class, &class.body);
                self.in_scope(scope, |walk| walk.visit_body(&class.body));
            }
            Stmt::For(s) => {
                self.visit_expr(&s.target);
                self.visit_expr(&s.iter);
                self.scope_mut().loops += 1;
                self.visit_body(&s.body);
                self.scope_mut().loops -= 1;
                self.visit_body(&s.orelse);
            }
            Stmt::While(s) => {
                self.visit_expr(&s.test);
                self.scope_mut().loops += 1;
                self.visit_body(&s.body);
                self.scope_mut().loops -= 1;
                self.visit_body(&s.orelse);
            }
            _ => walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.check(|checker, ctx| checker.visit_expr(expr, ctx));
        match expr {
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    self.visit_parameters(parameters);
                }
                let mut scope = Scope::new(ScopeKind::Lambda, &[]);
                if let Some(parameters) = &lambda.parameters {
                    scope.params = param_names(parameters);
                }
                self.in_scope(scope, |walk| walk.visit_expr(&lambda.body));
            }
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                let scope = Scope::new(
                    ScopeKind::Comprehension {
                        generator: matches!(expr, Expr::Generator(_)),
                    },
                    &[],
                );
                self.in_scope(scope, |walk| walk_expr(walk, expr));
            }
            _ => walk_expr(self, expr),
        }
    }
}

impl SemanticSyntaxContext for Walk<'_> {
    fn future_annotations_or_stub(&self) -> bool {
        false
    }

    fn lazy_import_context(&self) -> Option<LazyImportContext> {
        None
    }

    fn python_version(&self) -> PythonVersion {
        // Only version-independent kinds are kept; the newest modelled version keeps the
        // checker from reporting syntax an older one lacks (that is `newer_syntax`'s job).
        PythonVersion::PY313
    }

    fn source(&self) -> &str {
        self.source
    }

    fn global(&self, name: &str) -> Option<TextRange> {
        match self.scope().kind {
            ScopeKind::Comprehension { .. } | ScopeKind::Lambda => None,
            _ => self.scope().globals.get(name).copied(),
        }
    }

    fn has_nonlocal_binding(&self, _name: &str) -> bool {
        // Not tracked: never report a `nonlocal` without a binding.
        true
    }

    fn in_async_context(&self) -> bool {
        self.scopes.iter().rev().find_map(|s| match s.kind {
            ScopeKind::Function { is_async } => Some(is_async),
            ScopeKind::Lambda => Some(false),
            _ => None,
        }) == Some(true)
    }

    fn in_await_allowed_context(&self) -> bool {
        true
    }

    fn in_yield_allowed_context(&self) -> bool {
        true
    }

    fn in_sync_comprehension(&self) -> bool {
        false
    }

    fn in_class_body_comprehension(&self) -> bool {
        // A comprehension being entered here, or nested in one, directly in a class body.
        for scope in self.scopes.iter().rev() {
            match scope.kind {
                ScopeKind::Comprehension { .. } => continue,
                ScopeKind::Class => return true,
                _ => return false,
            }
        }
        false
    }

    fn in_module_scope(&self) -> bool {
        self.scope().kind == ScopeKind::Module
    }

    fn in_function_scope(&self) -> bool {
        matches!(
            self.scope().kind,
            ScopeKind::Function { .. } | ScopeKind::Lambda
        )
    }

    fn in_generator_context(&self) -> bool {
        self.scope().kind == ScopeKind::Comprehension { generator: true }
    }

    fn in_notebook(&self) -> bool {
        false
    }

    fn report_semantic_error(&self, error: SemanticSyntaxError) {
        self.errors.borrow_mut().push(error);
    }

    fn in_loop_context(&self) -> bool {
        self.scope().loops > 0
    }

    fn is_bound_parameter(&self, name: &str) -> bool {
        matches!(
            self.scope().kind,
            ScopeKind::Function { .. } | ScopeKind::Lambda
        ) && self.scope().params.contains(name)
    }
}

/// `from __future__ import annotations` is a feature only from 3.7 on: 3.6 refuses it as
/// undefined.
pub(crate) fn newer_futures(
    body: &[Stmt],
    locator: &crate::Locator<'_>,
) -> Vec<crate::NewerSyntax> {
    body.iter()
        .filter_map(|stmt| match stmt {
            Stmt::ImportFrom(from) if from.module.as_deref() == Some("__future__") => Some(from),
            _ => None,
        })
        .flat_map(|from| from.names.iter())
        .filter(|alias| alias.name.as_str() == "annotations")
        .map(|alias| {
            let (line, column) = locator.line_column(alias.range.start());
            crate::NewerSyntax {
                since: (3, 7),
                what: "future feature annotations is not defined".to_string(),
                line,
                column,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::parse_module;

    /// Modules, the first version that parses them, and whether CPython refuses to compile
    /// them. Cross-checked against every CPython on this machine by the test below.
    const CASES: &[(&str, u32, bool)] = &[
        ("def f():\n    from os import *\n", 6, true),
        ("class C:\n    from os import *\n", 6, true),
        ("from os import *\ndef f():\n    pass\n", 6, false),
        (
            "'''doc'''\nfrom __future__ import annotations\nimport os\n",
            7,
            false,
        ),
        ("import os\nfrom __future__ import annotations\n", 7, true),
        ("x = 1\nfrom __future__ import division\n", 6, true),
        (
            "from __future__ import division\nfrom __future__ import print_function\n",
            6,
            false,
        ),
        ("def f():\n    from __future__ import division\n", 6, true),
        ("from __future__ import braces\n", 6, true),
        ("from __future__ import nonexistent_feature\n", 6, true),
        ("return 1\n", 6, true),
        ("class C:\n    return 1\n", 6, true),
        ("def f():\n    class C:\n        return 1\n", 6, true),
        ("def f():\n    return 1\n", 6, false),
        ("break\n", 6, true),
        ("for i in []:\n    break\nelse:\n    pass\n", 6, false),
        ("for i in []:\n    pass\nelse:\n    break\n", 6, true),
        ("while True:\n    def f():\n        continue\n", 6, true),
        ("while True:\n    if 1:\n        continue\n", 6, false),
        (
            "while True:\n    try:\n        pass\n    except Exception:\n        continue\n",
            6,
            false,
        ),
        ("def f(a, a):\n    pass\n", 6, true),
        ("lambda a, a: 0\n", 6, true),
        ("f(a=1, a=2)\n", 6, true),
        ("f(a=1, **{'a': 2})\n", 6, false),
        ("nonlocal x\n", 6, true),
        ("def f(a):\n    global a\n", 6, true),
        ("def f():\n    print(x)\n    global x\n", 6, true),
        ("def f():\n    global x\n    print(x)\n", 6, false),
        ("x = 1\nglobal x\n", 6, true),
        ("global x\nx = 1\n", 6, false),
        (
            "def f():\n    def g():\n        print(x)\n    global x\n",
            6,
            false,
        ),
        ("def f():\n    global x\n    x: int = 1\n", 6, true),
        ("*a = [1]\n", 6, true),
        ("*a, = [1]\n", 6, false),
        ("a, *b, *c = [1, 2, 3]\n", 6, true),
        ("__debug__ = 1\n", 6, true),
        ("async def f():\n    yield 1\n    return 2\n", 6, true),
        ("async def f():\n    yield 1\n    return\n", 6, false),
        ("[y := 1 for x in range(3)]\n", 8, false),
        ("[x := 1 for x in range(3)]\n", 8, true),
        ("[x for x in (y := [1])]\n", 8, true),
        ("class C:\n    [(y := 1) for x in range(3)]\n", 8, true),
        ("match x:\n    case [a, a]:\n        pass\n", 10, true),
        (
            "match x:\n    case y:\n        pass\n    case 1:\n        pass\n",
            10,
            true,
        ),
        (
            "match x:\n    case 1:\n        pass\n    case y:\n        pass\n",
            10,
            false,
        ),
        (
            "match x:\n    case [1, a] | [b, 2]:\n        pass\n",
            10,
            true,
        ),
        ("match x:\n    case [*a, *b]:\n        pass\n", 10, true),
        ("match x:\n    case C(a=1, a=2):\n        pass\n", 10, true),
        ("def f[T, T]():\n    pass\n", 12, true),
        ("def f[T]():\n    pass\n", 12, false),
        ("import os\nimport sys\n", 6, false),
    ];

    #[test]
    fn modules_the_compiler_refuses_are_syntax_errors() {
        for (source, _, refused) in CASES {
            let errors = parse_module(source).syntax_errors;
            assert_eq!(!errors.is_empty(), *refused, "{source:?}: {errors:?}");
        }
    }

    #[test]
    fn only_36_lacks_future_annotations() {
        let module = parse_module("from __future__ import annotations\n");
        assert!(module.syntax_errors.is_empty());
        assert_eq!(module.clone().for_version(3, 7).syntax_errors, vec![]);
        let old = module.for_version(3, 6).syntax_errors;
        assert_eq!(old.len(), 1, "{old:?}");
        assert_eq!(old[0].line, 1);
    }

    /// The table above is CPython's word: each interpreter on this machine compiles every case
    /// it can parse.
    #[test]
    fn the_table_agrees_with_cpython() {
        let interpreters = crate::tests::local_pythons();
        if interpreters.is_empty() {
            eprintln!("skipped: no CPython found on this machine to check the table against");
            return;
        }
        let script = "import json, sys\n\
            out = []\n\
            for src in json.load(sys.stdin):\n\
            \x20   try:\n\
            \x20       compile(src, 'm', 'exec')\n\
            \x20       out.append(False)\n\
            \x20   except SyntaxError:\n\
            \x20       out.append(True)\n\
            print(json.dumps(out))\n";
        for (python, minor) in interpreters {
            let cases: Vec<&(&str, u32, bool)> = CASES
                .iter()
                .filter(|(_, since, _)| *since <= minor)
                .collect();
            let sources: Vec<&str> = cases.iter().map(|(s, _, _)| *s).collect();
            let refused = crate::tests::run_python(
                &python,
                script,
                &serde_json::to_string(&sources).unwrap(),
            );
            let refused: Vec<bool> = serde_json::from_str(refused.trim()).unwrap();
            for ((source, _, expected), got) in cases.iter().zip(refused) {
                assert_eq!(
                    got,
                    *expected,
                    "3.{minor} ({}) on {source:?}",
                    python.display()
                );
            }
        }
    }
}
