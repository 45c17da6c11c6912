"""importgate: generated applications for the differential test tests/it/generated.rs.

    python3 genapps.py --seed N --count K --minor M > layouts.json

Writes K small applications, the same for the same arguments, each with its own directory
/c/gNNN: packages with and without `__init__.py`, modules importing each other (absolute,
relative, `from` forms, star imports, cycles), the standard library (modules that some builds or
versions lack among them), missing modules and names, local modules named like standard-library
ones, guarded and lazy imports, and a start command (`python3 main.py`, `python3 -m pkg.mod`,
`python3 -m pkg`, a script in a subdirectory, a `src/` layout on PYTHONPATH). Nothing here
decides what should fail: the test starts each application in the image and asks CPython.

Every module ends with a line that appends its own path to /tmp/ig_done, so the driver can tell
which files ran to their end. Output (JSON):
    {"layouts": [{"id", "about", "files": {path: text}, "argv", "cwd", "env",
                  "path0", "modules": [dotted names importable from path0 or PYTHONPATH]}]}
"""

import argparse
import json
import random

TOP_NAMES = ["app", "core", "services", "api", "models", "utils", "config", "db", "tasks",
             "web", "common", "handlers", "schemas", "settings", "workers", "domain"]
SUB_NAMES = ["aws_service", "base", "views", "routes", "helpers", "client", "models", "crud",
             "deps", "security", "session", "jobs", "events", "auth", "storage", "main"]
# Local modules named like the standard library's: whether the local file or the stdlib wins
# depends on what the interpreter imported before sys.path[0] mattered.
STDLIB_CLASH = ["email", "json", "logging", "types", "enum", "queue", "signal", "secrets",
                "calendar", "http", "random", "string", "token", "platform", "code", "test",
                "abc", "typing", "dataclasses", "decimal", "uuid", "site", "copy", "io"]
DEF_NAMES = ["VALUE", "helper", "Model", "router", "settings", "engine", "Base", "get_db",
             "client", "CONFIG"]
# Standard-library imports present everywhere the tests run, and ones that some versions or
# builds lack (or that are not the standard library's at all).
STDLIB = ["os", "sys", "json", "collections.abc", "xml.etree.ElementTree", "asyncio",
          "importlib.metadata", "sqlite3", "ssl", "lzma", "bz2", "ctypes", "uuid", "decimal",
          "typing", "dataclasses", "contextvars", "email.mime.text", "http.client", "logging",
          "concurrent.futures", "multiprocessing.pool", "unittest.mock", "wsgiref.simple_server",
          "tempfile", "random", "string", "argparse", "pathlib", "subprocess", "enum", "queue"]
STDLIB_RISKY = ["tomllib", "zoneinfo", "graphlib", "distutils", "imp", "asynchat", "smtpd",
                "cgi", "tkinter", "curses", "readline", "dbm.gnu", "dbm.ndbm", "lib2to3",
                "tomli", "typing_extensions", "asyncore", "telnetlib", "pipes", "crypt"]
STDLIB_NAMES = [("os", "path"), ("os", "getcwd"), ("collections", "OrderedDict"),
                ("json", "JSONDecodeError"), ("importlib", "import_module"),
                ("xml", "etree"), ("email", "mime"), ("concurrent", "futures"),
                ("unittest", "mock"), ("http", "HTTPStatus"), ("typing", "Optional"),
                ("dataclasses", "dataclass"), ("functools", "wraps"), ("pathlib", "Path")]
STDLIB_NAMES_RISKY = [("collections", "Mapping"), ("typing", "Self"), ("typing", "TypeAlias"),
                      ("typing", "override"), ("asyncio", "TaskGroup"), ("functools", "cache"),
                      ("datetime", "UTC"), ("enum", "StrEnum"), ("itertools", "batched"),
                      ("math", "lcm"), ("importlib", "metadata"), ("importlib", "resources"),
                      ("inspect", "getargspec"), ("string", "letters"), ("os", "nothing")]


class Mod:
    """One module of the application: a `.py` file, or a package's `__init__.py`."""

    def __init__(self, name, path, is_pkg, has_file):
        self.name = name          # dotted, from the import root
        self.path = path          # relative to the import root
        self.is_pkg = is_pkg
        self.has_file = has_file  # False: a namespace package (no __init__.py)
        self.children = []
        self.defined = []
        self.lines = []


def gen_tree(rng, depth_names):
    """The application's modules: 2-4 top-level entries, packages up to three deep."""
    mods = []

    def add(parent, name, depth):
        dotted = name if parent is None else parent.name + "." + name
        rel = name if parent is None else parent.path.rsplit("/", 1)[0] + "/" + name
        is_pkg = depth < 3 and rng.random() < (0.6 if depth == 1 else 0.3)
        if is_pkg:
            has_init = rng.random() < 0.75
            m = Mod(dotted, rel + "/__init__.py", True, has_init)
            mods.append(m)
            names = rng.sample(SUB_NAMES, rng.randint(1, 3))
            for n in names:
                m.children.append(add(m, n, depth + 1))
        else:
            m = Mod(dotted, rel + ".py", False, True)
            mods.append(m)
        return m

    n_top = rng.randint(2, 4)
    tops = rng.sample(TOP_NAMES, n_top)
    if rng.random() < 0.12:
        tops[-1] = rng.choice(STDLIB_CLASH)
    roots = [add(None, t, 1) for t in tops]
    return mods, roots


