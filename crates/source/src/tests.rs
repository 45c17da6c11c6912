#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// One line per site so snapshots stay readable.
fn sites(source: &str) -> Vec<String> {
    let parsed = parse_module(source);
    assert!(
        parsed.syntax_errors.is_empty(),
        "unexpected syntax errors: {:?}",
        parsed.syntax_errors
    );
    parsed.imports.iter().map(render).collect()
}

fn render(site: &ImportSite) -> String {
    let ctx = &site.context;
    let mut flags = Vec::new();
    if ctx.guarded() {
        flags.push("guarded".to_owned());
    }
    if ctx.type_checking {
        flags.push("type_checking".to_owned());
    }
    if ctx.lazy {
        flags.push("lazy".to_owned());
    }
    if ctx.scope != Scope::Module {
        flags.push(format!("{:?}", ctx.scope));
    }
    for condition in &ctx.conditions {
        flags.push(format!("{condition:?}"));
    }
    format!(
        "{}:{}-{} `{}` {:?} [{}]",
        site.line,
        site.column,
        site.end_column,
        site.statement,
        site.kind,
        flags.join(", ")
    )
}

fn src(text: &str) -> String {
    // Tests are written indented; strip the common indentation.
    let lines: Vec<&str> = text.lines().skip_while(|l| l.trim().is_empty()).collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn plain_imports_one_site_per_alias() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        import os
        import a.b.c as c, json
        from ..x import (y as z,
            w)
        from . import sibling
        from pkg.mod import *
        lazy import heavy
        "#)));
}

#[test]
fn full_site_structure() {
    let parsed = parse_module("import a.b as c, d\n");
    insta::assert_debug_snapshot!(parsed.imports);
}

#[test]
fn guarded_imports() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        try:
            import a
        except ImportError:
            import a_fallback
        else:
            import a_else
        finally:
            import a_finally
        try:
            import b
        except (ValueError, ModuleNotFoundError):
            pass
        try:
            import c
        except:
            pass
        try:
            import d
        except Exception as e:
            pass
        try:
            import e
        except KeyError:
            pass
        try:
            import f
        except ImportError as exc:
            raise RuntimeError("install f") from exc
        try:
            def later():
                import g
        except ImportError:
            pass
        import contextlib
        from contextlib import suppress
        with contextlib.suppress(ImportError):
            import h
        with suppress(ModuleNotFoundError):
            import i
        with suppress(KeyError):
            import j
        try:
            import k
        except* ImportError:
            pass
        "#)));
}

#[test]
fn type_checking_imports() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        import typing
        import typing as t
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import a
        else:
            import a_runtime
        if typing.TYPE_CHECKING:
            import b
        if t.TYPE_CHECKING:
            import c
        import typing_extensions
        if typing_extensions.TYPE_CHECKING:
            import d
        if False:
            import e
        if 0:
            import f
        if not TYPE_CHECKING:
            import g_runtime
        else:
            import g
        "#)));
}

#[test]
fn scopes() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        def f():
            import a
            class Inner:
                import b
        class C:
            import c
            def m(self):
                import d
            async def am(self):
                import e
        x = lambda: __import__("lam")
        "#)));
}

#[test]
fn conditions() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        import sys, os, platform
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli
        if sys.version_info[:2] < (3, 8):
            import a
        if sys.version_info[0] == 2:
            import b
        if sys.version_info.major >= 3:
            import b3
        if (3, 9) <= sys.version_info:
            import c
        if sys.platform == "win32":
            import winreg
        elif sys.platform.startswith("linux"):
            import linuxonly
        elif sys.platform in ("darwin", "ios"):
            import apple
        else:
            import other
        if os.name != "nt":
            import posix
        if platform.system() == "Windows":
            import win
        if not sys.platform == "win32":
            import notwin
        if some_flag:
            if sys.version_info < (3, 10):
                import nested
        if sys.version_info >= (3, 8) and sys.platform == "linux":
            import combined
        from sys import version_info as vi
        if vi < (3,):
            import py2
        "#)));
}

#[test]
fn nested_blocks_and_match() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        for x in y:
            import in_for
        else:
            import for_else
        while cond:
            import in_while
        with open(p) as fh:
            import in_with
        match cmd:
            case "a":
                import in_case
            case _:
                from pkg import in_default
        async def f():
            async with x:
                import in_async_with
        "#)));
}

