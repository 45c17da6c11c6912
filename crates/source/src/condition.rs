//! Recognition of `if` tests that depend only on the interpreter and platform
//! (`sys.version_info`, `sys.platform`, `os.name`, `platform.system()`) or on a file of the
//! image (`os.path.exists("x.py")`, `(BASE_DIR / "local.py").is_file()`), turned into data
//! the checker can evaluate against the target image.

use ruff_python_ast::{self as ast, Expr, Number, UnaryOp};
use serde::{Deserialize, Serialize};

use crate::names::Resolver;

/// Which arm of an `if` statement an import sits in. `elif` arms are modelled as
/// an `if` nested in the previous test's `Else` arm, as CPython executes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Branch {
    Body,
    Else,
}

/// Comparison operator, always oriented as `<interpreter value> op <literal>`
/// (a written `(3, 8) <= sys.version_info` is stored as `GtE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    Lt,
    LtE,
    Gt,
    GtE,
    Eq,
    NotEq,
}

impl CmpOp {
    fn negate(self) -> Self {
        match self {
            CmpOp::Lt => CmpOp::GtE,
            CmpOp::LtE => CmpOp::Gt,
            CmpOp::Gt => CmpOp::LtE,
            CmpOp::GtE => CmpOp::Lt,
            CmpOp::Eq => CmpOp::NotEq,
            CmpOp::NotEq => CmpOp::Eq,
        }
    }

    fn swap(self) -> Self {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtE => CmpOp::GtE,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtE => CmpOp::LtE,
            other => other,
        }
    }

    fn from_ast(op: ast::CmpOp) -> Option<Self> {
        Some(match op {
            ast::CmpOp::Lt => CmpOp::Lt,
            ast::CmpOp::LtE => CmpOp::LtE,
            ast::CmpOp::Gt => CmpOp::Gt,
            ast::CmpOp::GtE => CmpOp::GtE,
            ast::CmpOp::Eq => CmpOp::Eq,
            ast::CmpOp::NotEq => CmpOp::NotEq,
            _ => return None,
        })
    }

    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CmpOp::Lt => ordering == Less,
            CmpOp::LtE => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::GtE => ordering != Less,
            CmpOp::Eq => ordering == Equal,
            CmpOp::NotEq => ordering != Equal,
        }
    }
}

/// The interpreter-provided string a platform test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlatformSource {
    /// `sys.platform`, e.g. `"linux"`, `"win32"`, `"darwin"`.
    SysPlatform,
    /// `os.name`, e.g. `"posix"`, `"nt"`.
    OsName,
    /// `platform.system()`, e.g. `"Linux"`, `"Windows"`.
    PlatformSystem,
}

/// The recognised test of the `if` enclosing an import, and the arm the import is in.
///
/// `negated` folds in `!=`, `not in` and a leading `not`, so the checker never
/// has to look at the source again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Condition {
    /// `sys.version_info[:prefix] op tuple`; `prefix` is `None` for the whole
    /// `sys.version_info` (which then compares as `(major, minor, micro, "final", 0)`).
    /// `sys.version_info[0] == 3` and `sys.version_info.major == 3` become `prefix: Some(1)`.
    VersionCmp {
        op: CmpOp,
        tuple: Vec<u32>,
        prefix: Option<u32>,
        branch: Branch,
    },
    /// `source == value` (or `!=` when negated).
    PlatformEq {
        source: PlatformSource,
        value: String,
        negated: bool,
        branch: Branch,
    },
    /// `source.startswith(prefix)`.
    PlatformStartsWith {
        source: PlatformSource,
        prefix: String,
        negated: bool,
        branch: Branch,
    },
    /// `source in (values...)`.
    PlatformIn {
        source: PlatformSource,
        values: Vec<String>,
        negated: bool,
        branch: Branch,
    },
    /// `os.path.exists(path)` / `isfile` / `isdir`, `Path(path).exists()` / `is_file()` /
    /// `is_dir()`; `path` is absolute, or relative to the working directory.
    PathExists {
        path: String,
        kind: PathKind,
        negated: bool,
        branch: Branch,
    },
    /// A test this crate does not model; the import may or may not run.
    Unknown,
}

/// What an existence test asks of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PathKind {
    Exists,
    File,
    Dir,
}

