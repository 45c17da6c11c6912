//! The differential corpus: import-system layouts generated from rule families (FileFinder
//! precedence, namespace portions across entries, PYTHONPATH quirks, `.pth` grammar, venvs, the
//! user site, interpreter flags from argv/Env/shebangs, launch forms, `from` forms, stdlib by
//! version, zipimport, editable installs, `._pth`), each decided by importgate AND by the
//! image's own CPython started exactly as the layout says.
//!
//! All layouts of one interpreter live in one image: each has its own directory `/c/<id>` (its
//! sys.path roots, working directory and files) and module names prefixed with its id, so they
//! cannot interfere; files a layout must put in a shared place (site-packages `.pth` files, the
//! user site of root or `app`) are prefixed with the id too. One container run
//! (`tests/support/corpus_driver.py`) starts every layout's real command line — argv, Env,
//! WorkingDir, User — and the layout's own code executes its import statements, one function
//! per statement, reporting what CPython raised. importgate decides the same statements from
//! the same image with the layout's Cmd/Env/WorkingDir/User in the image config
//! (`importgate_check::check`, the code the CLI runs), and the test fails on any disagreement,
//! printing the layout, the statement, CPython's outcome and importgate's.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use importgate_check::{CheckOptions, ImportStatus, check};
use serde_json::Value;

use crate::support::*;

/// The line the harness prints its results on.
const MARK: &str = "@@importgate-corpus@@ ";

/// One interpreter the corpus runs on.
#[derive(Clone)]
struct Py {
    layout: &'static str,
    minor: u32,
    tag: String,
}

impl Py {
    fn ver(&self) -> String {
        format!("3.{}", self.minor)
    }
    fn debian(&self) -> bool {
        self.layout == "debian"
    }
    /// Where `pip install` writes: the first system site dir.
    fn site(&self) -> String {
        if self.debian() {
            "/usr/lib/python3/dist-packages".into()
        } else {
            format!("/usr/local/lib/python3.{}/site-packages", self.minor)
        }
    }
    fn bindir(&self) -> &'static str {
        if self.debian() {
            "/usr/bin"
        } else {
            "/usr/local/bin"
        }
    }
    fn exe(&self) -> String {
        format!("{}/python3", self.bindir())
    }
    fn stdlib(&self) -> String {
        if self.debian() {
            format!("/usr/lib/python3.{}", self.minor)
        } else {
            format!("/usr/local/lib/python3.{}", self.minor)
        }
    }
    /// `../` enough times to climb from the site dir to `/`.
    fn up_from_site(&self) -> String {
        "../".repeat(self.site().matches('/').count())
    }
    fn label(&self) -> String {
        format!("{}-3.{}", self.layout, self.minor)
    }
}

/// One generated layout: its files, how it starts, and the statements its code executes.
struct Layout {
    id: String,
    /// The rule it exercises, in words (printed on a disagreement).
    about: String,
    files: Vec<Entry>,
    /// Shell commands run at build time (chmod, zips, bytecode), joined into one RUN.
    run: Vec<String>,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: String,
    user: Option<String>,
    /// The file that gets the harness (the program's own code as CPython runs it).
    main: String,
    stmts: Vec<String>,
}

impl Layout {
    fn new(id: &str, about: &str, py: &Py) -> Layout {
        let dir = format!("/c/{id}");
        Layout {
            id: id.to_string(),
            about: about.to_string(),
            files: Vec::new(),
            run: Vec::new(),
            argv: vec![py.exe(), "main.py".into()],
            env: Vec::new(),
            main: format!("{dir}/main.py"),
            cwd: dir,
            user: None,
            stmts: Vec::new(),
        }
    }
    fn f(mut self, path: &str, text: &str) -> Self {
        let p = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/c/{}/{path}", self.id)
        };
        self.files.push(file(p, text));
        self
    }
    fn link(mut self, path: &str, target: &str) -> Self {
        self.files
            .push(symlink(format!("/c/{}/{path}", self.id), target));
        self
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    fn argv(mut self, argv: &[&str]) -> Self {
        self.argv = argv.iter().map(|s| s.to_string()).collect();
        self
    }
    fn main(mut self, path: &str) -> Self {
        self.main = format!("/c/{}/{path}", self.id);
        self
    }
    fn run(mut self, cmd: &str) -> Self {
        self.run.push(cmd.to_string());
        self
    }
    fn s(mut self, stmt: &str) -> Self {
        self.stmts.push(stmt.to_string());
        self
    }
    /// The harness: one function per statement (so each runs even when another raises), then
    /// a runner that records what each raised and prints one JSON line. `json` is imported
    /// only after the statements ran, so it cannot pre-import anything they test.
    fn harness(&self) -> String {
        let mut s = String::new();
        for (i, st) in self.stmts.iter().enumerate() {
            let _ = write!(s, "def t{i}():\n    {st}\n");
        }
        let names: Vec<String> = (0..self.stmts.len()).map(|i| format!("t{i}")).collect();
        let _ = write!(
            s,
            r#"def _importgate_corpus():
    import sys
    me = _importgate_corpus.__code__.co_filename
    out = []
    for f in ({names},):
        r = {{"ok": True, "type": None, "name": None, "import_error": False, "message": None, "in_module_code": False}}
        try:
            f()
        except BaseException as exc:
            tb, inmod = exc.__traceback__, False
            while tb is not None:
                fn = tb.tb_frame.f_code.co_filename
                if not fn.startswith("<") and fn != me:
                    inmod = True
                tb = tb.tb_next
            name = getattr(exc, "name", None)
            r = {{"ok": False, "type": type(exc).__name__, "name": name if isinstance(name, str) else None,
                 "import_error": isinstance(exc, ImportError), "message": str(exc), "in_module_code": inmod}}
        out.append(r)
    import json
    sys.stdout.write({mark:?} + json.dumps({{"results": out, "sys_path": sys.path}}) + "\n")
    sys.stdout.flush()
_importgate_corpus()
"#,
            names = names.join(", "),
            mark = MARK,
        );
        s
    }
    /// Line of statement `i` in the harness.
    fn line_of(i: usize) -> u32 {
        (2 * i + 2) as u32
    }
}

// ---------------------------------------------------------------------------------------------
// Rule families. Each returns layouts for one interpreter; ids are unique across families.