def import_stmt(rng, me, mods, minor, bad):
    """One import statement for module `me`, or None. `bad`: one likely to fail by itself (a
    missing module or name, a module some versions lack, a relative import too far up)."""
    files = [m for m in mods if m.has_file]
    r = rng.random()
    if bad:
        if r < 0.25:
            base = rng.choice(mods).name
            sub = rng.choice(SUB_NAMES) + "_x"
            if rng.random() < 0.5:
                return "import %s.%s" % (base, sub)
            return "from %s import %s" % (base, sub)
        if r < 0.45:
            t = rng.choice(mods)
            return "from %s import %s" % (t.name, rng.choice(DEF_NAMES))
        if r < 0.65:
            return "import %s" % rng.choice(STDLIB_RISKY)
        if r < 0.85:
            mod, name = rng.choice(STDLIB_NAMES_RISKY)
            return "from %s import %s" % (mod, name)
        return "from %s import %s" % ("." * rng.choice([1, 2, 3]), rng.choice(SUB_NAMES))
    if r < 0.45:
        t = rng.choice(mods)
        if t is me:
            return None
        form = rng.random()
        if form < 0.35:
            return "import %s" % t.name
        if form < 0.45:
            return "import %s as %s_alias" % (t.name, t.name.replace(".", "_"))
        if "." in t.name and form < 0.65:
            parent, leaf = t.name.rsplit(".", 1)
            return "from %s import %s" % (parent, leaf)
        if t.has_file and t.defined and rng.random() < 0.8:
            return "from %s import %s" % (t.name, rng.choice(t.defined))
        if t.is_pkg and t.children:
            return "from %s import %s" % (t.name, rng.choice(t.children).name.rsplit(".", 1)[1])
        return "import %s" % t.name
    if r < 0.62:
        # relative forms: meaningful in packages only
        pkg = me.name if me.is_pkg else (me.name.rsplit(".", 1)[0] if "." in me.name else None)
        if pkg is None:
            return None
        parts = pkg.split(".")
        level = rng.randint(1, len(parts))
        base = ".".join(parts[: len(parts) - level + 1])
        sibs = [m for m in mods
                if m.name.startswith(base + ".") and m.name.count(".") == base.count(".") + 1]
        sibs = [m for m in sibs if m is not me]
        if not sibs:
            return None
        t = rng.choice(sibs)
        leaf = t.name.rsplit(".", 1)[1]
        if rng.random() < 0.5 or not (t.has_file and t.defined):
            return "from %s import %s" % ("." * level, leaf)
        return "from %s%s import %s" % ("." * level, leaf, rng.choice(t.defined))
    if r < 0.95:
        if rng.random() < 0.5:
            return "import %s" % rng.choice(STDLIB)
        mod, name = rng.choice(STDLIB_NAMES)
        return "from %s import %s" % (mod, name)
    t = rng.choice(files)
    if t is me:
        return None
    return "from %s import *" % t.name


def body(rng, me, mods, minor):
    """The module's statements; names it binds are recorded first so others can import them."""
    lines = []
    n = rng.randint(1, 4)
    for _ in range(n):
        s = import_stmt(rng, me, mods, minor, rng.random() < 0.04)
        if s is None:
            continue
        # `import *` is a SyntaxError anywhere but at module level.
        k = 1.0 if s.endswith("*") else rng.random()
        if k < 0.08:
            lines.append("try:\n    %s\nexcept ImportError:\n    pass" % s)
        elif k < 0.15:
            lines.append("def _lazy_%d():\n    %s" % (len(lines), s))
        elif k < 0.19:
            lines.append("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    %s" % s)
        else:
            lines.append(s)
    defs = []
    for name in me.defined:
        kind = rng.random()
        if kind < 0.4:
            defs.append("def %s():\n    return 1" % name)
        elif kind < 0.7:
            defs.append("class %s:\n    pass" % name)
        else:
            defs.append("%s = 1" % name)
    if rng.random() < 0.08 and me.defined:
        defs.append("__all__ = [%r]" % me.defined[0])
    # definitions before, between or after the imports: what a cycle meets depends on it
    out = []
    while lines or defs:
        if defs and (not lines or rng.random() < 0.4):
            out.append(defs.pop(0))
        else:
            out.append(lines.pop(0))
    # what the compiler, not the parser, refuses (or accepts): a `__future__` import first is
    # fine, after anything else it is a SyntaxError; `import *` in a function always is
    c = rng.random()
    if c < 0.03:
        out.insert(0, "from __future__ import annotations")
    elif c < 0.05 and out:
        out.insert(1, "from __future__ import annotations")
    elif c < 0.07:
        out.append("def _star():\n    from os.path import *")
    return out


