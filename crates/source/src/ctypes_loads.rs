//! Recognising the `ctypes` calls that load a shared library (`CDLL`, `PyDLL`,
//! `cdll.LoadLibrary`, `cdll.libX`, `cdll["libX.so.N"]`) and `ctypes.util.find_library`, and the
//! constant strings they are given. The extractor decides where they run; this only says what
//! they load.

use rustc_hash::FxHashMap as HashMap;

use ruff_python_ast::{self as ast, Expr, InterpolatedStringElement};

use crate::condition;
use crate::extract::argument;
use crate::names::Resolver;

/// What a module-level name was bound to, as far as a load is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LibValue {
    /// A constant string.
    Literal(String),
    /// The result of `find_library(NAME)`.
    Found(String),
}

/// Module-level names bound once to a [`LibValue`]; a name bound again (a fallback such as
/// `if not name: name = "libc.so"`) is no longer known.
#[derive(Debug, Default)]
pub(crate) struct LibVars {
    vars: HashMap<String, Option<LibValue>>,
}

impl LibVars {
    pub(crate) fn bind(&mut self, name: &str, value: Option<LibValue>) {
        match self.vars.get_mut(name) {
            Some(known) => *known = None,
            None => {
                self.vars.insert(name.to_string(), value);
            }
        }
    }

    /// Bound at module level at all (perhaps to something unknown).
    pub(crate) fn seen(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&LibValue> {
        self.vars.get(name).and_then(Option::as_ref)
    }
}

/// A string the code spells out in full: a literal, a `+` of literals, an f-string without
/// replacement fields.
pub(crate) fn const_str(expr: &Expr) -> Option<String> {
    if let Some(s) = condition::string_literal(expr) {
        return Some(s);
    }
    match expr {
        Expr::FString(f) => {
            let mut out = String::new();
            for part in f.value.iter() {
                match part {
                    ast::FStringPart::Literal(lit) => out.push_str(lit.value.as_ref()),
                    ast::FStringPart::FString(fs) => {
                        for element in &fs.elements {
                            match element {
                                InterpolatedStringElement::Literal(lit) => {
                                    out.push_str(&lit.value);
                                }
                                InterpolatedStringElement::Interpolation(_) => return None,
                            }
                        }
                    }
                }
            }
            Some(out)
        }
        Expr::BinOp(ast::ExprBinOp {
            left,
            op: ast::Operator::Add,
            right,
            ..
        }) => Some(const_str(left)? + &const_str(right)?),
        _ => None,
    }
}

/// `find_library(NAME)` with a constant name: `NAME`.
pub(crate) fn find_library_call(expr: &Expr, names: &Resolver) -> Option<String> {
    let Expr::Call(call) = expr else {
        return None;
    };
    if !names.is(&call.func, "ctypes.util.find_library") {
        return None;
    }
    const_str(argument(call, 0, "name")?)
}

/// What a module-level assignment binds, for [`LibVars`].
pub(crate) fn lib_value(expr: &Expr, names: &Resolver, vars: &LibVars) -> Option<LibValue> {
    if let Some(s) = const_str(expr) {
        return Some(LibValue::Literal(s));
    }
    if let Some(n) = find_library_call(expr, names) {
        return Some(LibValue::Found(n));
    }
    match expr {
        Expr::Name(n) => vars.get(n.id.as_str()).cloned(),
        _ => None,
    }
}

/// The loaders whose call (or `LoadLibrary`) is a `dlopen` of its first argument.
const LOADERS: &[&str] = &[
    "ctypes.CDLL",
    "ctypes.PyDLL",
    "ctypes.cdll.LoadLibrary",
    "ctypes.pydll.LoadLibrary",
    "ctypes.CDLL.__init__",
];

/// The argument a loading call passes to `dlopen`, when `call` is one.
pub(crate) fn loader_argument<'a>(call: &'a ast::ExprCall, names: &Resolver) -> Option<&'a Expr> {
    if !names.is_any(&call.func, LOADERS) {
        return None;
    }
    argument(call, 0, "name")
}

/// `cdll.libX` / `cdll["libX.so.N"]`: `LibraryLoader` loads the attribute's name (names with a
/// leading underscore raise `AttributeError` instead).
pub(crate) fn loader_item(expr: &Expr, names: &Resolver) -> Option<String> {
    let value = match expr {
        Expr::Attribute(a) => &*a.value,
        Expr::Subscript(s) => &*s.value,
        _ => return None,
    };
    if !names.is_any(value, &["ctypes.cdll", "ctypes.pydll"]) {
        return None;
    }
    let name = match expr {
        Expr::Attribute(a) => a.attr.as_str().to_string(),
        Expr::Subscript(s) => const_str(&s.slice)?,
        _ => return None,
    };
    if matches!(expr, Expr::Attribute(_)) && (name.starts_with('_') || name == "LoadLibrary") {
        return None;
    }
    Some(name)
}