/// FileFinder precedence inside one directory (C6, C9, C11–C15, D3, E3).
fn finder(py: &Py) -> Vec<Layout> {
    let soabi_other = if py.minor == 9 { 10 } else { 9 };
    vec![
        Layout::new("ff01", "package __init__ beats a module of the same name", py)
            .f("ff01_m/__init__.py", "")
            .f("ff01_m/sub.py", "")
            .f("ff01_m.py", "")
            .s("import ff01_m.sub"),
        Layout::new("ff02", "a module beats a namespace directory of the same name", py)
            .f("ff02_m/sub.py", "")
            .f("ff02_m.py", "")
            .s("import ff02_m")
            .s("import ff02_m.sub"),
        Layout::new("ff03", "legacy sourceless .pyc in the directory is importable", py)
            .f("ff03_m.py", "X = 1\n")
            .run("cd /c/ff03 && python3 -c \"import py_compile; py_compile.compile('ff03_m.py', cfile='ff03_m.pyc')\" && rm ff03_m.py")
            .s("import ff03_m")
            .s("from ff03_m import X"),
        Layout::new("ff04", "__pycache__ bytecode alone is not importable", py)
            .f("ff04_m.py", "X = 1\n")
            .run("cd /c/ff04 && python3 -m py_compile ff04_m.py && rm ff04_m.py")
            .s("import ff04_m"),
        Layout::new("ff05", "extension built for another CPython or CPU is invisible", py)
            .f(
                &format!("ff05_a.cpython-3{soabi_other}-x86_64-linux-gnu.so"),
                "not elf",
            )
            .f(
                &format!("ff05_b.cpython-3{}-aarch64-linux-gnu.so", py.minor),
                "not elf",
            )
            .f(
                &format!("ff05_c.cpython-3{}-x86_64-linux-musl.so", py.minor),
                "not elf",
            )
            .s("import ff05_a")
            .s("import ff05_b")
            .s("import ff05_c"),
        Layout::new("ff06", "package with only a legacy __init__.pyc", py)
            .f("ff06_p/__init__.py", "")
            .f("ff06_p/sub.py", "")
            .run("cd /c/ff06/ff06_p && python3 -c \"import py_compile; py_compile.compile('__init__.py', cfile='__init__.pyc')\" && rm __init__.py")
            .s("import ff06_p")
            .s("import ff06_p.sub"),
        Layout::new("ff07", "__INIT__.py does not make a package: a namespace package", py)
            .f("ff07_p/__INIT__.py", "raise RuntimeError\n")
            .f("ff07_p/a.py", "")
            .s("import ff07_p.a"),
        Layout::new("ff08", "names match case-sensitively", py)
            .f("FF08_mod.py", "")
            .f("ff08_Pkg/__init__.py", "")
            .f("ff08_x.PY", "")
            .s("import ff08_mod")
            .s("import ff08_pkg")
            .s("import ff08_x"),
        Layout::new("ff09", "a directory named m.py is not a module; dangling symlink", py)
            .f("ff09_m.py/x.txt", "")
            .link("ff09_d.py", "/nonexistent/ff09_d.py")
            .s("import ff09_m")
            .s("import ff09_d"),
        Layout::new("ff10", "symlinked package directory", py)
            .f("real/ff10_p/__init__.py", "")
            .f("real/ff10_p/sub.py", "")
            .link("ff10_p", "real/ff10_p")
            .s("import ff10_p.sub"),
        Layout::new("ff11", "__init__.py that is a directory: namespace package", py)
            .f("ff11_p/__init__.py/x.txt", "")
            .f("ff11_p/a.py", "")
            .s("import ff11_p.a"),
        Layout::new("ff12", "foo.bar.py is never module foo.bar; stubs are ignored", py)
            .f("ff12_foo.bar.py", "")
            .f("ff12_s.pyi", "")
            .f("ff12_t-stubs/__init__.pyi", "")
            .s("import ff12_foo.bar")
            .s("import ff12_s")
            .s("import ff12_t"),
        Layout::new("ff13", "a.b where a is a module; from module import submodule", py)
            .f("ff13_m.py", "")
            .f("ff13_m/b.py", "")
            .s("import ff13_m.b")
            .s("from ff13_m import b"),
        Layout::new("ff14", "stdlib package name as a local namespace dir (email.mime)", py)
            .f("email.py", "")
            .f("json/ff14_x.py", "")
            .s("import email.mime.text")
            .s("import json")
            .s("import json.ff14_x"),
    ]
}

/// Namespace portions vs regular packages across entries (C7, D1, D4, D6).
fn namespaces(py: &Py) -> Vec<Layout> {
    let pp = |id: &str| format!("/c/{id}/p1:/c/{id}/p2");
    vec![
        Layout::new("ns01", "portions merge across entries", py)
            .f("p1/ns01_ns/a.py", "")
            .f("p2/ns01_ns/b.py", "")
            .env("PYTHONPATH", &pp("ns01"))
            .s("import ns01_ns.a")
            .s("import ns01_ns.b")
            .s("import ns01_ns.c"),
        Layout::new("ns02", "a regular package hides later portions", py)
            .f("p1/ns02_p/__init__.py", "")
            .f("p2/ns02_p/mod.py", "")
            .env("PYTHONPATH", &pp("ns02"))
            .s("import ns02_p")
            .s("import ns02_p.mod"),
        Layout::new(
            "ns03",
            "a later regular package beats an earlier portion (the seed)",
            py,
        )
        .f("p1/ns03_p/a.py", "")
        .f("p2/ns03_p/__init__.py", "")
        .env("PYTHONPATH", &pp("ns03"))
        .s("import ns03_p")
        .s("import ns03_p.a"),
        Layout::new("ns04", "a later module beats an earlier portion", py)
            .f("p1/ns04_p/x.py", "")
            .f("p2/ns04_p.py", "")
            .env("PYTHONPATH", &pp("ns04"))
            .s("import ns04_p")
            .s("import ns04_p.x"),
        Layout::new("ns05", "submodules only in the parent's __path__", py)
            .f("p1/ns05_p/__init__.py", "")
            .f("p1/ns05_p/sub/x.py", "")
            .f("p2/ns05_p/sub/y.py", "")
            .env("PYTHONPATH", &pp("ns05"))
            .s("import ns05_p.sub.x")
            .s("import ns05_p.sub.y"),
        Layout::new("ns06", "nested namespace packages", py)
            .f("p1/ns06_a/b/c.py", "")
            .f("p2/ns06_a/b/d.py", "")
            .env("PYTHONPATH", &pp("ns06"))
            .s("import ns06_a.b.c")
            .s("import ns06_a.b.d"),
        Layout::new("ns07", "namespace subpackage inside a regular package", py)
            .f("ns07_p/__init__.py", "")
            .f("ns07_p/sub/x.py", "")
            .s("import ns07_p.sub.x"),
        Layout::new("ns08", "pkgutil.extend_path in the first copy", py)
            .f(
                "p1/ns08_p/__init__.py",
                "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
            )
            .f("p1/ns08_p/a.py", "")
            .f("p2/ns08_p/__init__.py", "")
            .f("p2/ns08_p/b.py", "")
            .env("PYTHONPATH", &pp("ns08"))
            .s("import ns08_p.a")
            .s("import ns08_p.b"),
        Layout::new("ns09", "pkgutil.extend_path only in the second copy", py)
            .f("p1/ns09_p/__init__.py", "")
            .f("p1/ns09_p/a.py", "")
            .f(
                "p2/ns09_p/__init__.py",
                "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
            )
            .f("p2/ns09_p/b.py", "")
            .env("PYTHONPATH", &pp("ns09"))
            .s("import ns09_p.a")
            .s("import ns09_p.b"),
        Layout::new(
            "ns10",
            "extend_path picks up a namespace-only directory",
            py,
        )
        .f(
            "p1/ns10_p/__init__.py",
            "import pkgutil\n__path__ = pkgutil.extend_path(__path__, __name__)\n",
        )
        .f("p2/ns10_p/b.py", "")
        .env("PYTHONPATH", &pp("ns10"))
        .s("import ns10_p.b"),
    ]
}