/// What a path is in the image, for [`TargetEnv::paths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    File,
    Dir,
}

/// What the checker knows about the target interpreter, to evaluate [`Condition`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEnv {
    pub version: (u32, u32, u32),
    pub sys_platform: String,
    pub os_name: String,
    pub platform_system: String,
    /// The paths existence tests ask about, as written in the test, with what they are in
    /// the image (`None`: absent). A path not listed is undecided.
    pub paths: std::sync::Arc<std::collections::BTreeMap<String, Option<FileKind>>>,
}

impl Condition {
    pub fn branch(&self) -> Option<Branch> {
        match self {
            Condition::VersionCmp { branch, .. }
            | Condition::PlatformEq { branch, .. }
            | Condition::PlatformStartsWith { branch, .. }
            | Condition::PlatformIn { branch, .. }
            | Condition::PathExists { branch, .. } => Some(*branch),
            Condition::Unknown => None,
        }
    }

    /// Whether the arm holding the import executes on `env`; `None` when the test
    /// is unknown or would raise (e.g. comparing `version_info` with a 4+-int tuple
    /// reaches the `"final"` string, which is a `TypeError` in CPython).
    pub fn reaches(&self, env: &TargetEnv) -> Option<bool> {
        let (test, branch) = match self {
            Condition::VersionCmp {
                op,
                tuple,
                prefix,
                branch,
            } => (version_test(env.version, *op, tuple, *prefix)?, *branch),
            Condition::PlatformEq {
                source,
                value,
                negated,
                branch,
            } => ((source_value(env, *source) == value) != *negated, *branch),
            Condition::PlatformStartsWith {
                source,
                prefix,
                negated,
                branch,
            } => (
                source_value(env, *source).starts_with(prefix.as_str()) != *negated,
                *branch,
            ),
            Condition::PlatformIn {
                source,
                values,
                negated,
                branch,
            } => {
                let actual = source_value(env, *source);
                (values.iter().any(|v| v == actual) != *negated, *branch)
            }
            Condition::PathExists {
                path,
                kind,
                negated,
                branch,
            } => {
                let found = *env.paths.get(path)?;
                let holds = match kind {
                    PathKind::Exists => found.is_some(),
                    PathKind::File => found == Some(FileKind::File),
                    PathKind::Dir => found == Some(FileKind::Dir),
                };
                (holds != *negated, *branch)
            }
            Condition::Unknown => return None,
        };
        Some(match branch {
            Branch::Body => test,
            Branch::Else => !test,
        })
    }
}

fn source_value(env: &TargetEnv, source: PlatformSource) -> &str {
    match source {
        PlatformSource::SysPlatform => &env.sys_platform,
        PlatformSource::OsName => &env.os_name,
        PlatformSource::PlatformSystem => &env.platform_system,
    }
}

/// Python tuple comparison of `version_info[:prefix]` against an int tuple.
fn version_test(
    version: (u32, u32, u32),
    op: CmpOp,
    tuple: &[u32],
    prefix: Option<u32>,
) -> Option<bool> {
    let full = [version.0, version.1, version.2];
    let actual_len = prefix.map_or(5, |n| usize::try_from(n).map_or(5, |n| n.min(5)));
    for (i, want) in tuple.iter().enumerate().take(actual_len) {
        // Index 3 of `version_info` is the release level, a string: comparing it with an
        // int raises `TypeError`, so neither arm runs.
        let have = full.get(i)?;
        match have.cmp(want) {
            std::cmp::Ordering::Equal => {}
            other => return Some(op.holds(other)),
        }
    }
    Some(op.holds(actual_len.cmp(&tuple.len())))
}

/// The test part of a [`Condition`], before the arm is known.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Version {
        op: CmpOp,
        tuple: Vec<u32>,
        prefix: Option<u32>,
    },
    PlatformEq {
        source: PlatformSource,
        value: String,
        negated: bool,
    },
    PlatformStartsWith {
        source: PlatformSource,
        prefix: String,
        negated: bool,
    },
    PlatformIn {
        source: PlatformSource,
        values: Vec<String>,
        negated: bool,
    },
    PathExists {
        path: String,
        kind: PathKind,
        negated: bool,
    },
}