#[test]
fn dynamic_imports() {
    insta::assert_debug_snapshot!(sites(&src(r#"
        import importlib
        importlib.import_module("a.b")
        importlib.import_module(".sub", package="pkg")
        importlib.import_module(".sub", "pkg")
        importlib.import_module(".rel", package=__name__)
        importlib.import_module(".rel", __package__)
        importlib.import_module("x" "y")
        importlib.import_module("p" + ".q")
        importlib.import_module(name)
        importlib.import_module(f"plugins.{name}")
        __import__("c")
        importlib.__import__("d")
        import_module("not_recognised_without_import")
        from importlib import import_module
        import_module("e")
        import importlib as il
        il.import_module("f")
        try:
            importlib.import_module("guarded")
        except ImportError:
            pass
        "#)));
}

#[test]
fn positions_are_characters_and_end_on_first_line() {
    let parsed = parse_module("x = 'é'; import os\nfrom a import (\n    b,\n)\n");
    let first = &parsed.imports[0];
    assert_eq!((first.line, first.column, first.end_column), (1, 10, 19));
    let second = &parsed.imports[1];
    assert_eq!((second.line, second.column, second.end_column), (2, 1, 16));
    assert_eq!(second.statement, "from a import b");
    let target = second.target.unwrap();
    assert_eq!((target.line, target.column, target.end_column), (3, 5, 6));
}

#[test]
fn bindings() {
    let parsed = parse_module(&src(r#"
        import a.b.c
        import d.e as f
        from g import h, i as j
        from k import *
        from .rel import *
        def func(): pass
        async def afunc(): pass
        class Klass: pass
        x = y = 1
        (p, [q, *r]) = stuff
        s: int = 1
        unannotated_only: int
        t += 1
        obj.attr = 1
        d[k] = 1
        for u, v in w: pass
        with ctx() as (cm1, cm2): pass
        if cond:
            in_if = 1
        else:
            in_else = 1
        try:
            in_try = 1
        except E as err:
            in_handler = 1
        print(walrus := 1)
        [inner := z for z in range(3)]
        fn = lambda: (not_global := 1)
        def setter():
            global set_later
            set_later = 1
            local_only = 1
        match m:
            case [m1, *m_rest]: pass
            case {"k": m2, **m_more}: pass
            case Point(x=m3) | (m4 as m5): pass
        type Alias = int
        "#));
    insta::assert_debug_snapshot!(parsed.bindings);
}

#[test]
fn dunder_all_forms() {
    let all = |text: &str| parse_module(&src(text)).bindings.dunder_all;
    assert_eq!(all("x = 1\n"), None);
    assert_eq!(
        all(
            "__all__ = ['a', \"b\"]\n__all__ += ('c',)\n__all__.extend(['d'])\n__all__.append('e')\n__all__.remove('a')\n"
        ),
        Some(vec!["b".into(), "c".into(), "d".into(), "e".into()])
    );
    assert_eq!(
        all("__all__: list[str] = ['a'] + ['b']\n"),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(all("__all__ = ['a']\n__all__ += sub.__all__\n"), None);
    assert_eq!(all("__all__ = make()\n"), None);
    assert_eq!(all("__all__ = [name for name in dir()]\n"), None);
    assert_eq!(
        all("if x:\n    __all__ = ['a']\nelse:\n    __all__ = ['b']\n"),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        all("__getattr__, __dir__, __all__ = attach(__name__)\n"),
        None
    );
}

/// What a module-level `__getattr__` serves, from the shapes real packages use (Flask 3,
/// pandas 1, scipy, lazy tables) and the ones that must stay open.
#[test]
fn the_names_a_module_getattr_serves() {
    let served = |text: &str| -> Option<Vec<String>> {
        let b = parse_module(text).bindings;
        assert!(b.has_getattr, "{text}");
        b.getattr_names.map(|n| n.into_iter().collect())
    };
    let names = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    // starlette.status: a lookup with `.get(name)` in a module-level table, then a truth test.
    assert_eq!(
        served(
            "__deprecated__ = {'WS_1004_NO_STATUS_RCVD': 1004, 'WS_1005_ABNORMAL_CLOSURE': 1005}\ndef __getattr__(name: str) -> int:\n    changes = {'WS_1004_NO_STATUS_RCVD': 'WS_1005_NO_STATUS_RCVD'}\n    deprecated = __deprecated__.get(name)\n    if deprecated:\n        warn(f'{name} is deprecated, use {changes[name]}')\n        return deprecated\n    raise AttributeError(name)\n"
        ),
        names(&["WS_1004_NO_STATUS_RCVD", "WS_1005_ABNORMAL_CLOSURE"])
    );
    // `is None` raising first, a table written in the function, a `None` default.
    assert_eq!(
        served(
            "def __getattr__(name):\n    value = {'a': 1, 'b': 0}.get(name, None)\n    if value is None:\n        raise AttributeError(name)\n    return value\n"
        ),
        names(&["a", "b"])
    );
    // A falsy value takes the other branch: `if not v: return fallback` serves every name.
    assert_eq!(
        served(
            "T = {'a': 1}\ndef __getattr__(name):\n    v = T.get(name)\n    if not v:\n        return fallback(name)\n    return v\n"
        ),
        None
    );
    // Not a lookup local: rebound, another default, a table that is not a literal.
    for text in [
        "T = {'a': 1}\ndef __getattr__(name):\n    v = T.get(name)\n    v = other(name)\n    if v:\n        return v\n    raise AttributeError(name)\n",
        "T = {'a': 1}\ndef __getattr__(name):\n    v = T.get(name, 0)\n    if v is None:\n        raise AttributeError(name)\n    return v\n",
        "T = make()\ndef __getattr__(name):\n    v = T.get(name)\n    if v:\n        return v\n    raise AttributeError(name)\n",
    ] {
        assert_eq!(served(text), None, "{text}");
    }
    // Flask 3.
    assert_eq!(
        served(
            "def __getattr__(name: str):\n    if name == '__version__':\n        import warnings\n        warnings.warn('x')\n        return version('flask')\n    raise AttributeError(name)\n"
        ),
        names(&["__version__"])
    );
    // pandas 1: `elif`s, a set test.
    assert_eq!(
        served(
            "def __getattr__(name):\n    import warnings\n    if name == 'datetime':\n        return 1\n    elif name in {'SparseSeries', 'SparseDataFrame'}:\n        return 2\n    raise AttributeError(f'no {name}')\n"
        ),
        names(&["SparseDataFrame", "SparseSeries", "datetime"])
    );
    // scipy: a module-level list, `globals()[name]` serves only what is bound.
    assert_eq!(
        served(
            "submodules = ['linalg', 'stats']\ndef __getattr__(name):\n    if name in submodules:\n        return imp(name)\n    else:\n        try:\n            return globals()[name]\n        except KeyError:\n            raise AttributeError(name)\n"
        ),
        names(&["linalg", "stats"])
    );
    // A guard first, a table lookup, `.keys()`, a literal defined after the function.
    assert_eq!(
        served(
            "def __getattr__(attr):\n    if attr not in _LAZY.keys():\n        raise AttributeError(attr)\n    return load(_LAZY[attr])\n_LAZY = {'a': 'x', 'b': 'y'}\n"
        ),
        names(&["a", "b"])
    );
    assert_eq!(
        served(
            "_T = dict(a=1)\ndef __getattr__(n):\n    try:\n        return _T[n]\n    except KeyError:\n        raise AttributeError(n) from None\n"
        ),
        names(&["a"])
    );
    // Django: a lookup in a literal table raises `KeyError` for every other name.
    assert_eq!(
        served(
            "_dep = {'SafeMIMEText': 'x'}\ndef __getattr__(name):\n    try:\n        msg = _dep[name]\n    except KeyError:\n        raise AttributeError(name) from None\n    else:\n        return getattr(message, name)\n"
        ),
        names(&["SafeMIMEText"])
    );
    // Branches that raise serve nothing (numpy's expired attributes).
    assert_eq!(
        served(
            "def __getattr__(attr):\n    if attr in __former_attrs__:\n        raise AttributeError(attr)\n    if attr == 'testing' or attr == 'fft':\n        return 1\n    raise AttributeError(attr)\n"
        ),
        names(&["fft", "testing"])
    );

    for open in [
        // Falls off the end: returns None for every name.
        "def __getattr__(name):\n    if name == 'a':\n        return 1\n",
        "def __getattr__(name):\n    return _lazy(name)\n",
        "def __getattr__(name):\n    if name.startswith('x'):\n        return 1\n    raise AttributeError(name)\n",
        "def __getattr__(name):\n    name = 'a' + name\n    if name == 'ab':\n        return 1\n    raise AttributeError(name)\n",
        // A table changed after its literal.
        "_T = {'a': 1}\n_T['b'] = 2\ndef __getattr__(n):\n    if n in _T:\n        return _T[n]\n    raise AttributeError(n)\n",
        "_T = {'a': 1}\n_T = more()\ndef __getattr__(n):\n    if n in _T:\n        return 1\n    raise AttributeError(n)\n",
        "def __getattr__(name):\n    for k in table:\n        if k == name:\n            return 1\n    raise AttributeError(name)\n",
        "def __getattr__(name):\n    try:\n        raise AttributeError(name)\n    finally:\n        return 1\n",
        "def __getattr__(name):\n    yield name\n",
        "@cache\ndef __getattr__(name):\n    raise AttributeError(name)\n",
        "def __getattr__(name):\n    raise AttributeError(name)\nfrom ._lazy import __getattr__\n",
        "if x:\n    def __getattr__(name):\n        raise AttributeError(name)\nelse:\n    def __getattr__(name):\n        return 1\n",
    ] {
        assert_eq!(served(open), None, "{open}");
    }
    let b = parse_module("def __getattr__(name):\n    raise AttributeError(name)\n").bindings;
    assert_eq!(b.getattr_names, Some(Default::default()));
    assert!(!b.getattr_serves("Markup"));
}

#[test]
fn getattr_and_dynamic_namespace() {
    let b = |text: &str| parse_module(text).bindings;
    assert!(b("def __getattr__(name):\n    raise AttributeError(name)\n").has_getattr);
    assert!(b("if x:\n    def __getattr__(name): ...\n").has_getattr);
    assert!(b("__getattr__, __dir__, __all__ = lazy.attach(__name__)\n").has_getattr);
    assert!(!b("class C:\n    def __getattr__(self, n): ...\n").has_getattr);

    for dynamic in [
        "globals().update(x)\n",
        "globals()['a'] = 1\n",
        "globals().setdefault('a', 1)\n",
        "vars()['a'] = 1\n",
        "import sys\nsys.modules[__name__] = Wrapper()\n",
        "import sys\nsetattr(sys.modules[__name__], 'a', 1)\n",
        "exec(code)\n",
        "def f():\n    exec(code, globals())\n",
        "install(globals())\n",
        "__path__ = extend_path(__path__, __name__)\n",
        "__path__.append('x')\n",
        "def f():\n    globals()[n] = v\n",
        "def _build():\n    namespace = globals()\n    namespace[name] = cls\n",
        "_IntEnum._convert_('VerifyFlags', __name__, lambda n: n.startswith('V'), source=_ssl)\n",
        "IntEnum._convert('Signals', __name__, lambda n: n.isupper())\n",
        "import enum\n@enum.global_enum\n@enum._simple_enum(enum.IntFlag)\nclass RegexFlag:\n    I = 2\n",
        "from enum import global_enum, IntFlag\n@global_enum\nclass F(IntFlag):\n    A = 1\n",
    ] {
        assert!(b(dynamic).dynamic_namespace, "{dynamic}");
    }
    for static_ns in [
        "x = globals().get('a')\n",
        // typing's `__getattr__` caches what it serves (the names it serves are its own
        // analysis).
        "def __getattr__(attr):\n    if attr == 'Pattern':\n        obj = 1\n    else:\n        raise AttributeError(attr)\n    globals()[attr] = obj\n    return obj\n",
        // os reads through its alias only.
        "_globals = globals()\ndef _add(s, fn):\n    if fn in _globals:\n        S.add(_globals[fn])\n",
        "def f():\n    vars()['a'] = 1\n",
        "def f():\n    exec(code)\n",
        "d = {}\nd['a'] = 1\n",
        "E._convert_('E', 'other.module', pred)\n",
        // Registering another module leaves this one's names static.
        "import sys\nsys.modules['os.path'] = path\n",
        "import sys, io\nsys.modules[io.__name__] = io\n",
        "def f():\n    E._convert_('E', __name__, pred)\n",
        "import enum\n@enum.unique\nclass F(enum.IntFlag):\n    A = 1\n",
        "import enum\ndef f():\n    @enum.global_enum\n    class F(enum.IntFlag):\n        A = 1\n",
    ] {
        assert!(!b(static_ns).dynamic_namespace, "{static_ns}");
    }
}

#[test]
fn star_imports_only_at_module_level() {
    let parsed = parse_module("from a import *\nif x:\n    from .b import *\n");
    assert_eq!(
        parsed.bindings.star_imports,
        vec![(Some("a".to_owned()), 0), (Some("b".to_owned()), 1)]
    );
}

#[test]
fn syntax_errors_are_recorded_not_fatal() {
    let parsed = parse_module("import ok\ndef broken(:\n    pass\n");
    assert!(!parsed.syntax_errors.is_empty());
    assert_eq!(parsed.syntax_errors[0].line, 2);
    assert!(!parsed.python2_hint);
    assert!(parsed.imports.iter().any(|s| s.statement == "import ok"));
}

#[test]
fn python2_print_hint() {
    assert!(parse_module("import os\nprint \"hello\"\n").python2_hint);
    assert!(
        parse_module("def f():\n    print >>sys.stderr, \"x\"\n    print \"y\"\n").python2_hint
    );
    // `print >>f, x` alone is a valid (if useless) Python 3 tuple expression.
    assert!(parse_module("print >>f, x\n").syntax_errors.is_empty());
    assert!(parse_module("print x\n").python2_hint);
    // Valid Python 3: no errors, no hint.
    assert!(!parse_module("print(\"hello\")\nprint\n").python2_hint);
    // Broken, but not because of print.
    assert!(!parse_module("print('x')\ndef (:\n").python2_hint);
}

#[test]
fn pathological_nesting_is_not_parsed() {
    let deep = format!(
        "x = {}1{}\nimport os\n",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let parsed = parse_module(&deep);
    assert_eq!(parsed.syntax_errors.len(), 1);
    assert_eq!(parsed.syntax_errors[0].message, "too deeply nested");
    assert!(parsed.imports.is_empty());

    // Brackets inside strings and comments do not count.
    let fine = format!(
        "s = '{}'\n# {}\nimport os\n",
        "(".repeat(5_000),
        "[".repeat(5_000)
    );
    assert_eq!(parse_module(&fine).imports.len(), 1);

    let mut indented = String::new();
    for depth in 0..1_100 {
        indented.push_str(&" ".repeat(depth));
        indented.push_str("if x:\n");
    }
    indented.push_str(&" ".repeat(1_100));
    indented.push_str("pass\n");
    assert_eq!(
        parse_module(&indented).syntax_errors[0].message,
        "too deeply nested"
    );
}

#[test]
fn parse_many_keeps_order_and_survives_deep_input() {
    let files: Vec<(String, Arc<[u8]>)> = (0..40)
        .map(|i| {
            let text = if i % 7 == 0 {
                // Deep but under the limit: needs the big worker stack.
                format!("x = {}1{}\nimport m{i}\n", "[".repeat(900), "]".repeat(900))
            } else {
                format!("import m{i}\n")
            };
            (format!("f{i}.py"), Arc::from(text.into_bytes()))
        })
        .collect();
    let out = parse_many(files);
    assert_eq!(out.len(), 40);
    for (i, (path, parsed)) in out.iter().enumerate() {
        assert_eq!(path, &format!("f{i}.py"));
        assert_eq!(
            parsed.imports[0].kind,
            ImportKind::Import {
                module: format!("m{i}")
            }
        );
    }
}

#[test]
fn condition_evaluation() {
    let env = TargetEnv {
        version: (3, 11, 4),
        sys_platform: "linux".into(),
        os_name: "posix".into(),
        platform_system: "Linux".into(),
        paths: Default::default(),
    };
    let reach = |text: &str| {
        let parsed = parse_module(&src(text));
        parsed
            .imports
            .last()
            .unwrap()
            .context
            .condition
            .as_ref()
            .unwrap()
            .reaches(&env)
    };
    assert_eq!(
        reach("import sys\nif sys.version_info >= (3, 11):\n    import x\n"),
        Some(true)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info >= (3, 11):\n    pass\nelse:\n    import x\n"),
        Some(false)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info >= (3, 11, 4):\n    import x\n"),
        Some(true)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info > (3, 11, 4):\n    import x\n"),
        Some(true)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info[:2] > (3, 11):\n    import x\n"),
        Some(false)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info[:2] == (3, 11):\n    import x\n"),
        Some(true)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info == (3, 11):\n    import x\n"),
        Some(false)
    );
    assert_eq!(
        reach("import sys\nif sys.version_info < (3, 11, 4, 0):\n    import x\n"),
        None
    );
    assert_eq!(
        reach("import sys\nif sys.version_info[0] == 2:\n    import x\n"),
        Some(false)
    );
    assert_eq!(
        reach("import sys\nif sys.platform == 'win32':\n    import x\n"),
        Some(false)
    );
    assert_eq!(
        reach("import sys\nif sys.platform.startswith('lin'):\n    import x\n"),
        Some(true)
    );
    assert_eq!(
        reach("import os\nif os.name in ('nt', 'java'):\n    pass\nelse:\n    import x\n"),
        Some(true)
    );
    assert_eq!(reach("if weird():\n    import x\n"), None);
}

#[test]
fn long_operator_chains_are_not_parsed() {
    for chain in [
        format!("x = 1{}\n", "+1".repeat(12_000)),
        format!("y = {}a\n", "-".repeat(12_000)),
        format!("z = a{}\n", ".b".repeat(12_000)),
        format!("w = {}a\n", "not ".repeat(12_000)),
        format!("v = {}1\n", "lambda: ".repeat(12_000)),
    ] {
        let parsed = parse_module(&chain);
        assert_eq!(parsed.syntax_errors[0].message, "too deeply nested");
    }
    // Long flat data is fine: commas end each chain.
    let table = format!("T = [{}]\nimport os\n", "-1.5e-3, a.b, ".repeat(20_000));
    let out = parse_many(vec![("t.py".into(), Arc::from(table.into_bytes()))]);
    assert!(out[0].1.syntax_errors.is_empty());
    assert_eq!(out[0].1.imports.len(), 1);
    // Just under the limit still parses on the worker stack.
    let near = format!("x = 1{}\nimport os\n", "+1".repeat(9_000));
    let out = parse_many(vec![("n.py".into(), Arc::from(near.into_bytes()))]);
    assert_eq!(out[0].1.imports.len(), 1);
}

#[test]
fn find_spec_guards() {
    let out = sites(&src(r#"
        import importlib.util
        from importlib.util import find_spec
        if importlib.util.find_spec("yaml"):
            import yaml
        if find_spec("ujson") is not None:
            import ujson
        else:
            import json
        if find_spec("orjson") is None:
            import json
        else:
            import orjson
        if not find_spec("rich"):
            pass
        else:
            import rich
        if find_spec("a") and x:
            import a
        import after
        "#));
    let guarded: Vec<&str> = out
        .iter()
        .filter(|l| l.contains("guarded"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    assert_eq!(
        guarded,
        vec![
            "import yaml",
            "import ujson",
            "import orjson",
            "import rich",
            "import a"
        ]
    );
}

#[test]
fn existence_tests_follow_literal_and_file_relative_paths() {
    let text = "\
import os
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.exists('hc/local_settings.py'):
    from hc import local_settings
if (BASE_DIR / 'hc/local_settings.py').exists():
    from .local_settings import *
if not os.path.isfile(os.path.join(HERE, 'extra.py')):
    pass
else:
    import extra
if Path('/etc/app.conf').is_file():
    import conf
if unknown_path.exists():
    import unknown
";
    let parsed = parse_module_at(text, Some("/app/hc/settings.py"));
    let conditions: Vec<Vec<Condition>> = parsed
        .imports
        .iter()
        .map(|s| s.context.conditions.clone())
        .collect();
    let exists = |path: &str, kind: PathKind, negated: bool, branch: Branch| {
        vec![Condition::PathExists {
            path: path.into(),
            kind,
            negated,
            branch,
        }]
    };
    assert_eq!(
        conditions,
        vec![
            vec![],
            vec![],
            exists(
                "hc/local_settings.py",
                PathKind::Exists,
                false,
                Branch::Body
            ),
            exists(
                "/app/hc/local_settings.py",
                PathKind::Exists,
                false,
                Branch::Body
            ),
            exists("/app/hc/extra.py", PathKind::File, true, Branch::Else),
            exists("/etc/app.conf", PathKind::File, false, Branch::Body),
            vec![Condition::Unknown],
        ]
    );
    // Without the file's path, `__file__`-relative tests are unknown.
    let parsed = parse_module(text);
    assert_eq!(
        parsed.imports[3].context.conditions,
        vec![Condition::Unknown]
    );
}

/// The tokenizer's refusal comes first, at the offending byte, whatever the parser says after;
/// a replacement character (which a file may really contain, as click's `utils.py` does) is
/// not taken for an undecodable byte.
#[test]
fn null_bytes_are_one_syntax_error() {
    let nul = parse_module("import os\n\0\n");
    assert_eq!(
        nul.syntax_errors[0].message,
        "source code cannot contain null bytes"
    );
    assert_eq!(nul.syntax_errors[0].line, 2);
    assert!(parse_module("x = '\u{fffd}'\n").syntax_errors.is_empty());
    assert!(parse_module("x = 'café'\n").syntax_errors.is_empty());
}

/// Undecodable bytes are judged from the file's bytes, where CPython judges them: an import
/// fails on one inside a string or a name (at that token, with the codec's own words), not in a
/// comment; a run by path fails on the first one anywhere; a PEP 263 declaration or a BOM
/// makes the bytes valid.
#[test]
fn undecodable_bytes_are_one_syntax_error_where_cpython_decodes() {
    let p = crate::parse_bytes(b"import os\nx = \"caf\xe9\"\n", Some("/app/m.py"));
    assert_eq!(p.syntax_errors.len(), 1, "{p:?}");
    let e = &p.syntax_errors[0];
    assert_eq!(
        e.message,
        "(unicode error) 'utf-8' codec can't decode byte 0xe9 in position 3: unexpected end of data"
    );
    assert_eq!((e.line, e.column), (2, 5));
    let script = p.script_error.expect("run by path fails too");
    assert_eq!(
        script.message,
        "Non-UTF-8 code starting with '\\xe9' in file /app/m.py on line 2, but no encoding declared; see https://peps.python.org/pep-0263/ for details"
    );
    assert_eq!(p.imports.len(), 1);

    let two = crate::parse_bytes(b"x = \"\xe9\xe9\"\ny = 'ab\xff'\n", None);
    assert_eq!(
        two.syntax_errors[0].message,
        "(unicode error) 'utf-8' codec can't decode byte 0xe9 in position 0: invalid continuation byte"
    );
    let start = crate::parse_bytes(b"x = 1\ny = 'ab\xff'", None);
    assert!(
        start.syntax_errors[0]
            .message
            .ends_with("position 2: invalid start byte"),
        "{start:?}"
    );
    let name = crate::parse_bytes(b"import os\nx\xe9 = 1\n", None);
    assert!(
        name.syntax_errors[0].message.contains("position 1"),
        "{name:?}"
    );
    assert_eq!(name.syntax_errors[0].line, 2);

    // In a comment: the import is fine, the run by path is not.
    let comment = crate::parse_bytes(b"import os\n# caf\xe9\n", Some("/app/c.py"));
    assert!(comment.syntax_errors.is_empty(), "{comment:?}");
    assert_eq!(comment.script_error.map(|e| e.line), Some(2));

    // Declarations and the BOM.
    for ok in [
        &b"# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n"[..],
        b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\nx = '\x93'\n",
        b"\xef\xbb\xbfx = 'caf\xc3\xa9'\n",
        b"x = '\xef\xbf\xbd'\n",
    ] {
        let p = crate::parse_bytes(ok, None);
        assert!(
            p.syntax_errors.is_empty() && p.script_error.is_none(),
            "{p:?}"
        );
    }
    let latin = crate::parse_bytes(b"# coding: latin-1\nx = 'caf\xe9'\n", None);
    assert!(latin.bindings.names.contains("x"));
    // ...not on the third line, nor on the second after code.
    for late in [
        &b"\n\n# coding: latin-1\nx = '\xe9'\n"[..],
        b"x = 1\n# coding: latin-1\nx = '\xe9'\n",
    ] {
        assert!(!crate::parse_bytes(late, None).syntax_errors.is_empty());
    }
    // A byte the declared codec has no character for refuses the whole file.
    let cp = crate::parse_bytes(b"# coding: cp1252\nx = '\x81'\n", None);
    assert_eq!(
        cp.syntax_errors[0].message,
        "'charmap' codec can't decode byte 0x81 in position 22: character maps to <undefined>"
    );
    let bom = crate::parse_bytes(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", None);
    assert_eq!(
        bom.syntax_errors[0].message,
        "encoding problem: iso-8859-1 with BOM"
    );
    // A syntax error before the bad literal is what CPython reports.
    let before = crate::parse_bytes(b"x = 1 +\n\"\xe9\"\n", None);
    assert!(
        !before.syntax_errors[0].message.contains("unicode error"),
        "{before:?}"
    );
}

fn loads(source: &str) -> Vec<String> {
    parse_module(source)
        .native_loads
        .iter()
        .map(|l| {
            format!(
                "{}:{} {:?} guarded={} fn={}",
                l.line,
                l.column,
                l.target,
                l.caught(),
                matches!(l.context.scope, Scope::Function(_))
            )
        })
        .collect()
}

#[test]
fn ctypes_loads_with_constant_names() {
    assert_eq!(
        loads(
            "import ctypes\nfrom ctypes import CDLL, cdll\nimport ctypes.util as cu\n\
             ctypes.CDLL('libz.so.1')\nCDLL(f'libm.so' '.6')\ncdll.LoadLibrary('lib' + 'x.so')\n\
             cdll.libfoo\ncdll['libbar.so.2'].f\nctypes.PyDLL(name='libpy.so')\n\
             CDLL(cu.find_library('pq'))\nCDLL(some_name)\nCDLL(f'lib{x}.so')\ncdll._private\n"
        ),
        [
            "4:1 Dlopen(\"libz.so.1\") guarded=false fn=false",
            "5:1 Dlopen(\"libm.so.6\") guarded=false fn=false",
            "6:1 Dlopen(\"libx.so\") guarded=false fn=false",
            "7:1 Dlopen(\"libfoo\") guarded=false fn=false",
            "8:1 Dlopen(\"libbar.so.2\") guarded=false fn=false",
            "9:1 Dlopen(\"libpy.so\") guarded=false fn=false",
            "10:1 DlopenFound(\"pq\") guarded=false fn=false",
        ]
    );
}

#[test]
fn ctypes_loads_guards_variables_and_requirements() {
    assert_eq!(
        loads(
            "import ctypes, ctypes.util\nname = ctypes.util.find_library('pq')\n\
             if not name:\n    raise ImportError('no libpq')\nlib = ctypes.CDLL(name)\n\
             try:\n    ctypes.CDLL('liba.so')\nexcept OSError:\n    pass\n\
             try:\n    ctypes.CDLL('libb.so')\nexcept ImportError:\n    pass\n\
             def f():\n    ctypes.CDLL('libc.so')\n\
             c = ctypes.util.find_library('c')\nif not c:\n    c = 'libc.so'\nctypes.CDLL(c)\n\
             from contextlib import suppress\nwith suppress(FileNotFoundError, OSError):\n    ctypes.CDLL('libd.so')\n\
             try:\n    ctypes.CDLL('libe.so')\nexcept (ValueError, EnvironmentError) as e:\n    log(e)\n\
             try:\n    ctypes.CDLL('libf.so')\nexcept OSError:\n    raise RuntimeError('no libf')\n"
        ),
        [
            "3:1 RequireFound(\"pq\") guarded=false fn=false",
            "5:7 DlopenFound(\"pq\") guarded=false fn=false",
            "7:5 Dlopen(\"liba.so\") guarded=true fn=false",
            "11:5 Dlopen(\"libb.so\") guarded=false fn=false",
            "15:5 Dlopen(\"libc.so\") guarded=false fn=true",
            "22:5 Dlopen(\"libd.so\") guarded=true fn=false",
            "24:5 Dlopen(\"libe.so\") guarded=true fn=false",
            "28:5 Dlopen(\"libf.so\") guarded=false fn=false",
        ]
    );
}

#[test]
fn fallback_chains_finders_and_calls_at_import() {
    let parsed = parse_module(
        "import os\n\
         def pick():\n    chosen = None\n    try:\n        from fast_impl import core as chosen\n    except Exception as e:\n        note(e)\n\
         \n    if not chosen:\n        try:\n            from . import slow_impl as chosen\n        except ImportError:\n            pass\n\
         \n    if chosen:\n        use(chosen)\n    elif os.environ.get('X'):\n        raise ImportError('asked for X')\n    else:\n        raise ImportError('nothing')\n\
         pick()\n",
    );
    assert_eq!(parsed.called_at_import, ["pick"]);
    assert_eq!(parsed.fallbacks.len(), 1, "{:?}", parsed.fallbacks);
    let alternatives: Vec<&str> = parsed.fallbacks[0]
        .alternatives
        .iter()
        .map(|&i| parsed.imports[i].statement.as_str())
        .collect();
    assert_eq!(
        alternatives,
        [
            "from fast_impl import core as chosen",
            "from . import slow_impl as chosen"
        ]
    );

    let parsed = parse_module(
        "import sys, ctypes.util\nfrom .helpers import locate\n\
         def finder():\n    if sys.platform == 'win32':\n        name = ctypes.util.find_library('x.dll')\n    else:\n        name = ctypes.util.find_library('x')\n    return name\n\
         path = locate()\nif not path:\n    raise ImportError('no libx')\n",
    );
    assert_eq!(parsed.finders.len(), 1);
    assert_eq!(parsed.finders[0].candidates.len(), 2);
    assert_eq!(parsed.finders[0].candidates[1].1, "x");
    assert!(
        matches!(
            &parsed.native_loads[..],
            [NativeLoad { target: LoadTarget::RequireFoundVia(FinderRef { level: 1, module: Some(m), function: f }), .. }]
                if m == "helpers" && f == "locate"
        ),
        "{:?}",
        parsed.native_loads
    );
}

/// What the startup path needs to follow calls into function bodies: the module's plain
/// functions and its classes' methods (generators and `async def` do not run when called),
/// the calls of names the module binds with who makes them, and for each import the function
/// whose call runs it.
#[test]
fn functions_calls_and_the_function_an_import_runs_in() {
    let parsed = parse_module(
        "import views\nfrom .factory import make as build\n\n\
         def create_app(config=None):\n    from . import ext\n    ext.init()\n    setup(1)\n    class C:\n        import in_class\n    def inner():\n        import nested\n        helper()\n    return build()\n\n\
         def setup(x):\n    pass\n\n\
         def gen():\n    import g\n    yield 1\n\n\
         async def serve():\n    pass\n\n\
         class K:\n    def method(self):\n        import in_method\n        setup(2)\n\n\
         app = create_app()\nprint(len([]))\nviews.register(app)\ncb = lambda: setup(3)\n",
    );
    let functions: Vec<(&str, bool, bool, bool)> = parsed
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.bare_call, f.generator, f.coroutine))
        .collect();
    assert_eq!(
        functions,
        [
            ("create_app", true, false, false),
            ("setup", false, false, false),
            ("gen", true, true, false),
            ("serve", true, false, true),
            ("K.method", false, false, false)
        ]
    );
    let calls: Vec<(&str, Option<&str>)> = parsed
        .calls
        .iter()
        .map(|c| (c.callee.as_str(), c.context.in_function.as_deref()))
        .collect();
    assert_eq!(
        calls,
        [
            ("ext.init", Some("create_app")),
            ("setup", Some("create_app")),
            ("build", Some("create_app")),
            ("setup", Some("K.method")),
            ("create_app", None),
            ("views.register", None),
        ]
    );
    let runs_in: Vec<(&str, Option<&str>)> = parsed
        .imports
        .iter()
        .map(|s| (s.statement.as_str(), s.context.in_function.as_deref()))
        .collect();
    assert_eq!(
        runs_in,
        [
            ("import views", None),
            ("from .factory import make as build", None),
            ("from . import ext", Some("create_app")),
            ("import in_class", Some("create_app")),
            ("import nested", None),
            ("import g", Some("gen")),
            ("import in_method", Some("K.method")),
        ]
    );
    let bound: Vec<Option<String>> = parsed.imports.iter().map(|s| s.bound_name()).collect();
    assert_eq!(bound[0].as_deref(), Some("views"));
    assert_eq!(bound[1].as_deref(), Some("build"));
    assert_eq!(bound[2].as_deref(), Some("ext"));
}

/// `if __name__ == "__main__":` is decided per module (`main_only`), not left as an unknown
/// condition; `!=` and the `else` arm are the other way round.
#[test]
fn dunder_main_arms_are_marked_not_conditional() {
    let parsed = parse_module(
        "if __name__ == '__main__':\n    import a\nelse:\n    import b\nif '__main__' != __name__:\n    import c\nif x:\n    import d\n\
         if not TYPE_CHECKING and __name__ == '__main__':\n    import e\nelse:\n    import f\n",
    );
    let got: Vec<(&str, Option<bool>, usize)> = parsed
        .imports
        .iter()
        .map(|s| {
            (
                s.statement.as_str(),
                s.context.main_only,
                s.context.conditions.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("import a", Some(true), 0),
            ("import b", Some(false), 0),
            ("import c", Some(false), 0),
            ("import d", None, 1),
            ("import e", Some(true), 1),
            ("import f", None, 1),
        ]
    );
}

/// The `else` arm of a `try` guarding imports runs only when they worked: like a handler, it
/// depends on what they found. A `try` that catches something else leaves its `else` alone.
#[test]
fn else_arm_of_a_guarded_try_depends_on_its_imports() {
    let parsed = parse_module(
        "try:\n    import greenlet\nexcept ImportError:\n    have = False\nelse:\n    from ._py3k import await_only\n\
         try:\n    x = int('1')\nexcept ValueError:\n    pass\nelse:\n    import json\n",
    );
    let got: Vec<(&str, bool, bool)> = parsed
        .imports
        .iter()
        .map(|s| (s.statement.as_str(), s.context.guarded(), s.context.handler))
        .collect();
    assert_eq!(
        got,
        [
            ("import greenlet", true, false),
            ("from ._py3k import await_only", false, true),
            ("import json", false, false),
        ]
    );
}

/// Syntax newer than an interpreter is a syntax error on that interpreter only, with the
/// version that added it; the tree is the same whatever the target.
#[test]
fn newer_syntax_is_an_error_only_before_its_version() {
    let src = "def f(d):\n    match d:\n        case _:\n            pass\n\ntry:\n    pass\nexcept ValueError, TypeError:\n    pass\nx = f\"{d[\"k\"]}\"\nimport os\n";
    let parsed = parse_module(src);
    assert!(
        parsed.syntax_errors.is_empty(),
        "{:?}",
        parsed.syntax_errors
    );
    let since: Vec<(u32, u32)> = parsed.newer_syntax.iter().map(|n| n.since).collect();
    assert_eq!(
        since,
        [(3, 10), (3, 14), (3, 12)],
        "{:?}",
        parsed.newer_syntax
    );
    assert_eq!(parsed.imports.len(), 1);
    let errors = |minor| {
        parsed
            .clone()
            .for_version(3, minor)
            .syntax_errors
            .iter()
            .map(|e| (e.line, e.message.clone()))
            .collect::<Vec<_>>()
    };
    assert!(errors(14).is_empty());
    let on_313 = errors(13);
    assert_eq!(on_313.len(), 1, "{on_313:?}");
    assert_eq!(on_313[0].0, 8);
    assert!(
        on_313[0]
            .1
            .contains("Multiple exception types must be parenthesized on Python 3.13"),
        "{on_313:?}"
    );
    let lines: Vec<u32> = errors(9).iter().map(|e| e.0).collect();
    assert_eq!(lines, [2, 8, 10]);
    assert_eq!(newer_syntax_text("no version here"), None);
}

#[test]
fn where_names_are_first_bound() {
    let src = "import os\nfrom x import *\nclass C:\n    import y\n\nif os:\n    a = 1\nelse:\n    a = 2\ndef f():\n    global g\n    g = 1\nfor i in []:\n    pass\nwith open('p') as h:\n    pass\na = 3\n";
    let first = first_bindings(src.as_bytes()).unwrap();
    let line = |n: &str| first.get(n).map(|p| p.0);
    assert_eq!(line("os"), Some(1));
    assert_eq!(line("*"), Some(2));
    // A class binds its name once its body has run: at the end of the statement, after the
    // import in its body (line 4, column 5).
    assert!(first.get("C").is_some_and(|&p| p > (4, 5)), "{first:?}");
    // The first binding wins, conditional or not.
    assert_eq!(line("a"), Some(7));
    // A `global` in a function may bind at any time: as early as can be.
    assert_eq!(first.get("g"), Some(&(1, 1)));
    assert_eq!(line("f"), Some(10));
    assert_eq!(line("i"), Some(13));
    assert_eq!(line("h"), Some(15));
    // Names of a class body or a function are not the module's.
    assert_eq!(line("y"), None);
    assert_eq!(first_bindings(b"def (:\n"), None);
}

#[test]
fn fallbacks_know_the_try_whose_imports_they_replace() {
    let src = "try:\n    import tomllib\n    HAS = True\nexcept ImportError:\n    import tomli as tomllib\n\
try:\n    import a\n    setup()\nexcept ImportError:\n    import b\n\
try:\n    import c\nexcept KeyError:\n    import d\n";
    let m = parse_module(src);
    let ctx = |name: &str| {
        m.imports
            .iter()
            .find(|s| s.statement.contains(name))
            .map(|s| (s.context.try_body, s.context.fallback_of.clone()))
            .unwrap()
    };
    let (body, _) = ctx("import tomllib");
    let id = body.expect("a try of imports alone has an id");
    assert_eq!(ctx("tomli"), (None, vec![id]));
    // A call in the body may raise ImportError itself; a handler that does not catch it is
    // no fallback.
    assert_eq!(ctx("import a"), (None, vec![]));
    assert_eq!(ctx("import b"), (None, vec![]));
    assert_eq!(ctx("import c"), (None, vec![]));
    assert_eq!(ctx("import d"), (None, vec![]));
}

/// `sys.path` edits whose path the module spells out, with where they sit; computed paths
/// and edits in functions are not recorded.
#[test]
fn sys_path_edits_with_spelled_out_paths() {
    let text = "\
import os, sys, site
from pathlib import Path
BASE = Path(__file__).resolve().parent
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(1, str(BASE / 'src'))
sys.path.append('/opt/lib')
site.addsitedir(os.fspath(BASE / 'vendor'))
if os.environ.get('X'):
    sys.path.append('/maybe')
sys.path.insert(0, os.environ['SRC'])
def f():
    sys.path.append('/later')
";
    let parsed = parse_module_at(text, Some("/app/scripts/run.py"));
    let edits: Vec<(&str, Option<u32>, u32, usize)> = parsed
        .path_edits
        .iter()
        .map(|e| (e.path.as_str(), e.index, e.line, e.context.conditions.len()))
        .collect();
    assert_eq!(
        edits,
        vec![
            ("/app/scripts/..", Some(0), 4, 0),
            ("/app/scripts/src", Some(1), 5, 0),
            ("/opt/lib", None, 6, 0),
            ("/app/scripts/vendor", None, 7, 0),
            ("/maybe", None, 9, 1),
        ]
    );
}

/// The CPythons on this machine with their minor version: pyenv's builds and the system's
/// `python3`, for tables checked against the real compiler.
pub(crate) fn local_pythons() -> Vec<(std::path::PathBuf, u32)> {
    let mut found = Vec::new();
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pyenv")));
    let mut candidates: Vec<std::path::PathBuf> = root
        .and_then(|r| std::fs::read_dir(r.join("versions")).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/python3"))
        .collect();
    candidates.sort();
    candidates.push("/usr/bin/python3".into());
    for python in candidates {
        let Ok(out) = std::process::Command::new(&python)
            .args(["-c", "import sys; print('%d %d' % sys.version_info[:2])"])
            .output()
        else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(("3", minor)) = version.trim().split_once(' ')
            && let Ok(minor) = minor.parse()
        {
            found.push((python, minor));
        }
    }
    found
}

/// Runs `script` with `input` on its stdin and returns its stdout; panics (failing the test)
/// when the interpreter does.
pub(crate) fn run_python(python: &std::path::Path, script: &str, input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{} failed", python.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}