/// PYTHONPATH quirks (A7) and flags that drop it (A8).
fn pythonpath(py: &Py) -> Vec<Layout> {
    vec![
        Layout::new(
            "pp01",
            "empty PYTHONPATH component is the working directory",
            py,
        )
        .f("w/pp01_m.py", "")
        .f("s/main.py", "")
        .argv(&[&py.exe(), "/c/pp01/s/main.py"])
        .main("s/main.py")
        .env("PYTHONPATH", ":/c/pp01/x")
        .s("import pp01_m"),
        Layout::new(
            "pp02",
            "without an empty component the cwd is not searched",
            py,
        )
        .f("pp02_m.py", "")
        .f("s/main.py", "")
        .argv(&[&py.exe(), "/c/pp02/s/main.py"])
        .main("s/main.py")
        .env("PYTHONPATH", "/c/pp02/x")
        .s("import pp02_m"),
        Layout::new("pp03", "relative PYTHONPATH entries are made absolute", py)
            .f("lib/pp03_m.py", "")
            .env("PYTHONPATH", "lib")
            .s("import pp03_m"),
        Layout::new("pp04", "nonexistent and file entries are skipped", py)
            .f("notes.txt", "hello\n")
            .f("lib/pp04_m.py", "")
            .env("PYTHONPATH", "/c/pp04/none:/c/pp04/notes.txt:/c/pp04/lib")
            .s("import pp04_m")
            .s("import pp04_x"),
        Layout::new(
            "pp05",
            ".pth files in PYTHONPATH dirs are not processed",
            py,
        )
        .f("lib/x.pth", "/c/pp05/extra\n")
        .f("extra/pp05_m.py", "")
        .env("PYTHONPATH", "/c/pp05/lib")
        .s("import pp05_m"),
        Layout::new("pp06", "-E ignores PYTHONPATH", py)
            .f("lib/pp06_m.py", "")
            .argv(&[&py.exe(), "-E", "main.py"])
            .env("PYTHONPATH", "/c/pp06/lib")
            .s("import pp06_m"),
        Layout::new("pp07", "-I ignores PYTHONPATH and the script dir", py)
            .f("lib/pp07_m.py", "")
            .f("pp07_sib.py", "")
            .argv(&[&py.exe(), "-I", "main.py"])
            .env("PYTHONPATH", "/c/pp07/lib")
            .s("import pp07_m")
            .s("import pp07_sib"),
    ]
}

/// `.pth` grammar (B4–B7).
fn pth(py: &Py) -> Vec<Layout> {
    let site = py.site();
    let up = py.up_from_site();
    let mut v = vec![
        Layout::new(
            "pt01",
            ".pth path lines: absolute, relative, trailing spaces",
            py,
        )
        .f(
            &format!("{site}/pt01.pth"),
            &format!("/c/pt01/a\n{up}c/pt01/b\n/c/pt01/c   \n"),
        )
        .f("a/pt01_a.py", "")
        .f("b/pt01_b.py", "")
        .f("c/pt01_c.py", "")
        .s("import pt01_a")
        .s("import pt01_b")
        .s("import pt01_c"),
        Layout::new("pt02", ".pth: leading space and # make a line inert", py)
            .f(&format!("{site}/pt02.pth"), " /c/pt02/a\n#/c/pt02/b\n")
            .f("a/pt02_a.py", "")
            .f("b/pt02_b.py", "")
            .s("import pt02_a")
            .s("import pt02_b"),
        Layout::new(
            "pt03",
            ".pth: import lines run, other lines still count",
            py,
        )
        .f(
            &format!("{site}/pt03.pth"),
            "import sys\nimport\tos\n import sys\n/c/pt03/a\n",
        )
        .f("a/pt03_a.py", "")
        .s("import pt03_a"),
        Layout::new(
            "pt04",
            ".pth: a failing import line aborts the rest of the file",
            py,
        )
        .f(
            &format!("{site}/pt04.pth"),
            "/c/pt04/a\nimport pt04_nonexistent_module\n/c/pt04/b\n",
        )
        .f("a/pt04_a.py", "")
        .f("b/pt04_b.py", "")
        .s("import pt04_a")
        .s("import pt04_b"),
        Layout::new("pt05", "hidden .pth files are skipped from 3.13 only", py)
            .f(&format!("{site}/.pt05.pth"), "/c/pt05/a\n")
            .f("a/pt05_a.py", "")
            .s("import pt05_a"),
        Layout::new(
            "pt06",
            "a .pth in a dir added by a .pth is not processed",
            py,
        )
        .f(&format!("{site}/pt06.pth"), "/c/pt06/a\n")
        .f("a/nested.pth", "/c/pt06/b\n")
        .f("a/pt06_a.py", "")
        .f("b/pt06_b.py", "")
        .s("import pt06_a")
        .s("import pt06_b"),
        Layout::new("pt07", "site dir entries come before their .pth dirs", py)
            .f(&format!("{site}/pt07.pth"), "/c/pt07/a\n")
            .f(&format!("{site}/pt07_h.py"), "IN_SITE = 1\n")
            .f("a/pt07_h.py", "IN_PTH = 1\n")
            .s("from pt07_h import IN_SITE")
            .s("from pt07_h import IN_PTH"),
        Layout::new(
            "pt08",
            ".pth nonexistent lines are dropped, later lines kept",
            py,
        )
        .f(&format!("{site}/pt08.pth"), "/c/pt08/none\n\n/c/pt08/a\n")
        .f("a/pt08_a.py", "")
        .s("import pt08_a"),
        Layout::new("pt09", "-S: no site dirs, no .pth", py)
            .f(&format!("{site}/pt09.pth"), "/c/pt09/a\n")
            .f(&format!("{site}/pt09_s.py"), "")
            .f("a/pt09_a.py", "")
            .argv(&[&py.exe(), "-S", "main.py"])
            .s("import pt09_a")
            .s("import pt09_s"),
    ];
    // A sitecustomize found on the path runs at startup; here it does not touch sys.path, so
    // verdicts are unchanged (its presence is reported as a warning, asserted separately).
    v.push(
        Layout::new("pt10", "sitecustomize on PYTHONPATH runs at startup", py)
            .f("pp/sitecustomize.py", "PT10 = 1\n")
            .f("pp/pt10_m.py", "")
            .env("PYTHONPATH", "/c/pt10/pp")
            .s("import pt10_m"),
    );
    v
}

