//! Python source analysis for importgate: parses modules with Ruff's parser and
//! extracts every import site (static `import`/`from` statements and literal
//! `importlib.import_module`/`__import__` calls) with the context that decides
//! whether a failure matters (guarded by `try`, `TYPE_CHECKING`-only, version or
//! platform conditions, scope), plus the names a module binds at module level so
//! `from a import b` can be checked against `a`'s source.

mod bindings;
mod compile_errors;
mod condition;
mod ctypes_loads;
mod decode;
mod extract;
mod getattr;
mod names;
mod prescan;
mod undecodable;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use ruff_python_ast::PythonVersion;
use ruff_python_parser::{Mode, ParseOptions};
use ruff_source_file::LineIndex;
use ruff_text_size::{Ranged, TextSize};
use rustc_hash::FxHashSet as HashSet;
use serde::{Deserialize, Serialize};

pub use condition::{Branch, CmpOp, Condition, FileKind, PathKind, PlatformSource, TargetEnv};
pub use decode::{Decoded, decode};

/// Everything importgate needs from one Python file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedModule {
    /// Import sites in source order. Extracted from Ruff's error-recovered AST even
    /// when `syntax_errors` is non-empty; CPython would import none of them then, so
    /// the checker should report the syntax error first.
    pub imports: Vec<ImportSite>,
    pub syntax_errors: Vec<SyntaxErrorInfo>,
    pub bindings: Bindings,
    /// The file fails to parse and contains Python 2 `print` statements, so the
    /// likely explanation is "Python 2 code", not a broken file.
    pub python2_hint: bool,
    /// What CPython says when the file is run by path (`python app.py`) rather than imported:
    /// its file reader refuses a non-UTF-8 byte anywhere, comments included, where an import
    /// only fails on one inside a name or a string. `None` when the bytes decode (or are refused
    /// as a whole, which `syntax_errors` says).
    #[serde(default)]
    pub script_error: Option<SyntaxErrorInfo>,
    /// Shared libraries the module loads through `ctypes`, in source order: a `dlopen` that
    /// fails raises `OSError` while the module executes, which fails its import like a
    /// missing extension module does.
    #[serde(default)]
    pub native_loads: Vec<NativeLoad>,
    /// Functions that return `ctypes.util.find_library(...)` (psycopg's
    /// `find_libpq_full_path`), for loads that call them from another module.
    #[serde(default)]
    pub finders: Vec<FinderFn>,
    /// Raises that run when every guarded import of a fallback chain failed.
    #[serde(default)]
    pub fallbacks: Vec<Fallback>,
    /// Module-level functions called by module-level statements (`import_from_libpq()`): their
    /// bodies run while the module is imported.
    #[serde(default)]
    pub called_at_import: Vec<String>,
    /// The module's own functions (`def` and `async def` at module level; methods of its
    /// module-level classes as `Class.method`): calling one runs its body, so the imports
    /// inside it run when the module's code, a server or a framework calls it.
    #[serde(default)]
    pub functions: Vec<FunctionDef>,
    /// Calls of names the module binds (its functions, what it imports), made by module-level
    /// code or directly by one of its functions: the startup path follows them into the
    /// function bodies they run (`app = create_app()` in `wsgi.py`).
    #[serde(default)]
    pub calls: Vec<CallSite>,
    /// Syntax newer than some interpreters accept (`match` before 3.10, PEP 701 f-strings
    /// before 3.12, `except A, B:` before 3.14): a syntax error there only, which
    /// [`ParsedModule::for_version`] turns into one for the interpreter that runs the file.
    #[serde(default)]
    pub newer_syntax: Vec<NewerSyntax>,
    /// Modules a Celery worker imports when it starts, named in this module's configuration:
    /// `Celery(…, include=[…])`, `imports=[…]`, `app.conf.update(include=[…])`,
    /// `app.conf.include = […]`.
    #[serde(default)]
    pub celery_modules: Vec<ConfigModule>,
    /// Module-level `sys.path.insert(i, P)`, `sys.path.append(P)` and `site.addsitedir(P)`
    /// whose path is spelled out (literals, `__file__`, `os.path`/`pathlib` on them): the
    /// imports that run after them search there too (`main.py` putting its `src/` on the path).
    #[serde(default)]
    pub path_edits: Vec<PathEdit>,
}