impl Test {
    fn negate(self) -> Self {
        match self {
            Test::Version { op, tuple, prefix } => Test::Version {
                op: op.negate(),
                tuple,
                prefix,
            },
            Test::PlatformEq {
                source,
                value,
                negated,
            } => Test::PlatformEq {
                source,
                value,
                negated: !negated,
            },
            Test::PlatformStartsWith {
                source,
                prefix,
                negated,
            } => Test::PlatformStartsWith {
                source,
                prefix,
                negated: !negated,
            },
            Test::PlatformIn {
                source,
                values,
                negated,
            } => Test::PlatformIn {
                source,
                values,
                negated: !negated,
            },
            Test::PathExists {
                path,
                kind,
                negated,
            } => Test::PathExists {
                path,
                kind,
                negated: !negated,
            },
        }
    }

    pub(crate) fn in_branch(test: Option<&Test>, branch: Branch) -> Condition {
        match test.cloned() {
            None => Condition::Unknown,
            Some(Test::Version { op, tuple, prefix }) => Condition::VersionCmp {
                op,
                tuple,
                prefix,
                branch,
            },
            Some(Test::PlatformEq {
                source,
                value,
                negated,
            }) => Condition::PlatformEq {
                source,
                value,
                negated,
                branch,
            },
            Some(Test::PlatformStartsWith {
                source,
                prefix,
                negated,
            }) => Condition::PlatformStartsWith {
                source,
                prefix,
                negated,
                branch,
            },
            Some(Test::PlatformIn {
                source,
                values,
                negated,
            }) => Condition::PlatformIn {
                source,
                values,
                negated,
                branch,
            },
            Some(Test::PathExists {
                path,
                kind,
                negated,
            }) => Condition::PathExists {
                path,
                kind,
                negated,
                branch,
            },
        }
    }
}

/// Recognises an `if` test; `None` means [`Condition::Unknown`].
pub(crate) fn recognise(test: &Expr, names: &Resolver) -> Option<Test> {
    match test {
        Expr::UnaryOp(ast::ExprUnaryOp {
            op: UnaryOp::Not,
            operand,
            ..
        }) => recognise(operand, names).map(Test::negate),
        Expr::Compare(cmp) => recognise_compare(cmp, names),
        Expr::Call(call) => {
            recognise_startswith(call, names).or_else(|| recognise_exists(call, names))
        }
        _ => None,
    }
}

/// `os.path.exists(P)`, `os.path.isfile(P)`, `os.path.isdir(P)`, `P.exists()`,
/// `P.is_file()`, `P.is_dir()` for a path expression `P` the resolver can follow.
fn recognise_exists(call: &ast::ExprCall, names: &Resolver) -> Option<Test> {
    if !call.arguments.keywords.is_empty() {
        return None;
    }
    let args = &call.arguments.args;
    let kind_of = |f: &str| match f {
        "exists" => Some(PathKind::Exists),
        "isfile" | "is_file" => Some(PathKind::File),
        "isdir" | "is_dir" => Some(PathKind::Dir),
        _ => None,
    };
    let (path, kind) = match names.qualified(&call.func).as_deref() {
        Some(q) if q.starts_with("os.path.") || q.starts_with("posixpath.") => {
            let [arg] = &**args else {
                return None;
            };
            (names.path_of(arg)?, kind_of(q.rsplit('.').next()?)?)
        }
        _ => {
            let Expr::Attribute(a) = &*call.func else {
                return None;
            };
            if !args.is_empty()
                || !matches!(a.attr.as_str(), "exists" | "is_file" | "is_dir")
                || matches!(&*a.value, Expr::StringLiteral(_))
            {
                return None;
            }
            (names.path_of(&a.value)?, kind_of(a.attr.as_str())?)
        }
    };
    Some(Test::PathExists {
        path,
        kind,
        negated: false,
    })
}