/// venvs (B1) and the user site (B3).
fn venvs_and_user_site(py: &Py) -> Vec<Layout> {
    let ver = py.ver();
    let site = py.site();
    let user_root = format!("/root/.local/lib/python{ver}/site-packages");
    let user_app = format!("/home/app/.local/lib/python{ver}/site-packages");
    let venv = |id: &str, system: Option<bool>| -> Layout {
        let mut cfg = format!("home = {}\n", py.bindir());
        if let Some(s) = system {
            let _ = writeln!(cfg, "include-system-site-packages = {s}");
        }
        Layout::new(id, "venv", py)
            .f("venv/pyvenv.cfg", &cfg)
            .link("venv/bin/python", &py.exe())
            .link("venv/bin/python3", "python")
            .f(&format!("venv/lib/python{ver}/site-packages/{id}_v.py"), "")
            .f(&format!("{site}/{id}_sys.py"), "")
            .f(&format!("{user_root}/{id}_u.py"), "")
            .argv(&[&format!("/c/{id}/venv/bin/python"), "main.py"])
            .s(&format!("import {id}_v"))
            .s(&format!("import {id}_sys"))
            .s(&format!("import {id}_u"))
    };
    let mut v = vec![
        {
            let mut l = venv("ve01", Some(false));
            l.about = "venv without system site-packages: no system or user site".into();
            l
        },
        {
            let mut l = venv("ve02", Some(true));
            l.about = "venv with system site-packages keeps the user site".into();
            l
        },
        {
            let mut l = venv("ve03", None);
            l.about = "pyvenv.cfg without include-system-site-packages".into();
            l
        },
    ];
    let us = |id: &str, about: &str| -> Layout {
        Layout::new(id, about, py)
            .f(&format!("{user_root}/{id}_root.py"), "")
            .f(&format!("{user_app}/{id}_app.py"), "")
            .f(&format!("ub/lib/python{ver}/site-packages/{id}_ub.py"), "")
            .f(
                &format!("h/.local/lib/python{ver}/site-packages/{id}_h.py"),
                "",
            )
            .s(&format!("import {id}_root"))
            .s(&format!("import {id}_app"))
            .s(&format!("import {id}_ub"))
            .s(&format!("import {id}_h"))
    };
    v.push(us("us01", "user site of root (HOME from passwd)"));
    v.push(us("us02", "-s disables the user site").argv(&[&py.exe(), "-s", "main.py"]));
    v.push(us("us03", "PYTHONNOUSERSITE disables the user site").env("PYTHONNOUSERSITE", "1"));
    v.push(us("us04", "PYTHONUSERBASE moves the user site").env("PYTHONUSERBASE", "/c/us04/ub"));
    let mut l = us("us05", "USER app: HOME from /etc/passwd");
    l.user = Some("app".into());
    v.push(l);
    let mut l = us("us06", "USER app with HOME from Env").env("HOME", "/c/us06/h");
    l.user = Some("app".into());
    v.push(l);
    v.push(us("us07", "-I disables the user site").argv(&[&py.exe(), "-I", "main.py"]));
    v.push(
        us("us08", "-E ignores PYTHONNOUSERSITE")
            .argv(&[&py.exe(), "-E", "main.py"])
            .env("PYTHONNOUSERSITE", "1"),
    );
    v.push(
        us("us09", "-E ignores PYTHONUSERBASE")
            .argv(&[&py.exe(), "-E", "main.py"])
            .env("PYTHONUSERBASE", "/c/us09/ub"),
    );
    v
}

/// Flags from argv, Env and shebangs (A5, A8, C3).
fn flags(py: &Py) -> Vec<Layout> {
    let exe = py.exe();
    let mut v = vec![
        Layout::new(
            "fl01",
            "PYTHONSAFEPATH from Env (3.11+) drops the script dir",
            py,
        )
        .f("fl01_sib.py", "")
        .env("PYTHONSAFEPATH", "1")
        .s("import fl01_sib"),
        Layout::new("fl02", "-E ignores PYTHONSAFEPATH", py)
            .f("fl02_sib.py", "")
            .argv(&[&exe, "-E", "main.py"])
            .env("PYTHONSAFEPATH", "1")
            .s("import fl02_sib"),
        Layout::new("fl03", "shebang with -I, run directly", py)
            .f("tool.py", "")
            .f("fl03_sib.py", "")
            .main("tool.py")
            .argv(&["/c/fl03/tool.py"])
            .run("chmod +x /c/fl03/tool.py")
            .s("import fl03_sib"),
        Layout::new("fl04", "shebang through env, PYTHONPATH from Env", py)
            .f("lib/fl04_m.py", "")
            .f("fl04_sib.py", "")
            .main("tool.py")
            .argv(&["/c/fl04/tool.py"])
            .env("PYTHONPATH", "/c/fl04/lib")
            .run("chmod +x /c/fl04/tool.py")
            .s("import fl04_m")
            .s("import fl04_sib"),
        Layout::new("fl05", "combined flags -sS", py)
            .f(&format!("{}/fl05_s.py", py.site()), "")
            .f("fl05_sib.py", "")
            .argv(&[&exe, "-sS", "main.py"])
            .s("import fl05_s")
            .s("import fl05_sib"),
        Layout::new(
            "fl06",
            "frozen modules cannot be shadowed (3.11+) unless -X frozen_modules=off",
            py,
        )
        .f("runpy/__init__.py", "")
        .f("runpy/fl06_sub.py", "")
        .s("import runpy.fl06_sub"),
        Layout::new(
            "fl07",
            "-X frozen_modules=off lets a file shadow a frozen module",
            py,
        )
        .f("runpy/__init__.py", "FL07 = 1\n")
        .f("runpy/fl07_sub.py", "")
        .argv(&[&exe, "-X", "frozen_modules=off", "main.py"])
        .s("from runpy import FL07")
        .s("import runpy.fl07_sub"),
    ];
    if py.minor >= 11 {
        v.push(
            Layout::new("fl08", "-P drops the script dir", py)
                .f("fl08_sib.py", "")
                .argv(&[&exe, "-P", "main.py"])
                .s("import fl08_sib"),
        );
    }
    v
}