/// One edit of `sys.path` by a module's own code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEdit {
    /// The directory, absolute or relative to the working directory.
    pub path: String,
    /// `insert`'s index (`None`: appended, as `append` and `site.addsitedir` do).
    pub index: Option<u32>,
    pub line: u32,
    pub context: ImportContext,
}

/// A module named by a string in a framework's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigModule {
    pub module: String,
    /// The setting that names it (`include`, `imports`).
    pub setting: String,
    pub line: u32,
    pub column: u32,
}

/// Syntax an interpreter older than `since` refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewerSyntax {
    /// `(3, minor)` of the first version that accepts it.
    pub since: (u32, u32),
    /// What it is (`Cannot use `match` statement`).
    pub what: String,
    pub line: u32,
    pub column: u32,
}

impl ParsedModule {
    /// The module as interpreter `major.minor` parses it: syntax it does not accept yet is a
    /// syntax error (CPython reports the first in the file).
    pub fn for_version(mut self, major: u32, minor: u32) -> ParsedModule {
        let newer = std::mem::take(&mut self.newer_syntax);
        let before = self.syntax_errors.len();
        for n in newer.into_iter().filter(|n| (major, minor) < n.since) {
            self.syntax_errors.push(SyntaxErrorInfo {
                message: format!(
                    "{} on Python {major}.{minor} (syntax added in Python {}.{})",
                    n.what, n.since.0, n.since.1
                ),
                line: n.line,
                column: n.column,
            });
        }
        if self.syntax_errors.len() > before {
            self.syntax_errors.sort_by_key(|e| (e.line, e.column));
        }
        self
    }
}

/// A module-level function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    /// Every parameter has a default: a server that calls the object it is given without
    /// arguments (uvicorn's factory detection) runs the body.
    pub bare_call: bool,
    /// The body holds `yield`: calling the function only makes a generator, nothing runs.
    pub generator: bool,
    /// `async def`: calling it only makes a coroutine; its body runs when the call is
    /// [`CallSite::awaited`].
    pub coroutine: bool,
}

/// A call whose callee is a name or a dotted attribute of one (`create_app`, `views.register`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSite {
    pub callee: String,
    pub line: u32,
    pub column: u32,
    /// Where it runs; [`ImportContext::in_function`] names the function making the call, `None`
    /// for module-level code.
    pub context: ImportContext,
    /// The coroutine the call makes is run: awaited, or handed to an event loop or a task
    /// (`asyncio.run(main())`, `loop.run_until_complete(…)`, `asyncio.create_task(…)`,
    /// `asyncio.gather(…)`); or the function is handed uncalled to a runner that calls and runs
    /// it (`anyio.run(main)`, `trio.run(main)`), which counts as this call.
    pub awaited: bool,
}

/// A function whose return value is `find_library(name)` in some branches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinderFn {
    pub name: String,
    /// Each `find_library` the function returns, with the `if` arms it sits in.
    pub candidates: Vec<(Vec<Condition>, String)>,
}

/// A function named at a load: `function` in this module (`level` 0, no `module`) or imported
/// with `from <level dots><module> import function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinderRef {
    pub level: u32,
    pub module: Option<String>,
    pub function: String,
}

/// `V = None`, then imports that bind `V` each under a `try` whose handler catches the failure,
/// then a `raise` that runs when `V` is still false: the module fails to import exactly when
/// every alternative does (psycopg's `import_from_libpq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub var: String,
    /// Indices into [`ParsedModule::imports`] of the imports that bind `var`.
    pub alternatives: Vec<usize>,
    /// The `if` that raises.
    pub line: u32,
    pub column: u32,
    pub context: ImportContext,
}