fn recognise_compare(cmp: &ast::ExprCompare, names: &Resolver) -> Option<Test> {
    let ([op], [right]) = (&*cmp.ops, &*cmp.comparators) else {
        return None;
    };
    let left = &*cmp.left;

    if let Some(prefix) = version_subject(left, names) {
        let op = CmpOp::from_ast(*op)?;
        return version_test_from(op, prefix, right);
    }
    if let Some(prefix) = version_subject(right, names) {
        let op = CmpOp::from_ast(*op)?.swap();
        return version_test_from(op, prefix, left);
    }

    let (source, other) = if let Some(source) = platform_source(left, names) {
        (source, right)
    } else if let Some(source) = platform_source(right, names) {
        // Only `==`/`!=` are symmetric; `"x" in sys.platform` is a substring test.
        if !matches!(op, ast::CmpOp::Eq | ast::CmpOp::NotEq) {
            return None;
        }
        (source, left)
    } else {
        return None;
    };
    match op {
        ast::CmpOp::Eq | ast::CmpOp::NotEq => Some(Test::PlatformEq {
            source,
            value: string_literal(other)?,
            negated: matches!(op, ast::CmpOp::NotEq),
        }),
        ast::CmpOp::In | ast::CmpOp::NotIn => {
            let elts = match other {
                Expr::Tuple(t) => &t.elts,
                Expr::List(l) => &l.elts,
                Expr::Set(s) => &s.elts,
                _ => return None,
            };
            let values = elts
                .iter()
                .map(string_literal)
                .collect::<Option<Vec<_>>>()?;
            Some(Test::PlatformIn {
                source,
                values,
                negated: matches!(op, ast::CmpOp::NotIn),
            })
        }
        _ => None,
    }
}

/// `Some(prefix)` when `expr` denotes (a prefix of) `sys.version_info`.
fn version_subject(expr: &Expr, names: &Resolver) -> Option<Option<u32>> {
    if names.is(expr, "sys.version_info") {
        return Some(None);
    }
    match expr {
        Expr::Subscript(sub) if names.is(&sub.value, "sys.version_info") => match &*sub.slice {
            Expr::NumberLiteral(n) if int_literal(n) == Some(0) => Some(Some(1)),
            Expr::Slice(ast::ExprSlice {
                lower: None,
                upper: Some(upper),
                step: None,
                ..
            }) => match &**upper {
                Expr::NumberLiteral(n) => int_literal(n).map(Some),
                _ => None,
            },
            _ => None,
        },
        Expr::Attribute(attr)
            if attr.attr.as_str() == "major" && names.is(&attr.value, "sys.version_info") =>
        {
            Some(Some(1))
        }
        _ => None,
    }
}

fn version_test_from(op: CmpOp, prefix: Option<u32>, literal: &Expr) -> Option<Test> {
    let tuple = match literal {
        Expr::Tuple(t) => t
            .elts
            .iter()
            .map(|e| match e {
                Expr::NumberLiteral(n) => int_literal(n),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
        // Only a single-element subject (`[0]`, `.major`) compares with a bare int.
        Expr::NumberLiteral(n) if prefix == Some(1) => vec![int_literal(n)?],
        _ => return None,
    };
    Some(Test::Version { op, tuple, prefix })
}

fn recognise_startswith(call: &ast::ExprCall, names: &Resolver) -> Option<Test> {
    let Expr::Attribute(attr) = &*call.func else {
        return None;
    };
    if attr.attr.as_str() != "startswith" || !call.arguments.keywords.is_empty() {
        return None;
    }
    let source = platform_source(&attr.value, names)?;
    let [arg] = &*call.arguments.args else {
        return None;
    };
    Some(Test::PlatformStartsWith {
        source,
        prefix: string_literal(arg)?,
        negated: false,
    })
}

fn platform_source(expr: &Expr, names: &Resolver) -> Option<PlatformSource> {
    if let Expr::Call(call) = expr {
        let no_args = call.arguments.args.is_empty() && call.arguments.keywords.is_empty();
        return (no_args && names.is(&call.func, "platform.system"))
            .then_some(PlatformSource::PlatformSystem);
    }
    if names.is(expr, "sys.platform") {
        Some(PlatformSource::SysPlatform)
    } else if names.is(expr, "os.name") {
        Some(PlatformSource::OsName)
    } else {
        None
    }
}

pub(crate) fn int_literal(n: &ast::ExprNumberLiteral) -> Option<u32> {
    match &n.value {
        Number::Int(i) => u32::try_from(i.as_i64()?).ok(),
        _ => None,
    }
}

/// A plain or implicitly concatenated string literal, or `+` of such.
pub(crate) fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_owned()),
        Expr::BinOp(ast::ExprBinOp {
            left,
            op: ast::Operator::Add,
            right,
            ..
        }) => Some(string_literal(left)? + &string_literal(right)?),
        _ => None,
    }
}