/// sys.path[0] per launch form (A5, A6, E6, F1, F2).
fn launches(py: &Py) -> Vec<Layout> {
    let exe = py.exe();
    vec![
        Layout::new("la01", "script through a file symlink: the real directory", py)
            .f("real/main.py", "")
            .f("real/la01_real.py", "")
            .f("bin/la01_bin.py", "")
            .link("bin/main.py", "../real/main.py")
            .main("real/main.py")
            .argv(&[&exe, "/c/la01/bin/main.py"])
            .s("import la01_real")
            .s("import la01_bin"),
        Layout::new("la02", "script through a directory symlink", py)
            .f("realdir/main.py", "")
            .f("realdir/la02_h.py", "")
            .link("linkdir", "realdir")
            .main("realdir/main.py")
            .argv(&[&exe, "linkdir/main.py"])
            .s("import la02_h"),
        Layout::new("la03", "-m: the working directory, not the module's directory", py)
            .f("la03_app/__init__.py", "")
            .f("la03_app/main.py", "")
            .f("la03_app/helper.py", "")
            .main("la03_app/main.py")
            .argv(&[&exe, "-m", "la03_app.main"])
            .s("import helper")
            .s("from . import helper")
            .s("import la03_app.helper"),
        Layout::new("la04", "-m of a module in a namespace package", py)
            .f("la04_ns/main.py", "")
            .f("la04_ns/h.py", "")
            .main("la04_ns/main.py")
            .argv(&[&exe, "-m", "la04_ns.main"])
            .s("from . import h")
            .s("from .. import h"),
        Layout::new("la05", "a directory with __main__.py", py)
            .f("appdir/__main__.py", "")
            .f("appdir/la05_h.py", "")
            .f("la05_cwd.py", "")
            .main("appdir/__main__.py")
            .argv(&[&exe, "appdir"])
            .s("import la05_h")
            .s("import la05_cwd"),
        Layout::new("la06", "the working directory is not on sys.path for a script", py)
            .f("s/main.py", "")
            .f("la06_cwd.py", "")
            .main("s/main.py")
            .argv(&[&exe, "s/main.py"])
            .s("import la06_cwd")
            .s("from . import la06_cwd"),
        Layout::new("la07", "console script: bin dir is sys.path[0]", py)
            .f(
                "bin/la07-tool",
                &format!("#!{exe}\nimport sys\nfrom la07_cli import main\n"),
            )
            .f("bin/la07_cli.py", "")
            .f("la07_cwd.py", "")
            .main("bin/la07_cli.py")
            .argv(&["/c/la07/bin/la07-tool"])
            .run("chmod +x /c/la07/bin/la07-tool")
            .s("import la07_cwd")
            .s("import la07_cli"),
        Layout::new("la08", "console script with the #!/bin/sh '''exec' trick", py)
            .f(
                "bin/la08-tool",
                &format!(
                    "#!/bin/sh\n'''exec' {exe} -s \"$0\" \"$@\"\n' '''\nimport sys\nfrom la08_cli import main\n"
                ),
            )
            .f("bin/la08_cli.py", "")
            .f(
                &format!("/root/.local/lib/python{}/site-packages/la08_u.py", py.ver()),
                "",
            )
            .main("bin/la08_cli.py")
            .argv(&["/c/la08/bin/la08-tool"])
            .run("chmod +x /c/la08/bin/la08-tool")
            .s("import la08_u"),
        Layout::new("la09", "-m: relative import beyond the top-level package", py)
            .f("la09_p/__init__.py", "")
            .f("la09_p/main.py", "")
            .main("la09_p/main.py")
            .argv(&[&exe, "-m", "la09_p.main"])
            .s("from .. import x")
            .s("from . import missing"),
    ]
}

/// `from pkg import name` forms (E2–E5).
fn from_forms(py: &Py) -> Vec<Layout> {
    vec![
        Layout::new(
            "fr01",
            "from pkg import: submodule, def, class, assignment, import",
            py,
        )
        .f(
            "fr01_p/__init__.py",
            "import os\nfrom .impl import thing\ndef f(): pass\nclass C: pass\nX = 1\n",
        )
        .f("fr01_p/impl.py", "thing = 1\n")
        .f("fr01_p/sub.py", "")
        .s("from fr01_p import sub")
        .s("from fr01_p import f")
        .s("from fr01_p import C")
        .s("from fr01_p import X")
        .s("from fr01_p import os")
        .s("from fr01_p import thing")
        .s("from fr01_p import missing")
        .s("from fr01_p.missing import x"),
        Layout::new("fr02", "star re-exports follow __all__", py)
            .f(
                "fr02_p/__init__.py",
                "from .impl import *\nfrom .other import *\n",
            )
            .f("fr02_p/impl.py", "__all__ = ['a']\na = 1\nb = 2\n")
            .f("fr02_p/other.py", "c = 1\n_d = 2\n")
            .s("from fr02_p import a")
            .s("from fr02_p import b")
            .s("from fr02_p import c")
            .s("from fr02_p import _d"),
        Layout::new("fr03", "module __getattr__ makes any name importable", py)
            .f(
                "fr03_p/__init__.py",
                "def __getattr__(name):\n    return name\n",
            )
            .f("fr03_m.py", "def __getattr__(name):\n    return 1\n")
            .s("from fr03_p import anything")
            .s("from fr03_m import anything"),
    ]
}

/// Stdlib shadowing and modules removed by version (C4, stdlib table).
fn stdlib(py: &Py) -> Vec<Layout> {
    vec![
        Layout::new(
            "sl01",
            "app random.py shadows the stdlib, an app os package does not (os is preloaded)",
            py,
        )
        .f("random.py", "SL01 = 1\n")
        .f("os/__init__.py", "")
        .f("os/sl01_sub.py", "")
        .s("from random import SL01")
        .s("import os.sl01_sub"),
        Layout::new("sl02", "modules removed in 3.12 / 3.13", py)
            .s("import imp")
            .s("import asynchat")
            .s("import cgi")
            .s("import telnetlib"),
        Layout::new(
            "sl03",
            "distutils: stdlib, or setuptools' shim when installed",
            py,
        )
        .s("import distutils")
        .s("import distutils.core"),
    ]
}