/// One `ctypes` load (`CDLL("libX.so.N")`, `cdll.LoadLibrary(...)`, `PyDLL`, `cdll.libX`), or a
/// `find_library` result the module insists on (`if not name: raise ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeLoad {
    pub target: LoadTarget,
    /// Start of the call (or of the `if` that raises), 1-based.
    pub line: u32,
    pub column: u32,
    /// Exclusive end column on the first line, for underlining.
    pub end_column: u32,
    /// The call's source text on one line.
    pub statement: String,
    /// Where it runs.
    pub context: ImportContext,
}

impl NativeLoad {
    /// A handler catches what the load raises: `OSError` from a `dlopen`, the `raise` after a
    /// `find_library` (taken as an `ImportError`).
    pub fn caught(&self) -> bool {
        let raises = match self.target {
            LoadTarget::RequireFound(_) | LoadTarget::RequireFoundVia(_) => Caught::MISSING_MODULE,
            _ => Caught::OS_ERROR,
        };
        self.context.caught.contains(raises)
    }
}

/// What a [`NativeLoad`] asks of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadTarget {
    /// `dlopen(name)`: a name with a `/` is a path (relative to the process's working
    /// directory), anything else goes through the dynamic loader's search.
    Dlopen(String),
    /// `dlopen(find_library(name))`: `None` loads the main program, so only a name
    /// `find_library` does return can fail.
    DlopenFound(String),
    /// The module raises when `find_library(name)` returns `None`.
    RequireFound(String),
    /// The module raises when the function, which returns a `find_library` result, returns
    /// `None`.
    RequireFoundVia(FinderRef),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntaxErrorInfo {
    pub message: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
}

/// A source span, 1-based, columns in characters, `end_column` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// One imported name: a statement importing several names yields one site each,
/// because each can fail independently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSite {
    pub kind: ImportKind,
    /// Start of the whole statement (or call), 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// Exclusive end column of the statement on its first line, for underlining.
    pub end_column: u32,
    /// The single import as a one-line statement CPython can execute on its own,
    /// e.g. `from ..x import y as z`. `lazy` is dropped so that running it checks
    /// resolvability. For a dynamic import with a non-literal module this is the
    /// call's source text on one line (not meant to be executed).
    pub statement: String,
    /// Where this particular name is written (`a.b as c` inside `import x, a.b as c`),
    /// or the module argument of a dynamic import.
    pub target: Option<Span>,
    pub context: ImportContext,
}