def gen_layout(rng, n, minor):
    lid = "g%03d" % n
    mods, roots = gen_tree(rng, None)
    for m in mods:
        if m.has_file:
            m.defined = rng.sample(DEF_NAMES, rng.randint(0, 2))
    for m in mods:
        if m.has_file:
            m.lines = body(rng, m, mods, minor)

    files_mods = [m for m in mods if m.has_file]
    layout_kind = rng.random()
    src = layout_kind < 0.12
    root = "/c/%s/src" % lid if src else "/c/%s" % lid
    cwd = "/c/%s" % lid
    env = {}
    about = []
    main_lines = None
    entry = rng.random()
    argv = None
    path0 = None
    main_path = None
    prelude = None
    if src:
        env["PYTHONPATH"] = root
        about.append("src layout on PYTHONPATH")
    if entry < 0.55:
        main_path = "%s/main.py" % cwd
        argv = ["python3", "main.py"]
        path0 = cwd
        about.append("python3 main.py")
    elif entry < 0.75 and files_mods:
        t = rng.choice(files_mods)
        if t.is_pkg:
            # `python -m pkg` runs pkg/__main__.py
            pkg_dir = t.path.rsplit("/", 1)[0]
            main_path = "%s/%s/__main__.py" % (root, pkg_dir)
            argv = ["python3", "-m", t.name]
            about.append("python3 -m %s (__main__.py)" % t.name)
        else:
            argv = ["python3", "-m", t.name]
            about.append("python3 -m %s" % t.name)
        path0 = cwd
    else:
        main_path = "%s/scripts/run.py" % cwd
        argv = ["python3", "scripts/run.py"]
        path0 = "%s/scripts" % cwd
        about.append("a script in a subdirectory")
        if not src and rng.random() < 0.5:
            env["PYTHONPATH"] = cwd
            about.append("PYTHONPATH=" + cwd)
        elif not src and rng.random() < 0.3:
            env["PYTHONPATH"] = cwd + "/scirpts"
            about.append("PYTHONPATH with a typo")
        elif not src:
            # the script puts the project on sys.path itself (or, last, only its own directory)
            prelude = rng.choice([
                "import os, sys\nsys.path.insert(0, os.path.join("
                "os.path.dirname(os.path.abspath(__file__)), '..'))",
                "import sys\nfrom pathlib import Path\n"
                "sys.path.insert(0, str(Path(__file__).resolve().parent.parent))",
                "import sys\nsys.path.append(%r)" % cwd,
                "import os, sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))",
            ])
            about.append("the script edits sys.path")

    files = {}
    if main_path is not None:
        mlines = [prelude] if prelude else []
        # an import above the script's own sys.path edit does not see it
        late_edit = prelude is not None and rng.random() < 0.25
        picks = rng.sample(roots, min(len(roots), rng.randint(1, 3)))
        for r in picks:
            f = rng.random()
            if f < 0.5:
                mlines.append("import %s" % r.name)
            elif r.has_file and r.defined:
                mlines.append("from %s import %s" % (r.name, rng.choice(r.defined)))
            elif r.is_pkg and r.children:
                mlines.append("from %s import %s" % (r.name, r.children[0].name.rsplit(".", 1)[1]))
            else:
                mlines.append("import %s" % r.name)
        deep = [m for m in files_mods if "." in m.name]
        if deep and rng.random() < 0.5:
            mlines.append("import %s" % rng.choice(deep).name)
        if rng.random() < 0.03:
            mlines.append("from . import %s" % roots[0].name)
        if late_edit and len(mlines) > 1:
            mlines[0], mlines[1] = mlines[1], mlines[0]
            about.append("an import above the edit")
        mlines.append("open('/tmp/ig_done', 'a').write(%r)" % (main_path + "\n"))
        files[main_path] = "\n".join(mlines) + "\n"
    for m in files_mods:
        path = "%s/%s" % (root, m.path)
        text = "\n".join(m.lines + ["open('/tmp/ig_done', 'a').write(%r)" % (path + "\n")]) + "\n"
        files[path] = text
    for m in mods:
        if m.is_pkg and not m.has_file:
            # the directory must exist even with no module of its own left in it
            d = "%s/%s" % (root, m.path.rsplit("/", 1)[0])
            files.setdefault(d + "/README.txt", "namespace\n")

    roots_for_modules = [root] if (src or path0 == cwd or env.get("PYTHONPATH") == cwd) else []
    modules = [m.name for m in files_mods] if roots_for_modules else []
    return {
        "id": lid,
        "about": ", ".join(about),
        "files": files,
        "argv": argv,
        "cwd": cwd,
        "env": env,
        "path0": path0,
        "modules": modules,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--minor", type=int, required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    layouts = [gen_layout(rng, i, a.minor) for i in range(a.count)]
    json.dump({"layouts": layouts}, __import__("sys").stdout)


main()