/// zipimport (C16, C17).
fn zips(py: &Py) -> Vec<Layout> {
    let mk = |id: &str, spec: &str| {
        format!(
            "cd /c/{id} && python3 -c \"import zipfile; z = zipfile.ZipFile('lib.zip', 'w'); [z.writestr(n, '') for n in '{spec}'.split(',')]; z.close()\""
        )
    };
    vec![
        Layout::new("zi01", "modules and packages inside a zip on PYTHONPATH", py)
            .run(&mk(
                "zi01",
                "zi01_m.py,zi01_p/__init__.py,zi01_p/sub.py,zi01_x.cpython-3{m}-x86_64-linux-gnu.so,zi01_ns/a.py,zi01_ns2/,zi01_ns2/b.py,sub/zi01_s.py",
            ).replace("{m}", &py.minor.to_string()))
            .env("PYTHONPATH", "/c/zi01/lib.zip:/c/zi01/lib.zip/sub")
            .s("import zi01_m")
            .s("import zi01_p.sub")
            .s("import zi01_p.nope")
            .s("import zi01_x")
            .s("import zi01_ns.a")
            .s("import zi01_ns2.b")
            .s("import zi01_s"),
        Layout::new("zi02", "an egg listed in a .pth; an .egg-link is never read", py)
            .run("cd /c/zi02 && python3 -c \"import zipfile; z = zipfile.ZipFile('zi02-1.0-py3.egg', 'w'); z.writestr('zi02_e/__init__.py', ''); z.close()\"")
            .f(&format!("{}/zi02.pth", py.site()), "/c/zi02/zi02-1.0-py3.egg\n")
            .f(&format!("{}/zi02-l.egg-link", py.site()), "/c/zi02/src\n.\n")
            .f("src/zi02_l/__init__.py", "")
            .f("s/main.py", "")
            .main("s/main.py")
            .argv(&[&py.exe(), "s/main.py"])
            .s("import zi02_e")
            .s("import zi02_l"),
    ]
}

/// setuptools editable installs (D11, D12).
fn editables(py: &Py) -> Vec<Layout> {
    let site = py.site();
    let finder = "import sys\nfrom importlib.machinery import ModuleSpec, PathFinder\nfrom importlib.util import spec_from_file_location\nfrom pathlib import Path\n\nMAPPING = {'ed01_proj': '/c/ed01/src/ed01_proj'}\nNAMESPACES = {}\nPATH_PLACEHOLDER = '__editable__.ed01_0_1.finder' + \".__path_hook__\"\n\nclass _EditableFinder:\n    @classmethod\n    def find_spec(cls, fullname, path=None, target=None):\n        if fullname in MAPPING:\n            pkg_path = MAPPING[fullname]\n            return cls._find_spec(fullname, Path(pkg_path))\n        parent, _, child = fullname.rpartition('.')\n        if parent and parent in MAPPING:\n            return PathFinder.find_spec(fullname, path=[MAPPING[parent]])\n        return None\n\n    @classmethod\n    def _find_spec(cls, fullname, candidate_path):\n        init = candidate_path / '__init__.py'\n        candidates = (candidate_path.with_suffix(x) for x in ('.py',))\n        for candidate in (init, *candidates):\n            if candidate.exists():\n                return spec_from_file_location(fullname, candidate)\n        return None\n\ndef install():\n    if not any(finder == _EditableFinder for finder in sys.meta_path):\n        sys.meta_path.append(_EditableFinder)\n";
    vec![
        Layout::new(
            "ed01",
            "setuptools editable finder: MAPPING names the package dir",
            py,
        )
        .f(
            &format!("{site}/__editable__.ed01-0.1.pth"),
            "import __editable___ed01_0_1_finder; __editable___ed01_0_1_finder.install()\n",
        )
        .f(&format!("{site}/__editable___ed01_0_1_finder.py"), finder)
        .f("src/ed01_proj/__init__.py", "")
        .f("src/ed01_proj/sub.py", "")
        .f("src/ed01_other.py", "")
        .f("s/main.py", "")
        .main("s/main.py")
        .argv(&[&py.exe(), "s/main.py"])
        .s("import ed01_proj")
        .s("import ed01_proj.sub")
        .s("import ed01_proj.nope")
        .s("import ed01_other"),
        Layout::new("ed02", "editable install as a .pth path line", py)
            .f(
                &format!("{site}/__editable__.ed02-0.1.pth"),
                "/c/ed02/src\n",
            )
            .f("src/ed02_proj/__init__.py", "")
            .f("s/main.py", "")
            .main("s/main.py")
            .argv(&[&py.exe(), "s/main.py"])
            .s("import ed02_proj"),
    ]
}

/// More of the same families: module next to a namespace dir, PYTHONPATH shadowing the stdlib,
/// a venv through a symlink chain, USER by uid, a zip portion joining a directory portion.
fn more(py: &Py) -> Vec<Layout> {
    let ver = py.ver();
    vec![
        Layout::new("mo01", "module and namespace directory of one name in one dir", py)
            .f("mo01_t.py", "")
            .f("mo01_t/x.py", "")
            .f("mo01_u/x.py", "")
            .s("import mo01_t")
            .s("import mo01_t.x")
            .s("import mo01_u.x"),
        Layout::new("mo02", "a PYTHONPATH module shadows a stdlib module", py)
            .f("lib/colorsys.py", "MO02 = 1\n")
            .env("PYTHONPATH", "/c/mo02/lib")
            .s("from colorsys import MO02"),
        Layout::new("mo03", "venv interpreter reached through python3 -> python -> base", py)
            .f("venv/pyvenv.cfg", &format!("home = {}\n", py.bindir()))
            .link("venv/bin/python", &py.exe())
            .link("venv/bin/python3", "python")
            .f(&format!("venv/lib/python{ver}/site-packages/mo03_v.py"), "")
            .f("mo03_pkg/__init__.py", "")
            .f("mo03_pkg/main.py", "")
            .main("mo03_pkg/main.py")
            .argv(&["/c/mo03/venv/bin/python3", "-m", "mo03_pkg.main"])
            .s("import mo03_v")
            .s("from . import main"),
        {
            let mut l = Layout::new("mo04", "USER given as a uid", py)
                .f(&format!("/home/app/.local/lib/python{ver}/site-packages/mo04_u.py"), "");
            l.user = Some("1000".into());
            l.s("import mo04_u")
        },
        Layout::new("mo06", "python -c: the working directory is sys.path[0]", py)
            .f("mo06_m.py", "")
            .argv(&[&py.exe(), "-c", "exec(open('main.py').read())"])
            .s("import mo06_m"),
        Layout::new("mo07", "python -I -c: nothing is prepended", py)
            .f("mo07_m.py", "")
            .argv(&[&py.exe(), "-I", "-c", "exec(open('main.py').read())"])
            .s("import mo07_m"),
        Layout::new("mo05", "a zip with an explicit dir entry adds a namespace portion", py)
            .f("p1/mo05_ns/a.py", "")
            .run("cd /c/mo05 && python3 -c \"import zipfile; z = zipfile.ZipFile('p2.zip', 'w'); z.writestr('mo05_ns/', ''); z.writestr('mo05_ns/b.py', ''); z.writestr('mo05_q/c.py', ''); z.close()\"")
            .env("PYTHONPATH", "/c/mo05/p1:/c/mo05/p2.zip")
            .s("import mo05_ns.a")
            .s("import mo05_ns.b")
            .s("import mo05_q.c"),
    ]
}