impl ImportSite {
    /// The name the statement binds in its scope: `a` for `import a.b`, the alias of
    /// `import a.b as c`, the name (or alias) of `from m import n`; `None` for a star import or
    /// a dynamic import.
    pub fn bound_name(&self) -> Option<String> {
        if matches!(self.kind, ImportKind::Dynamic { .. }) {
            return None;
        }
        if let Some((_, alias)) = self.statement.rsplit_once(" as ") {
            return Some(alias.trim().to_string());
        }
        match &self.kind {
            ImportKind::Import { module } => module.split('.').next().map(str::to_string),
            ImportKind::From { name, .. } if name != "*" => Some(name.clone()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImportKind {
    /// `import a.b.c`
    Import { module: String },
    /// `from .a import b`; `name` is `"*"` for a star import.
    From {
        module: Option<String>,
        level: u32,
        name: String,
    },
    /// `importlib.import_module(...)` / `__import__(...)`; `module`/`package` are
    /// `None` when not a string literal.
    Dynamic {
        module: Option<String>,
        package: Option<String>,
        /// What the `package` argument was, so `package=__name__` (common, and
        /// resolvable by a checker that knows the file's module name) is not lost.
        package_arg: PackageArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PackageArg {
    Absent,
    Literal,
    /// `__name__`
    DunderName,
    /// `__package__`
    DunderPackage,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    Module,
    Function(String),
    Class(String),
}

/// The failures of an import that the handlers around it catch without re-raising. Each class
/// the import system or a loader raises is caught by its own name and its bases: `except
/// ImportError` catches a missing name but not a module that does not compile, `except
/// ModuleNotFoundError` (or an `if find_spec(...)` test) only a module that is nowhere.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Caught(u8);

impl std::fmt::Debug for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(Caught, &str); 4] = [
            (Caught::MISSING_MODULE, "ModuleNotFoundError"),
            (Caught::OTHER_IMPORT_ERROR, "ImportError"),
            (Caught::OS_ERROR, "OSError"),
            (Caught::SYNTAX_ERROR, "SyntaxError"),
        ];
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect();
        write!(f, "Caught({})", names.join(" | "))
    }
}

impl Caught {
    pub const NOTHING: Caught = Caught(0);
    /// `ModuleNotFoundError`: the module is nowhere on the path searched.
    pub const MISSING_MODULE: Caught = Caught(1);
    /// Any other `ImportError`: a missing name, an extension that fails to load, a partially
    /// initialised module.
    pub const OTHER_IMPORT_ERROR: Caught = Caught(2);
    /// `OSError`: a failing `ctypes` load.
    pub const OS_ERROR: Caught = Caught(4);
    /// `SyntaxError`: an imported module that does not compile.
    pub const SYNTAX_ERROR: Caught = Caught(8);
    /// `Exception`, `BaseException`, a bare `except`.
    pub const EVERYTHING: Caught = Caught(15);

    /// What a handler naming the builtin exception class `name` catches.
    pub fn by_class(name: &str) -> Caught {
        match name {
            "ModuleNotFoundError" => Caught::MISSING_MODULE,
            "ImportError" => Caught::MISSING_MODULE | Caught::OTHER_IMPORT_ERROR,
            "OSError" | "EnvironmentError" | "IOError" => Caught::OS_ERROR,
            "SyntaxError" => Caught::SYNTAX_ERROR,
            "Exception" | "BaseException" => Caught::EVERYTHING,
            _ => Caught::NOTHING,
        }
    }

    /// Every failure in `other` is caught.
    pub fn contains(self, other: Caught) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_nothing(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Caught {
    type Output = Caught;
    fn bitor(self, other: Caught) -> Caught {
        Caught(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Caught {
    fn bitor_assign(&mut self, other: Caught) {
        self.0 |= other.0;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportContext {
    /// What the enclosing handlers catch: the body of a `try` whose handler does not itself
    /// `raise`, a `with suppress(...)`, an arm an `if find_spec(...)` test guards. A `def` or
    /// a `lambda` resets it, since its body runs later, outside the `try`.
    pub caught: Caught,
    /// Never executed at runtime: under `if TYPE_CHECKING:` (any spelling), `if False:`,
    /// `if 0:`, the `else` of `if not TYPE_CHECKING:` / `if True:`.
    pub type_checking: bool,
    /// Innermost function, else innermost class, else module: a class body inside a
    /// function runs when the function runs.
    pub scope: Scope,
    /// The innermost enclosing `if` arm's condition (`Unknown` when not recognised);
    /// `None` when not inside any `if`.
    pub condition: Option<Condition>,
    /// All enclosing `if` arms, outermost first; `condition` is the last one.
    pub conditions: Vec<Condition>,
    /// `lazy import ...` (PEP 810): a failure only surfaces when the name is used.
    pub lazy: bool,
    /// Inside an `except` handler: a fallback that runs only when the `try` body raised
    /// (`except ImportError: from _dummy_thread import get_ident`); or in the `else` arm of a
    /// `try` that guards imports, which runs only when they all worked (`try: import greenlet`
    /// / `except ImportError: …` / `else: from ._concurrency_py3k import …`). Either way the
    /// code depends on what the guarded imports found.
    #[serde(default)]
    pub handler: bool,
    /// The module-level function (or `Class.method` of a module-level class) whose call runs
    /// this code: the code is in its body (or in a class body inside it), not in a nested
    /// function. `None` at module level and anywhere else.
    #[serde(default)]
    pub in_function: Option<String>,
    /// Under `if __name__ == "__main__":` (`Some(true)`) or its `else`/`!=` arm
    /// (`Some(false)`): runs only when the module is (is not) the program's `__main__`.
    #[serde(default)]
    pub main_only: Option<bool>,
    /// In a generator function, after its first `yield` in source order: a lifespan run to
    /// its `yield` at startup runs this only at shutdown.
    #[serde(default)]
    pub after_yield: bool,
    /// In the body of a `try` that holds only imports (and plain assignments) and whose
    /// handler catches `ImportError`: the `try`'s id (its offset in the file).
    #[serde(default)]
    pub try_body: Option<u32>,
    /// The ids of such `try` statements whose `except` handlers this code is in: it runs only
    /// if one of that body's imports fails (`try: import tomllib` / `except ImportError:
    /// import tomli as tomllib`), so when they all work it never runs.
    #[serde(default)]
    pub fallback_of: Vec<u32>,
}

impl ImportContext {
    /// A module that is nowhere does not stop the program here.
    pub fn guarded(&self) -> bool {
        self.caught.contains(Caught::MISSING_MODULE)
    }

    /// Every `ImportError` is caught here, not only a missing module.
    pub fn catches_import_error(&self) -> bool {
        self.caught.contains(Caught::OTHER_IMPORT_ERROR)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bindings {
    /// Names bound at module level, including inside module-level compound
    /// statements, plus names declared `global` in functions (they bind module names
    /// when the function runs). Over-approximates: `del` is ignored.
    pub names: BTreeSet<String>,
    /// Literal `__all__`; `None` when absent or built from anything non-literal.
    pub dunder_all: Option<Vec<String>>,
    /// Module-level `__getattr__` (PEP 562): attributes the module does not bind may exist.
    pub has_getattr: bool,
    /// The only names that `__getattr__` can return a value for, when its code tells (it tests
    /// the name and raises for the rest); `None`: any name.
    #[serde(default)]
    pub getattr_names: Option<BTreeSet<String>>,
    /// Module-level `from X import *`: `(module, level)`.
    pub star_imports: Vec<(Option<String>, u32)>,
    /// The module writes its namespace in ways we cannot follow (`globals().update`,
    /// `globals()[k] = v`, `sys.modules[...] = ...`, `exec`, `__path__` edits), so a
    /// missing name must not be reported.
    pub dynamic_namespace: bool,
    /// The module registers other modules in `sys.modules` (`sys.modules['os.path'] = path`,
    /// `sys.modules[io.__name__] = io`) or installs an import hook (`sys.meta_path.append`):
    /// its submodules cannot be judged from files, its own names still can.
    pub dynamic_submodules: bool,
    /// The module installs an import hook (`sys.meta_path`/`sys.path_hooks`): a finder that can
    /// serve any submodule, even of a plain module (six's `six.moves`), where `sys.modules`
    /// entries serve only the names they register (`os.path`, not `os.other`).
    #[serde(default)]
    pub import_hook: bool,
}

impl Bindings {
    /// Whether the module's `__getattr__` may return a value for `name`.
    pub fn getattr_serves(&self, name: &str) -> bool {
        self.has_getattr
            && self
                .getattr_names
                .as_ref()
                .is_none_or(|names| names.contains(name))
    }
}

/// Parses one module. Never panics; problems become [`SyntaxErrorInfo`]s.
///
/// Deeply nested ASTs recurse while being visited and dropped: call this on a thread
/// with a large stack (as [`parse_many`] does) for untrusted input.
pub fn parse_module(source: &str) -> ParsedModule {
    parse_module_at(source, None)
}

/// [`parse_module`] for the file at `path` in the image: `__file__`-relative paths of
/// existence tests can then be followed.
pub fn parse_module_at(source: &str, path: Option<&str>) -> ParsedModule {
    parse_text(source, path, None)
}

/// [`parse_module_at`] from the file's bytes, decoded as CPython decodes them (BOM, PEP 263
/// declaration, UTF-8) so that bytes which would not decode are judged where CPython judges
/// them, and a real U+FFFD in the file is not.
pub fn parse_bytes(bytes: &[u8], path: Option<&str>) -> ParsedModule {
    let decoded = decode::decode(bytes);
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    parse_text(&decoded.text, path, Some((&decoded, body)))
}

fn parse_text(source: &str, path: Option<&str>, raw: Option<(&Decoded, &[u8])>) -> ParsedModule {
    if prescan::too_deep(source) {
        return ParsedModule {
            syntax_errors: vec![SyntaxErrorInfo {
                message: "too deeply nested".to_owned(),
                line: 1,
                column: 1,
            }],
            ..ParsedModule::default()
        };
    }

    // The oldest target: the tree is the same for every target, and syntax newer than it is
    // reported on the side with the version that added it; the checker, which knows the
    // interpreter, decides (`ParsedModule::for_version`).
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY37);
    let Some(parsed) = ruff_python_parser::parse_unchecked(source, options).try_into_module()
    else {
        return ParsedModule::default();
    };

    let locator = Locator::new(source);
    let newer_syntax: Vec<NewerSyntax> = parsed
        .unsupported_syntax_errors()
        .iter()
        .filter_map(|error| {
            let text = error.to_string();
            let (what, since) = newer_syntax_text(&text)?;
            let (line, column) = locator.line_column(error.range.start());
            Some(NewerSyntax {
                since,
                what: what.to_string(),
                line,
                column,
            })
        })
        .collect();
    let mut syntax_errors: Vec<SyntaxErrorInfo> = parsed
        .errors()
        .iter()
        .map(|error| {
            let (line, column) = locator.line_column(error.range().start());
            SyntaxErrorInfo {
                message: error.error.to_string(),
                line,
                column,
            }
        })
        .collect();
    let mut script_error = None;
    if let Some((decoded, body)) = raw {
        script_error = undecodable::judge(
            decoded,
            body,
            parsed.tokens(),
            &locator,
            path,
            &mut syntax_errors,
        );
    }
    // The tokenizer refuses the file before the parser sees it: CPython reports that one error.
    if let Some((at, message)) = prescan::decode_error(source) {
        let line_start = source[..at].rfind('\n').map_or(0, |n| n + 1);
        syntax_errors.insert(
            0,
            SyntaxErrorInfo {
                message,
                line: u32::try_from(source[..at].matches('\n').count() + 1).unwrap_or(u32::MAX),
                column: u32::try_from(source[line_start..at].chars().count() + 1)
                    .unwrap_or(u32::MAX),
            },
        );
    }
    let python2_hint =
        !syntax_errors.is_empty() && prescan::has_python2_print(parsed.tokens(), source);

    let module = parsed.syntax();
    // What the compiler refuses in a module that parses: only looked for in one that does, as
    // CPython reports the parser's error first.
    let mut newer_syntax = newer_syntax;
    if syntax_errors.is_empty() {
        for (at, message) in compile_errors::find(&module.body, source) {
            let (line, column) = locator.line_column(at);
            syntax_errors.push(SyntaxErrorInfo {
                message,
                line,
                column,
            });
        }
        newer_syntax.extend(compile_errors::newer_futures(&module.body, &locator));
    }
    let mut bindings = bindings::collect(&module.body);
    let mut callable_names = extract::import_bound_names(&module.body);
    callable_names.extend(bindings.names.iter().map(String::as_str));
    let callable = |head: &str| callable_names.contains(head);
    let extracted = extract::extract(&module.body, &locator, path, &callable);
    let (imports, native_loads, touches_namespace, registers_modules) = (
        extracted.sites,
        extracted.loads,
        extracted.dynamic_namespace,
        extracted.dynamic_submodules,
    );
    bindings.dynamic_namespace |= touches_namespace;
    bindings.dynamic_submodules |= registers_modules || extracted.import_hook;
    bindings.import_hook = extracted.import_hook;
    // Only calls of names the module binds can reach its functions or another module's:
    // builtins, locals and parameters are dropped here.
    let imported: HashSet<(Option<&str>, String)> = imports
        .iter()
        .filter_map(|s| Some((s.context.in_function.as_deref(), s.bound_name()?)))
        .collect();
    let mut calls = extracted.calls;
    calls.retain(|c| {
        let head = c.callee.split('.').next().unwrap_or_default();
        bindings.names.contains(head)
            || imported.contains(&(c.context.in_function.as_deref(), head.to_string()))
    });

    ParsedModule {
        imports,
        syntax_errors,
        bindings,
        python2_hint,
        script_error,
        native_loads,
        finders: extracted.finders,
        fallbacks: extracted.fallbacks,
        called_at_import: extracted.called_at_import,
        functions: extracted.functions,
        calls,
        newer_syntax,
        celery_modules: extracted.celery_modules,
        path_edits: extracted.path_edits,
    }
}

/// Stack for parse workers: Ruff's AST is built, walked and dropped recursively.
pub const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Where parsed modules outlive a run, so that a re-check parses only the files that changed.
/// Keyed by [`parse_key`]: what a parse yields depends only on the bytes and the file's name
/// (and this parser, which the store's own salt has to cover).
pub trait ParseStore: Send + Sync {
    fn load(&self, key: &str) -> Option<ParsedModule>;
    fn store(&self, key: &str, module: &ParsedModule);
}

/// Where each name a module binds at module level is first bound: the `(line, column)` of the
/// statement that binds it (a class: where its body ends), with `*` for the first star import.
/// What a partially initialised module holds while one of its imports runs (a circular import)
/// is what is bound before that import. `None` when the file does not parse. Parses again:
/// only asked for the few modules found in a cycle.
pub fn first_bindings(bytes: &[u8]) -> Option<BTreeMap<String, (u32, u32)>> {
    let decoded = decode::decode(bytes);
    let source = decoded.text.as_str();
    if prescan::too_deep(source) {
        return None;
    }
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY37);
    let parsed = ruff_python_parser::parse_unchecked(source, options)
        .try_into_module()
        .filter(|p| p.errors().is_empty())?;
    let locator = Locator::new(source);
    Some(
        bindings::first_bound(&parsed.syntax().body)
            .into_iter()
            .map(|(name, at)| (name, locator.line_column(at)))
            .collect(),
    )
}

/// The [`ParseStore`] key of a file: the sha256 of its name and bytes.
pub fn parse_key(bytes: &[u8], path: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(path.unwrap_or("").as_bytes());
    h.update([0u8]);
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// [`parse_bytes`] through a store: a stored result is used as is, a fresh one is stored.
pub fn parse_bytes_stored(
    bytes: &[u8],
    path: Option<&str>,
    store: Option<&dyn ParseStore>,
) -> ParsedModule {
    let Some(store) = store else {
        return parse_bytes(bytes, path);
    };
    let key = parse_key(bytes, path);
    if let Some(hit) = store.load(&key) {
        return hit;
    }
    let parsed = parse_bytes(bytes, path);
    store.store(&key, &parsed);
    parsed
}

/// `("Cannot use `match` statement", (3, 10))` from the parser's "Cannot use `match` statement
/// on Python 3.7 (syntax was added in Python 3.10)". Syntax *removed* in a version (only
/// `f((a)=1)`, removed in 3.8, which a 3.7 target cannot see) is not reported.
fn newer_syntax_text(text: &str) -> Option<(&str, (u32, u32))> {
    let (what, rest) = text.split_once(" on Python ")?;
    let version = rest
        .split_once("(syntax was added in Python ")?
        .1
        .strip_suffix(')')?;
    let (major, minor) = version.split_once('.')?;
    Some((what, (major.parse().ok()?, minor.parse().ok()?)))
}

/// Parses files in parallel, keeping input order.
pub fn parse_many(files: Vec<(String, Arc<[u8]>)>) -> Vec<(String, ParsedModule)> {
    parse_many_stored(files, None)
}

/// [`parse_many`] through a store (see [`parse_bytes_stored`]).
pub fn parse_many_stored(
    files: Vec<(String, Arc<[u8]>)>,
    store: Option<&dyn ParseStore>,
) -> Vec<(String, ParsedModule)> {
    let run = |files: Vec<(String, Arc<[u8]>)>| -> Vec<(String, ParsedModule)> {
        files
            .into_par_iter()
            .map(|(path, source)| {
                let parsed = parse_bytes_stored(&source, Some(&path), store);
                (path, parsed)
            })
            .collect()
    };
    match pool() {
        Some(pool) => pool.install(|| run(files)),
        None => {
            // No pool (thread creation failed): still never parse on a small stack.
            let handle = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, move || {
                        files
                            .into_iter()
                            .map(|(path, source)| {
                                let parsed = parse_bytes_stored(&source, Some(&path), store);
                                (path, parsed)
                            })
                            .collect::<Vec<_>>()
                    })
                    .map(|h| h.join())
            });
            match handle {
                Ok(Ok(result)) => result,
                _ => {
                    tracing::error!("could not run the parser on a large-stack thread");
                    Vec::new()
                }
            }
        }
    }
}

/// Runs `body` on this thread with a function that hands a file to the parse pool; each
/// result is sent to `done` as soon as it is ready. A caller that finds new files while it
/// works through earlier results (the startup closure, import by import) keeps the pool
/// parsing meanwhile instead of alternating between parsing and following. Every parse
/// handed over has finished when this returns.
pub fn parse_pipelined<R>(
    store: Option<&dyn ParseStore>,
    done: &std::sync::mpsc::Sender<(String, ParsedModule)>,
    body: impl FnOnce(&dyn Fn(String, Arc<[u8]>)) -> R,
) -> R {
    match pool() {
        Some(pool) => pool.in_place_scope(|scope| {
            let parse = |path: String, bytes: Arc<[u8]>| {
                let done = done.clone();
                scope.spawn(move |_| {
                    let parsed = parse_bytes_stored(&bytes, Some(&path), store);
                    // The receiver outlives the scope; a closed one has nothing left to ask.
                    let _ = done.send((path, parsed));
                });
            };
            body(&parse)
        }),
        None => {
            let parse = |path: String, bytes: Arc<[u8]>| {
                for result in parse_many_stored(vec![(path, bytes)], store) {
                    let _ = done.send(result);
                }
            };
            body(&parse)
        }
    }
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .stack_size(WORKER_STACK)
            .thread_name(|i| format!("importgate-parse-{i}"))
            .build()
            .map_err(|error| tracing::warn!(%error, "parse pool unavailable"))
            .ok()
    })
    .as_ref()
}

/// Offset to 1-based line/character-column conversion that tolerates any offset.
pub(crate) struct Locator<'a> {
    source: &'a str,
    index: LineIndex,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Self {
            source,
            index: LineIndex::from_source_text(source),
        }
    }

    pub(crate) fn source(&self) -> &'a str {
        self.source
    }

    fn clamp(&self, offset: TextSize) -> TextSize {
        let mut offset = offset.to_usize().min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        TextSize::try_from(offset).unwrap_or_default()
    }

    pub(crate) fn line_column(&self, offset: TextSize) -> (u32, u32) {
        let location = self.index.line_column(self.clamp(offset), self.source);
        (to_u32(location.line.get()), to_u32(location.column.get()))
    }

    /// Span of `range`, and the exclusive end column of its first line.
    pub(crate) fn span(&self, range: ruff_text_size::TextRange) -> Span {
        let (line, column) = self.line_column(range.start());
        let (end_line, end_column) = self.line_column(range.end());
        Span {
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// Exclusive end column of `range` clipped to its first line.
    pub(crate) fn first_line_end_column(&self, range: ruff_text_size::TextRange) -> u32 {
        let start = self.clamp(range.start()).to_usize();
        let end = self.clamp(range.end()).to_usize();
        let text = self.source.get(start..end).unwrap_or_default();
        let first = text.split(['\n', '\r']).next().unwrap_or_default();
        let (_, column) = self.line_column(range.start());
        column.saturating_add(to_u32(first.trim_end().chars().count()))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