/// setuptools 65's real `_distutils_hack/__init__.py`, taken from the 3.11 base image (where
/// ensurepip installed it), so the shim the corpus tests is the one users get.
fn distutils_hack() -> String {
    static SRC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SRC.get_or_init(|| {
        let tag = ensure_base("slim", "3.11");
        let out = docker_run(
            &tag,
            &["--entrypoint", "cat"],
            &["/usr/local/lib/python3.11/site-packages/_distutils_hack/__init__.py"],
        );
        assert!(out.status.success(), "no _distutils_hack in {tag}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .clone()
}

/// setuptools' `distutils-precedence.pth` shim in a venv's own site-packages (so no other
/// layout sees it): `import distutils` loads `setuptools._distutils`, also on 3.12+ where the
/// stdlib has none, unless `SETUPTOOLS_USE_DISTUTILS=stdlib`.
fn distutils_shim(py: &Py) -> Vec<Layout> {
    let ver = py.ver();
    let hack = distutils_hack();
    let shim = |id: &str, about: &str| {
        let sp = format!("venv/lib/python{ver}/site-packages");
        Layout::new(id, about, py)
            .f("venv/pyvenv.cfg", &format!("home = {}\ninclude-system-site-packages = false\n", py.bindir()))
            .link("venv/bin/python", &py.exe())
            .f(
                &format!("{sp}/distutils-precedence.pth"),
                "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n",
            )
            .f(&format!("{sp}/_distutils_hack/__init__.py"), &hack)
            .f(&format!("{sp}/setuptools/__init__.py"), "")
            .f(&format!("{sp}/setuptools/_distutils/__init__.py"), "")
            .f(&format!("{sp}/setuptools/_distutils/core.py"), "")
            .f(&format!("{sp}/setuptools/_distutils/{id}_only.py"), "")
            .argv(&[&format!("/c/{id}/venv/bin/python"), "main.py"])
            .s("import distutils")
            .s("import distutils.core")
            .s(&format!("import distutils.{id}_only"))
    };
    vec![
        shim("sl04", "setuptools' _distutils_hack serves distutils"),
        shim("sl05", "SETUPTOOLS_USE_DISTUTILS=stdlib turns the shim off")
            .env("SETUPTOOLS_USE_DISTUTILS", "stdlib"),
    ]
}

/// `._pth` next to the executable (A4, 3.11+; ignored on POSIX before).
fn pth_files(py: &Py) -> Vec<Layout> {
    let stdlib = py.stdlib();
    vec![
        Layout::new("xp01", "._pth replaces sys.path and implies -I -S", py)
            .link("bin/python", &py.exe())
            .f(
                "bin/python._pth",
                &format!("{stdlib}\n{stdlib}/lib-dynload\n../lib\n"),
            )
            .f("lib/xp01_h.py", "")
            .f("app/xp01_sib.py", "")
            .f(&format!("{}/xp01_s.py", py.site()), "")
            .main("app/main.py")
            .argv(&["/c/xp01/bin/python", "app/main.py"])
            .s("import xp01_h")
            .s("import xp01_sib")
            .s("import xp01_s"),
    ]
}

fn fix_shebangs(py: &Py, layouts: &mut [Layout]) {
    for l in layouts.iter_mut() {
        // Scripts started directly get their shebang prepended to the harness.
        if l.id == "fl03" {
            l.files
                .push(file("/c/fl03/.shebang", format!("#!{} -I\n", py.exe())));
        }
        if l.id == "fl04" {
            l.files
                .push(file("/c/fl04/.shebang", "#!/usr/bin/env python3\n"));
        }
    }
}

fn corpus(py: &Py) -> Vec<Layout> {
    let mut v = Vec::new();
    v.extend(finder(py));
    v.extend(namespaces(py));
    v.extend(pythonpath(py));
    v.extend(pth(py));
    v.extend(venvs_and_user_site(py));
    v.extend(flags(py));
    v.extend(launches(py));
    v.extend(from_forms(py));
    v.extend(stdlib(py));
    v.extend(zips(py));
    v.extend(editables(py));
    v.extend(pth_files(py));
    v.extend(more(py));
    v.extend(distutils_shim(py));
    fix_shebangs(py, &mut v);
    v
}

// ---------------------------------------------------------------------------------------------

/// Builds the corpus image for one interpreter; the harness goes into each layout's main file
/// (after a shebang line where the layout has one).
fn build(py: &Py, layouts: &[Layout]) -> Image_ {
    let mut entries = Vec::new();
    let mut runs = Vec::new();
    for l in layouts {
        let mut shebang = String::new();
        for e in &l.files {
            match e {
                Entry::File(p, t) if p.ends_with("/.shebang") => shebang = t.clone(),
                Entry::File(p, t) if *p != l.main => entries.push(file(p.clone(), t.clone())),
                Entry::File(..) => {}
                Entry::Symlink(p, t) => entries.push(symlink(p.clone(), t.clone())),
                Entry::Tree(p, from) => entries.push(tree(p.clone(), from)),
            }
        }
        // The harness lines are counted from the first line: a shebang goes on the same line
        // as nothing else, so statements move down by one.
        entries.push(file(l.main.clone(), format!("{shebang}{}", l.harness())));
        runs.extend(l.run.iter().cloned());
    }
    entries.push(file(
        "/corpus/driver.py",
        std::fs::read_to_string(support_script("corpus_driver.py")).expect("driver"),
    ));
    let mut tail = String::from("WORKDIR /\n");
    if !runs.is_empty() {
        let _ = writeln!(tail, "RUN {}", runs.join(" && "));
    }
    let tag = format!("importgate-test/corpus-{}", py.label());
    Image_(build_scenario(&tag, &py.tag, &entries, &tail))
}

struct Image_(crate::support::Image);

/// What CPython did for every layout, from one container run.
fn run_cpython(tag: &str, layouts: &[Layout]) -> BTreeMap<String, Value> {
    let input = serde_json::json!({
        "layouts": layouts.iter().map(|l| serde_json::json!({
            "id": l.id,
            "argv": l.argv,
            "cwd": l.cwd,
            "env": l.env.iter().cloned().collect::<BTreeMap<_, _>>(),
            "user": l.user,
        })).collect::<Vec<_>>(),
    });
    let out = docker_run_stdin(
        tag,
        &["--user", "0", "--entrypoint", "python3"],
        &["/corpus/driver.py"],
        input.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "corpus driver failed in {tag}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("driver JSON");
    v["results"]
        .as_object()
        .expect("results")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Per statement: importgate's status (`ok`, `error`, or another) and the absolute module it
/// imports (relative imports made absolute by the checker); plus the report's warnings.
type Verdicts = (Vec<(String, String)>, Vec<String>);

/// importgate's verdicts per layout, from the same image with the layout's config.
fn run_importgate(
    image: &mut importgate_image::Image,
    layouts: &[Layout],
) -> BTreeMap<String, Result<Verdicts, String>> {
    let base = image.config.clone();
    let mut out = BTreeMap::new();
    for l in layouts {
        let mut cfg = base.clone();
        cfg.entrypoint = None;
        cfg.cmd = Some(l.argv.clone());
        cfg.working_dir = l.cwd.clone();
        cfg.user = l.user.clone().unwrap_or_default();
        for (k, v) in &l.env {
            cfg.env.retain(|e| !e.starts_with(&format!("{k}=")));
            cfg.env.push(format!("{k}={v}"));
        }
        image.config = cfg;
        let offset = u32::from(
            l.files
                .iter()
                .any(|e| matches!(e, Entry::File(p, _) if p.ends_with("/.shebang"))),
        );
        let verdicts = check(image, &CheckOptions::default()).map(|report| {
            let statuses = (0..l.stmts.len())
                .map(|i| {
                    let line = Layout::line_of(i) + offset;
                    report
                        .imports
                        .iter()
                        .find(|c| c.file == l.main && c.line == line)
                        .map(|c| {
                            let status = match c.status {
                                ImportStatus::Ok => "ok",
                                ImportStatus::Error => "error",
                                ImportStatus::Guarded => "guarded",
                                ImportStatus::Skipped => "skipped",
                            };
                            (status.to_string(), c.module.clone())
                        })
                        .unwrap_or_else(|| ("not checked".to_string(), String::new()))
                })
                .collect();
            (statuses, report.warnings.clone())
        });
        out.insert(l.id.clone(), verdicts.map_err(|e| e.to_string()));
    }
    image.config = base;
    out
}

/// The module and `from` name of a statement, for [`Truth::fails_for`].
fn target(stmt: &str) -> (String, Option<String>) {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match words.as_slice() {
        ["import", m, ..] => (m.to_string(), None),
        ["from", m, "import", n, ..] => (m.to_string(), Some(n.to_string())),
        _ => (String::new(), None),
    }
}

/// Runs the corpus on one interpreter and returns (statements compared, disagreements).
fn corpus_on(py: &Py) -> (usize, usize, Vec<String>) {
    let layouts = corpus(py);
    let image = build(py, &layouts);
    let truth = run_cpython(&image.0.tag, &layouts);
    let mut loaded = load_image(&image.0.tag);
    let verdicts = run_importgate(&mut loaded, &layouts);
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut errors = 0;
    for l in &layouts {
        let t = &truth[&l.id];
        let header = || {
            let files: Vec<String> = l
                .files
                .iter()
                .map(|e| match e {
                    Entry::File(p, t) => format!("    {p}: {t:?}"),
                    Entry::Symlink(p, t) => format!("    {p} -> {t}"),
                    Entry::Tree(p, from) => format!("    {p}/: {}", from.display()),
                })
                .collect();
            format!(
                "[{}] layout {} ({}): argv {:?}, cwd {}, env {:?}, user {:?}\n{}\n    run: {:?}",
                py.label(),
                l.id,
                l.about,
                l.argv,
                l.cwd,
                l.env,
                l.user,
                files.join("\n"),
                l.run
            )
        };
        if let Some(err) = t.get("error") {
            problems.push(format!("{}\n  CPython could not run it: {err}", header()));
            continue;
        }
        let results = t["results"].as_array().cloned().unwrap_or_default();
        let ig = match &verdicts[&l.id] {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}\n  importgate failed: {e}", header()));
                continue;
            }
        };
        for (i, st) in l.stmts.iter().enumerate() {
            compared += 1;
            let truth = results.get(i).map(Truth::from_json);
            let (verdict, abs_module) = ig.0.get(i).cloned().unwrap_or_default();
            let (mut module, name) = target(st);
            errors += usize::from(verdict == "error");
            if module.starts_with('.') && !abs_module.is_empty() {
                module = abs_module;
            }
            let agree = match (&truth, verdict.as_str()) {
                (Some(t), "error") => t.fails_for(&module, name.as_deref()),
                (Some(t), "ok") => t.ok == Some(true) || !t.fails_for(&module, name.as_deref()),
                _ => false,
            };
            if !agree {
                problems.push(format!(
                    "{}\n  sys.path (CPython): {}\n  `{st}`: CPython {}, importgate {verdict}",
                    header(),
                    t["sys_path"],
                    truth
                        .map(|t| t.describe())
                        .unwrap_or_else(|| "no result".into()),
                ));
            }
        }
    }
    // sitecustomize is reported, not executed.
    if let Some(Ok((_, warnings))) = verdicts.get("pt10")
        && !warnings.iter().any(|w| w.contains("sitecustomize"))
    {
        problems.push(format!(
            "[{}] pt10: no warning about sitecustomize: {warnings:?}",
            py.label()
        ));
    }
    // The same verdicts from a `docker save` archive and an OCI archive of this image.
    if py.minor == 12 && !py.debian() {
        let dir = tempdir();
        let save = dir.path().join("corpus.docker.tar");
        let oci = dir.path().join("corpus.oci.tar");
        docker_save(&image.0.tag, &save);
        to_oci(&save, &oci);
        for name in [
            format!("docker-archive:{}", save.display()),
            format!("oci-archive:{}", oci.display()),
        ] {
            let mut other = load_image(&name);
            let got = run_importgate(&mut other, &layouts);
            for l in &layouts {
                let same = match (&verdicts[&l.id], &got[&l.id]) {
                    (Ok(a), Ok(b)) => a.0 == b.0,
                    (Err(a), Err(b)) => a == b,
                    _ => false,
                };
                if !same {
                    problems.push(format!(
                        "[{}] {}: {name} gives {:?}, the daemon {:?}",
                        py.label(),
                        l.id,
                        got[&l.id],
                        verdicts[&l.id]
                    ));
                }
            }
        }
    }
    let disagreements = problems.len();
    eprintln!(
        "corpus {}: {} layouts, {} statements ({} of them failing imports), {} disagreements",
        py.label(),
        layouts.len(),
        compared,
        errors,
        disagreements
    );
    (layouts.len(), compared, problems)
}

fn run_corpus(layout: &'static str, minor: u32) {
    if !require_docker() {
        return;
    }
    let tag = ensure_base(layout, &format!("3.{minor}"));
    let py = Py { layout, minor, tag };
    let (n, compared, problems) = corpus_on(&py);
    assert!(n >= 80, "the corpus must hold at least 80 layouts, has {n}");
    assert!(
        problems.is_empty(),
        "{} of {compared} statements disagree on {}:\n\n{}",
        problems.len(),
        py.label(),
        problems.join("\n\n")
    );
}

#[test]
fn corpus_py38() {
    run_corpus("slim", 8);
}

#[test]
fn corpus_py311() {
    run_corpus("slim", 11);
}

#[test]
fn corpus_debian311() {
    run_corpus("debian", 11);
}

#[test]
fn corpus_py312() {
    run_corpus("slim", 12);
}

#[test]
fn corpus_py313() {
    run_corpus("slim", 13);
}
