//! Differential scenarios: small images built from literal file lists, checked by importgate and
//! replayed import by import in the image's own CPython. Each scenario also pins the exit code
//! and the verdict on the imports it is about.

use crate::support::*;

/// A base image and where things live in it.
pub(crate) struct Base {
    pub(crate) layout: &'static str,
    pub(crate) version: &'static str,
    pub(crate) tag: String,
}

impl Base {
    fn slim(version: &'static str) -> Base {
        Base {
            layout: "slim",
            version,
            tag: ensure_base("slim", version),
        }
    }

    fn debian() -> Base {
        Base {
            layout: "debian",
            version: "3.11",
            tag: ensure_base("debian", "3.11"),
        }
    }

    /// One of the image families of `mkbase.py` (`rhel`, `alpine`, `conda`, `uv`,
    /// `distroless`, `arm64`).
    pub(crate) fn family(layout: &'static str, version: &'static str) -> Base {
        Base {
            layout,
            version,
            tag: ensure_base(layout, version),
        }
    }

    /// The site directory `pip install` writes to (for conda, the env `app`'s; for uv, the
    /// venv's).
    pub(crate) fn site(&self) -> String {
        let v = self.version;
        match self.layout {
            "slim" | "alpine" => format!("/usr/local/lib/python{v}/site-packages"),
            "rhel" => format!("/usr/lib/python{v}/site-packages"),
            "conda" => "/opt/conda/envs/app/lib/python3.11/site-packages".to_string(),
            "uv" => format!("/app/.venv/lib/python{v}/site-packages"),
            _ => "/usr/lib/python3/dist-packages".to_string(),
        }
    }

    fn label(&self) -> String {
        match self.layout {
            "slim" => format!("py{}", self.version),
            other => format!("{other}{}", self.version),
        }
    }
}

/// An import the scenario is about: module (+ `from` name) and the verdict it must get.
pub(crate) struct Must {
    pub(crate) module: &'static str,
    pub(crate) name: Option<&'static str>,
    pub(crate) status: &'static str,
}

pub(crate) const fn ok(module: &'static str) -> Must {
    Must {
        module,
        name: None,
        status: "ok",
    }
}

pub(crate) const fn err(module: &'static str) -> Must {
    Must {
        module,
        name: None,
        status: "error",
    }
}

pub(crate) const fn from_ok(module: &'static str, name: &'static str) -> Must {
    Must {
        module,
        name: Some(name),
        status: "ok",
    }
}

pub(crate) const fn from_err(module: &'static str, name: &'static str) -> Must {
    Must {
        module,
        name: Some(name),
        status: "error",
    }
}

pub(crate) struct Scenario<'a> {
    pub(crate) name: &'a str,
    pub(crate) base: &'a Base,
    pub(crate) entries: Vec<Entry>,
    /// Dockerfile lines after `FROM` and `COPY rootfs/ /`.
    pub(crate) dockerfile: String,
    /// The command word the image's CMD starts the interpreter with.
    pub(crate) python: &'a str,
    /// `sys.path[0]` of that launch.
    pub(crate) path0: Option<&'a str>,
    pub(crate) exit: i32,
    pub(crate) must: Vec<Must>,
    /// Options of `importgate check` before the image (`--platform linux/arm64`).
    pub(crate) check_args: &'a [&'a str],
}

impl<'a> Scenario<'a> {
    /// `python3 main.py` in `/app` ([`SCRIPT_APP`]), exit 0, no entries and no claims: the
    /// defaults a scenario literal overrides.
    pub(crate) fn script(name: &'a str, base: &'a Base) -> Scenario<'a> {
        Scenario {
            name,
            base,
            entries: Vec::new(),
            dockerfile: SCRIPT_APP.into(),
            python: "python3",
            path0: Some("/app"),
            exit: 0,
            must: Vec::new(),
            check_args: &[],
        }
    }

    /// The scenario's own claims, asked of CPython before importgate: each `must` import,
    /// written absolutely, fails or works as stated. A failure here is a broken scenario.
    fn check_premises(&self, image: &str) {
        // A `skipped` claim is about importgate (the branch never runs), not CPython.
        let claims: Vec<&Must> = self.must.iter().filter(|m| m.status != "skipped").collect();
        let cases: Vec<Case> = claims
            .iter()
            .map(|m| match m.name {
                Some(name) => Case::new(&format!("from {} import {name}", m.module), None),
                None => Case::new(&format!("import {}", m.module), None),
            })
            .collect();
        let truths = truth_with(image, self.python, self.path0, &cases);
        let wrong: Vec<String> = claims
            .iter()
            .zip(&cases)
            .zip(&truths)
            .filter(|((m, _), t)| t.fails_for(m.module, m.name) != (m.status == "error"))
            .map(|((m, c), t)| {
                format!(
                    "  `{}` should be {}; CPython: {}",
                    c.statement,
                    m.status,
                    t.describe()
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "scenario {} is wrong about CPython in {image}:\n{}",
            self.name,
            wrong.join("\n")
        );
    }

    /// Builds, checks, replays; collects every failure before panicking so one run shows all.
    pub(crate) fn run(self) -> serde_json::Value {
        self.run_keeping_image().0
    }

    /// [`Scenario::run`], keeping the image for further questions to its CPython.
    pub(crate) fn run_keeping_image(self) -> (serde_json::Value, Image) {
        let tag = format!("importgate-test/{}-{}", self.name, self.base.label());
        let image = build_scenario(&tag, &self.base.tag, &self.entries, &self.dockerfile);
        self.check_premises(&image.tag);
        let mut args = vec!["check", "--format", "json"];
        args.extend(self.check_args);
        args.push(&image.tag);
        let run = importgate(&args);
        let report = run.json();
        let mut failures = Vec::new();
        if run.code != self.exit {
            failures.push(format!("exit code {} (want {})", run.code, self.exit));
        }
        let want_path0 = self.path0.map(str::to_string);
        if report_path0(&report) != want_path0 {
            failures.push(format!(
                "sys.path[0] modelled as {:?} (want {want_path0:?})",
                report_path0(&report)
            ));
        }
        for m in &self.must {
            let found = imports_of(&report, m.module, m.name);
            if !found.iter().any(|i| i["status"] == m.status) {
                failures.push(format!(
                    "import of {}{} not reported as {} (entries: {})",
                    m.module,
                    m.name.map(|n| format!(" (name {n})")).unwrap_or_default(),
                    m.status,
                    serde_json::to_string(&found).unwrap_or_default()
                ));
            }
        }
        failures.extend(disagreements(&image.tag, self.python, self.path0, &report));
        assert!(
            failures.is_empty(),
            "scenario {tag}:\n{}\n\nreport:\n{report:#}\nstderr:\n{}",
            failures.join("\n"),
            run.stderr
        );
        (report, image)
    }
}

pub(crate) const SCRIPT_APP: &str = "WORKDIR /app\nCMD [\"python3\", \"main.py\"]";

// ---------------------------------------------------------------------------------------------
// A namespace portion shadowed by a regular package in site-packages (the seed, reduced).

fn namespace_shadowed(base: Base) {
    let site = base.site();
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import services.case_service\nfrom core import aws_service\nimport json\n",
            ),
            file(
                "/app/services/case_service.py",
                "from core.aws_service import AwsService\n",
            ),
            file("/app/core/aws_service.py", "class AwsService:\n    pass\n"),
            file(format!("{site}/core/__init__.py"), "VERSION = 1\n"),
            file(format!("{site}/core/helpers.py"), ""),
        ],
        exit: 1,
        must: vec![
            ok("services.case_service"),
            err("core.aws_service"),
            from_err("core", "aws_service"),
            ok("json"),
        ],
        ..Scenario::script("namespace-shadowed", &base)
    }
    .run();
}

#[test]
fn namespace_shadowed_py312() {
    if require_docker() {
        namespace_shadowed(Base::slim("3.12"));
    }
}

#[test]
fn namespace_shadowed_py38() {
    if require_docker() {
        namespace_shadowed(Base::slim("3.8"));
    }
}

#[test]
fn namespace_shadowed_py313() {
    if require_docker() {
        namespace_shadowed(Base::slim("3.13"));
    }
}

#[test]
fn namespace_shadowed_debian() {
    if require_docker() {
        namespace_shadowed(Base::debian());
    }
}

// ---------------------------------------------------------------------------------------------
// One namespace package split across two PYTHONPATH directories.

fn namespace_across_pythonpath(base: Base) {
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import ns.one\nimport ns.two\nfrom ns import one\nfrom ns import three\n",
            ),
            file("/opt/a/ns/one.py", "A = 1\n"),
            file("/opt/b/ns/two.py", "B = 2\n"),
        ],
        dockerfile: format!("ENV PYTHONPATH=/opt/a:/opt/b\n{SCRIPT_APP}"),
        exit: 1,
        must: vec![
            ok("ns.one"),
            ok("ns.two"),
            from_ok("ns", "one"),
            from_err("ns", "three"),
        ],
        ..Scenario::script("namespace-pythonpath", &base)
    }
    .run();
}

#[test]
fn namespace_across_pythonpath_py312() {
    if require_docker() {
        namespace_across_pythonpath(Base::slim("3.12"));
    }
}

#[test]
fn namespace_across_pythonpath_py38() {
    if require_docker() {
        namespace_across_pythonpath(Base::slim("3.8"));
    }
}

#[test]
fn namespace_across_pythonpath_debian() {
    if require_docker() {
        namespace_across_pythonpath(Base::debian());
    }
}

// ---------------------------------------------------------------------------------------------
// `import a.b` where `a` is a module.

fn parent_not_package(base: Base) {
    Scenario {
        entries: vec![
            file("/app/main.py", "import a\nimport a.b\nimport os.path\n"),
            file("/app/a.py", "b = 1\n"),
        ],
        exit: 1,
        must: vec![ok("a"), err("a.b"), ok("os.path")],
        ..Scenario::script("parent-not-package", &base)
    }
    .run();
}

#[test]
fn parent_not_package_py312() {
    if require_docker() {
        parent_not_package(Base::slim("3.12"));
    }
}

#[test]
fn parent_not_package_py313() {
    if require_docker() {
        parent_not_package(Base::slim("3.13"));
    }
}

#[test]
fn parent_not_package_py38() {
    if require_docker() {
        parent_not_package(Base::slim("3.8"));
    }
}

// ---------------------------------------------------------------------------------------------
// `from pkg import missing` vs `from pkg import submodule` vs a name bound in `pkg`.

fn from_import_names(base: Base) {
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "from pkg import sub\nfrom pkg import defined\nfrom pkg import missing\nfrom pkg.sub import helper\nfrom pkg.sub import nothing\n",
            ),
            file("/app/pkg/__init__.py", "defined = 1\n"),
            file("/app/pkg/sub.py", "def helper():\n    return 1\n"),
        ],
        exit: 1,
        must: vec![
            from_ok("pkg", "sub"),
            from_ok("pkg", "defined"),
            from_err("pkg", "missing"),
            from_ok("pkg.sub", "helper"),
            from_err("pkg.sub", "nothing"),
        ],
        ..Scenario::script("from-import-names", &base)
    }
    .run();
}

#[test]
fn from_import_names_py312() {
    if require_docker() {
        from_import_names(Base::slim("3.12"));
    }
}

#[test]
fn from_import_names_debian() {
    if require_docker() {
        from_import_names(Base::debian());
    }
}

// ---------------------------------------------------------------------------------------------
// Relative imports: from a package run with -m, and from a script.

fn relative_in_package(base: Base) {
    Scenario {
        entries: vec![
            file("/srv/app/__init__.py", ""),
            file(
                "/srv/app/main.py",
                "from . import util\nfrom .util import helper\nfrom .util import nothing\nfrom .sub import deep\nfrom .. import toplevel\n",
            ),
            file("/srv/app/util.py", "def helper():\n    return 1\n"),
            file("/srv/app/sub/__init__.py", ""),
            file("/srv/app/sub/deep.py", "from .. import util\nfrom ..util import helper\nfrom ... import beyond\n"),
        ],
        dockerfile: "WORKDIR /srv\nCMD [\"python3\", \"-m\", \"app.main\"]".into(),
        path0: Some("/srv"),
        exit: 1,
        must: vec![
            from_ok("app", "util"),
            from_ok("app.util", "helper"),
            from_err("app.util", "nothing"),
            from_ok("app.sub", "deep"),
        ],
        ..Scenario::script("relative-package", &base)
    }
    .run();
}

#[test]
fn relative_in_package_py312() {
    if require_docker() {
        relative_in_package(Base::slim("3.12"));
    }
}

#[test]
fn relative_in_package_py38() {
    if require_docker() {
        relative_in_package(Base::slim("3.8"));
    }
}

#[test]
fn relative_in_package_py313() {
    if require_docker() {
        relative_in_package(Base::slim("3.13"));
    }
}

fn relative_in_script(base: Base) {
    Scenario {
        entries: vec![
            file("/app/main.py", "import util\nfrom . import util\n"),
            file("/app/util.py", ""),
        ],
        exit: 1,
        must: vec![ok("util")],
        ..Scenario::script("relative-script", &base)
    }
    .run();
}

#[test]
fn relative_in_script_py312() {
    if require_docker() {
        relative_in_script(Base::slim("3.12"));
    }
}

#[test]
fn relative_in_script_debian() {
    if require_docker() {
        relative_in_script(Base::debian());
    }
}

// ---------------------------------------------------------------------------------------------
// `python -m app.main` puts the working directory first; `python app/main.py` the script's dir.

fn dash_m_entries() -> Vec<Entry> {
    vec![
        file("/srv/app/__init__.py", ""),
        file("/srv/app/main.py", "import app.util\nimport sibling\n"),
        file("/srv/app/util.py", ""),
        file("/srv/app/sibling.py", ""),
    ]
}

#[test]
fn dash_m_puts_workdir_first() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    Scenario {
        entries: dash_m_entries(),
        dockerfile: "WORKDIR /srv\nCMD [\"python3\", \"-m\", \"app.main\"]".into(),
        path0: Some("/srv"),
        exit: 1,
        must: vec![ok("app.util"), err("sibling")],
        ..Scenario::script("dash-m", &base)
    }
    .run();
}

#[test]
fn script_puts_its_dir_first() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    Scenario {
        entries: dash_m_entries(),
        dockerfile: "WORKDIR /srv\nCMD [\"python3\", \"app/main.py\"]".into(),
        path0: Some("/srv/app"),
        exit: 1,
        must: vec![err("app.util"), ok("sibling")],
        ..Scenario::script("dash-m-script", &base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// PYTHONPATH naming a directory that does not exist.

#[test]
fn pythonpath_typo() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    Scenario {
        entries: vec![
            file("/app/main.py", "import mylib\nimport otherlib\n"),
            file("/opt/libs/mylib.py", ""),
            file("/opt/other/otherlib.py", ""),
        ],
        dockerfile: format!("ENV PYTHONPATH=/opt/libz:/opt/other\n{SCRIPT_APP}"),
        exit: 1,
        must: vec![err("mylib"), ok("otherlib")],
        ..Scenario::script("pythonpath-typo", &base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// A .pth file adding directories (absolute, relative to the site dir, missing).

fn pth_file(base: Base) {
    let site = base.site();
    Scenario {
        entries: vec![
            file("/app/main.py", "import extramod\nimport relmod\n"),
            file(
                format!("{site}/extra.pth"),
                "# extra paths\n/opt/extra\nrelative\n/opt/missing-dir\n",
            ),
            file("/opt/extra/extramod.py", ""),
            file(format!("{site}/relative/relmod.py"), ""),
        ],
        exit: 0,
        must: vec![ok("extramod"), ok("relmod")],
        ..Scenario::script("pth-file", &base)
    }
    .run();
}

#[test]
fn pth_file_py312() {
    if require_docker() {
        pth_file(Base::slim("3.12"));
    }
}

#[test]
fn pth_file_debian() {
    if require_docker() {
        pth_file(Base::debian());
    }
}

// ---------------------------------------------------------------------------------------------
// A virtual environment (made by hand: pyvenv.cfg + bin/python symlink + site-packages).

#[test]
fn venv_hides_system_site_packages() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import vpkg\nimport syspkg\nimport pip\nimport json\n",
            ),
            file(
                "/opt/venv/pyvenv.cfg",
                "home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n",
            ),
            symlink("/opt/venv/bin/python", "/usr/local/bin/python3.12"),
            symlink("/opt/venv/bin/python3", "python"),
            symlink("/opt/venv/bin/python3.12", "python"),
            file(
                "/opt/venv/lib/python3.12/site-packages/vpkg/__init__.py",
                "",
            ),
            file(
                "/usr/local/lib/python3.12/site-packages/syspkg/__init__.py",
                "",
            ),
        ],
        dockerfile:
            "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             ENV VIRTUAL_ENV=/opt/venv\nWORKDIR /app\nCMD [\"python\", \"main.py\"]"
                .into(),
        python: "python",
        exit: 1,
        must: vec![ok("vpkg"), err("syspkg"), err("pip"), ok("json")],
        ..Scenario::script("venv", &base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// A later layer deleting a module and a package (whiteouts).

#[test]
fn later_layer_deletes_modules() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    Scenario {
        entries: vec![
            file("/app/main.py", "import helpers\nimport gone\nimport kept\n"),
            file("/app/helpers.py", ""),
            file("/app/kept.py", ""),
            file("/app/gone/__init__.py", ""),
        ],
        dockerfile: format!("RUN rm /app/helpers.py && rm -r /app/gone\n{SCRIPT_APP}"),
        exit: 1,
        must: vec![err("helpers"), err("gone"), ok("kept")],
        ..Scenario::script("deleted-in-layer", &base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// A coroutine run by the event loop at startup: its imports run then.

#[test]
fn asyncio_run_main_imports_at_startup() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let (report, image) = Scenario {
        entries: vec![file(
            "/app/main.py",
            "import asyncio\n\nasync def main():\n    import absent_async_dep\n    \
             await later()\n\nasync def later():\n    import json\n\n\
             async def unused():\n    import absent_never_run\n\nasyncio.run(main())\n",
        )],
        exit: 1,
        must: vec![err("absent_async_dep"), ok("json")],
        ..Scenario::script("asyncio-run", &base)
    }
    .run_keeping_image();
    let started = docker_run(&image.tag, &[], &[]);
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(
        !started.status.success() && stderr.contains("No module named 'absent_async_dep'"),
        "{stderr}"
    );
    let found = findings_for(&report, "absent_async_dep");
    assert!(
        found
            .iter()
            .any(|f| f["kind"] == "startup" && f["severity"] == "error"),
        "{report:#}"
    );
    let never = findings_for(&report, "absent_never_run");
    assert!(never.iter().all(|f| f["severity"] != "error"), "{report:#}");
}

// ---------------------------------------------------------------------------------------------
// Installed modules rewritten by a later layer: the startup path is parsed ahead while the
// layers are read, from the first layer's bytes; the verdict is the merged tree's.

#[test]
fn later_layer_rewrites_installed_modules() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let site = base.site();
    let report = Scenario {
        entries: vec![
            file("/app/main.py", "import mended\nimport spoiled\n"),
            file(format!("{site}/mended/__init__.py"), "from . import core\n"),
            file(format!("{site}/mended/core.py"), "import absent_before\n"),
            file(
                format!("{site}/spoiled/__init__.py"),
                "from .core import x\n",
            ),
            file(format!("{site}/spoiled/core.py"), "x = 1\n"),
        ],
        dockerfile: format!(
            "RUN echo 'import json' > {site}/mended/core.py \
             && printf 'import absent_after\\nx = 1\\n' > {site}/spoiled/core.py\n{SCRIPT_APP}"
        ),
        exit: 1,
        ..Scenario::script("rewritten-in-layer", &base)
    }
    .run();
    assert!(
        !findings_for(&report, "absent_after").is_empty(),
        "{report:#}"
    );
    assert!(
        findings_for(&report, "absent_before").is_empty(),
        "{report:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Standard-library modules removed in 3.12 (distutils, imp, asynchat) and 3.13 (cgi).

fn stdlib_removed(base: Base, exit: i32, must: Vec<Must>) {
    Scenario {
        entries: vec![file(
            "/app/main.py",
            "import json\nimport distutils\nimport imp\nimport asynchat\nimport cgi\n",
        )],
        exit,
        must,
        ..Scenario::script("stdlib-removed", &base)
    }
    .run();
}

#[test]
fn stdlib_removed_py38() {
    if require_docker() {
        stdlib_removed(
            Base::slim("3.8"),
            0,
            vec![ok("imp"), ok("asynchat"), ok("cgi"), ok("distutils")],
        );
    }
}

#[test]
fn stdlib_removed_py312() {
    if require_docker() {
        stdlib_removed(
            Base::slim("3.12"),
            1,
            vec![err("distutils"), err("imp"), err("asynchat"), ok("cgi")],
        );
    }
}

#[test]
fn stdlib_removed_py313() {
    if require_docker() {
        stdlib_removed(
            Base::slim("3.13"),
            1,
            vec![err("distutils"), err("imp"), err("cgi"), ok("json")],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// An extension module built for another CPython: the 3.12 finder never considers it.

#[test]
fn foreign_abi_extension_py312() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let site = base.site();
    Scenario {
        entries: vec![
            file("/app/main.py", "import fast\nimport slow\n"),
            file(format!("{site}/fast.cpython-310-x86_64-linux-gnu.so"), ""),
            file(format!("{site}/slow.py"), ""),
        ],
        exit: 1,
        must: vec![err("fast"), ok("slow")],
        ..Scenario::script("foreign-abi", &base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// `from X import name` where X is C code of the standard library (builtin, lib-dynload), a
// frozen or preloaded module, or a module star-importing one: the names depend on the
// interpreter's version. Every statement is replayed in the image.

const STDLIB_NAMES: &str = "\
from itertools import batched
from itertools import pairwise
from itertools import izip
from math import cbrt
from math import lcm
from math import sumprod
from math import fma
from typing import Self
from os import process_cpu_count
from os import errno
from os import getpid
from os import PathLike
from os import pidfd_open
from os import waitstatus_to_exitcode
from sys import monitoring
from sys import getrefcount
from functools import cache
from operator import call
from time import time_ns
from select import epoll
from _thread import daemon_threads_allowed
from builtins import aiter
from gc import freeze
from unicodedata import is_normalized
from binascii import a2b_hqx
from binascii import crc_hqx
from io import text_encoding
from codecs import BOM
from abc import update_abstractmethods
from stat import filemode
from collections import OrderedDict
from collections import Callable
from _collections import deque
from posix import waitstatus_to_exitcode
from _io import open_code
from errno import ENOTSUP
from array import array
from marshal import dumps
from re import IGNORECASE
from re import I
from re import NOFLAG
from re import RegexFlag
from re import nosuchflag
from signal import SIGTERM
from signal import Signals
from socket import AF_INET
from socket import AddressFamily
from socket import no_such_function
from ssl import PROTOCOL_TLS_CLIENT
from plistlib import FMT_XML
";

/// `minor`: the image's CPython 3.minor (`itertools.batched` is 3.12+, `re.NOFLAG` 3.11+).
fn stdlib_names(base: Base, minor: u32) {
    let batched = minor >= 12;
    Scenario {
        entries: vec![
            file("/app/main.py", "print('ok')\n"),
            file("/app/names.py", STDLIB_NAMES),
        ],
        // `from os import errno` fails on every version here.
        exit: 1,
        must: vec![
            if batched {
                from_ok("itertools", "batched")
            } else {
                from_err("itertools", "batched")
            },
            from_err("os", "errno"),
            from_ok("os", "getpid"),
            // Exported by `@enum.global_enum` from 3.11, by `globals().update` before.
            from_ok("re", "IGNORECASE"),
            // Added in 3.11; before, `re`'s namespace is filled dynamically and the names
            // real interpreters bind decide.
            if minor >= 11 {
                from_ok("re", "NOFLAG")
            } else {
                from_err("re", "NOFLAG")
            },
            from_err("re", "nosuchflag"),
            from_err("socket", "no_such_function"),
        ],
        ..Scenario::script("stdlib-names", &base)
    }
    .run();
}

#[test]
fn stdlib_names_py38() {
    if require_docker() {
        stdlib_names(Base::slim("3.8"), 8);
    }
}

#[test]
fn stdlib_names_py312() {
    if require_docker() {
        stdlib_names(Base::slim("3.12"), 12);
    }
}

#[test]
fn stdlib_names_py313() {
    if require_docker() {
        stdlib_names(Base::slim("3.13"), 13);
    }
}

#[test]
fn stdlib_names_debian() {
    if require_docker() {
        stdlib_names(Base::debian(), 11);
    }
}

// ---------------------------------------------------------------------------------------------
// Imports guarded by existence tests of files in the image: literal, relative to the working
// directory, and derived from `__file__`; a branch whose test is false in the image never runs.

fn existence_guards(base: Base) {
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "\
import os
from pathlib import Path
BASE = Path(__file__).resolve().parent
if os.path.exists('local_settings.py'):
    import local_settings
if os.path.exists('present.py'):
    import present
if (BASE / 'pkg' / 'optional.py').is_file():
    from pkg import optional
if os.path.isdir(os.path.join(os.path.dirname(__file__), 'pkg')):
    from pkg import present_mod
if not os.path.exists('/etc/importgate-flag'):
    import missing_when_flag_absent
",
            ),
            file("/app/present.py", ""),
            file("/app/pkg/__init__.py", ""),
            file("/app/pkg/present_mod.py", ""),
        ],
        exit: 1,
        must: vec![
            Must {
                module: "local_settings",
                name: None,
                status: "skipped",
            },
            Must {
                module: "pkg",
                name: Some("optional"),
                status: "skipped",
            },
            ok("present"),
            from_ok("pkg", "present_mod"),
            err("missing_when_flag_absent"),
        ],
        ..Scenario::script("existence-guards", &base)
    }
    .run();
}

#[test]
fn existence_guards_py312() {
    if require_docker() {
        existence_guards(Base::slim("3.12"));
    }
}

#[test]
fn existence_guards_py38() {
    if require_docker() {
        existence_guards(Base::slim("3.8"));
    }
}

// ---------------------------------------------------------------------------------------------
// A module whose source does not parse: importing it raises SyntaxError (not an ImportError,
// so `except ImportError` does not catch it); the file itself gets one finding, however many
// errors the parser recovers from.

fn syntax_error_modules(base: Base) -> serde_json::Value {
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import good\nimport bad\nfrom pkg import broken\nfrom pkg import fine\n",
            ),
            file("/app/good.py", "x = 1\n"),
            file("/app/bad.py", "def f(:\n    pass\nclass (:\n"),
            file("/app/pkg/__init__.py", ""),
            file("/app/pkg/broken.py", "print 'python 2'\n"),
            file("/app/pkg/fine.py", ""),
        ],
        exit: 1,
        must: vec![ok("good"), from_ok("pkg", "fine")],
        ..Scenario::script("syntax-error-modules", &base)
    }
    .run()
}

#[test]
fn syntax_error_modules_py312() {
    if require_docker() {
        let report = syntax_error_modules(Base::slim("3.12"));
        // One finding per file that does not parse, and each importing statement an error.
        let per_file: Vec<&serde_json::Value> = findings_for(&report, "")
            .into_iter()
            .filter(|f| f["code"] == "syntax-error")
            .collect();
        assert_eq!(per_file.len(), 2, "{report:#}");
        for (module, name) in [("bad", None), ("pkg", Some("broken"))] {
            let imports = imports_of(&report, module, name);
            assert!(
                imports.len() == 1
                    && imports[0]["status"] == "error"
                    && imports[0]["raised_in"].is_string(),
                "{module}: {imports:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax newer than the interpreter: `:=` (3.8), `match` (3.10), PEP 701 f-strings (3.12),
// `except A, B:` (3.14). Each module's import fails exactly on the interpreters older than its
// syntax; the differential replays every import in the image.

fn newer_syntax_modules(base: Base, ok_modules: &[&'static str]) -> serde_json::Value {
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import walrus_mod\nimport match_mod\nimport fstring_mod\nimport except_mod\n",
            ),
            file("/app/walrus_mod.py", "if (n := 3) > 2:\n    pass\n"),
            file(
                "/app/match_mod.py",
                "def f(x):\n    match x:\n        case 1:\n            return 'one'\n        case _:\n            return 'other'\n",
            ),
            file("/app/fstring_mod.py", "d = {'k': 1}\ns = f\"{d[\"k\"]}\"\n"),
            file(
                "/app/except_mod.py",
                "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",
            ),
        ],
        exit: 1,
        must: ok_modules.iter().map(|m| ok(m)).collect(),
        ..Scenario::script("newer-syntax", &base)
    }
    .run()
}

#[test]
fn newer_syntax_py39() {
    if require_docker() {
        let report = newer_syntax_modules(Base::slim("3.9"), &["walrus_mod"]);
        for m in ["match_mod", "fstring_mod", "except_mod"] {
            let i = imports_of(&report, m, None);
            assert!(i.len() == 1 && i[0]["status"] == "error", "{m}: {i:#?}");
        }
    }
}

#[test]
fn newer_syntax_py313() {
    if require_docker() {
        let report = newer_syntax_modules(
            Base::slim("3.13"),
            &["walrus_mod", "match_mod", "fstring_mod"],
        );
        let i = imports_of(&report, "except_mod", None);
        assert!(i.len() == 1 && i[0]["status"] == "error", "{i:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bytes that are not UTF-8: an import fails on one inside a string or a name (one SyntaxError,
// at that token), not in a comment; a PEP 263 declaration or a BOM makes them valid; a binary
// file is one error. The files are written as bytes on the host and copied in.

/// Deterministic bytes that no tokenizer accepts as Python.
fn binary_noise(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn undecodable_sources(base: Base) -> serde_json::Value {
    let dir = tempdir();
    let files: [(&str, Vec<u8>); 6] = [
        ("latin_plain.py", b"import os\nname = 'caf\xe9'\n".to_vec()),
        (
            "latin_cookie.py",
            b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".to_vec(),
        ),
        (
            "bom_utf8.py",
            b"\xef\xbb\xbfname = 'caf\xc3\xa9'\n".to_vec(),
        ),
        ("comment_only.py", b"# caf\xe9\nname = 1\n".to_vec()),
        ("real_fffd.py", "name = '\u{fffd}'\n".as_bytes().to_vec()),
        ("noise.py", binary_noise(300)),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    let (report, image) = Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import latin_plain\nimport latin_cookie\nimport bom_utf8\nimport comment_only\nimport real_fffd\nimport noise\n",
            ),
            Entry::Tree("/app".into(), dir.path().to_path_buf()),
        ],
        exit: 1,
        must: vec![
            ok("latin_cookie"),
            ok("bom_utf8"),
            ok("comment_only"),
            ok("real_fffd"),
        ],
        ..Scenario::script("undecodable-sources", &base)
    }
    .run_keeping_image();
    // CPython: the two refused files raise SyntaxError at import (not an ImportError, so the
    // scenario's own claims cannot say it); importgate: each import an error.
    let cases = [
        Case::new("import latin_plain", None),
        Case::new("import noise", None),
    ];
    for (case, truth) in cases
        .iter()
        .zip(truth_with(&image.tag, "python3", Some("/app"), &cases))
    {
        assert!(
            truth.ok == Some(false) && truth.exc_type.as_deref() == Some("SyntaxError"),
            "`{}` in CPython: {}",
            case.statement,
            truth.describe()
        );
    }
    for module in ["latin_plain", "noise"] {
        let imports = imports_of(&report, module, None);
        assert!(
            imports.len() == 1 && imports[0]["status"] == "error",
            "{module}: {imports:#?}"
        );
    }
    // One warning per file CPython refuses, at the first bad byte's line for the Latin-1 one.
    let per_file: Vec<&serde_json::Value> = findings_for(&report, "")
        .into_iter()
        .filter(|f| f["code"] == "syntax-error")
        .collect();
    let files_hit: Vec<&str> = per_file.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(
        files_hit,
        ["/app/latin_plain.py", "/app/noise.py"],
        "{report:#}"
    );
    assert_eq!(per_file[0]["line"], 2, "{report:#}");
    assert!(
        per_file[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("can't decode byte 0xe9")),
        "{report:#}"
    );
    report
}

#[test]
fn undecodable_sources_py311() {
    if require_docker() {
        undecodable_sources(Base::slim("3.11"));
    }
}

#[test]
fn undecodable_sources_py312() {
    if require_docker() {
        undecodable_sources(Base::slim("3.12"));
    }
}

/// The script the container runs by path is read by CPython's file reader, which refuses a
/// non-UTF-8 byte even in a comment (an import would not): one finding at that line, with the
/// message the container's own start prints.
#[test]
fn undecodable_script_run_by_path_py312() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let dir = tempdir();
    std::fs::write(
        dir.path().join("main.py"),
        b"import json\n# r\xe9sum\xe9 of the service\nimport helper\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("helper.py"), b"# caf\xe9\nx = 1\n").expect("write");
    let image = build_scenario(
        &format!("importgate-test/undecodable-script-{}", base.label()),
        &base.tag,
        &[Entry::Tree("/app".into(), dir.path().to_path_buf())],
        SCRIPT_APP,
    );
    let started = docker_run(&image.tag, &[], &[]);
    let said = String::from_utf8_lossy(&started.stderr).into_owned();
    let want = "Non-UTF-8 code starting with '\\xe9' in file /app/main.py on line 2, but no encoding declared";
    assert!(
        !started.status.success() && said.contains(want),
        "the container's start: {said}"
    );
    let (run, report) = check_json(&image.tag);
    let syntax: Vec<&serde_json::Value> = findings_for(&report, "")
        .into_iter()
        .filter(|f| f["code"] == "syntax-error")
        .collect();
    assert!(
        syntax.len() == 1
            && syntax[0]["file"] == "/app/main.py"
            && syntax[0]["line"] == 2
            && syntax[0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(want)),
        "{report:#}\nstderr:\n{}",
        run.stderr
    );
    // The process cannot start: a startup error (exit 1), and nothing of the script runs, so
    // its imports are not followed.
    assert_eq!(run.code, 1, "{report:#}");
    assert!(
        syntax[0]["severity"] == "error"
            && syntax[0]["kind"] == "startup"
            && imports_of(&report, "helper", None).is_empty()
            && report["summary"]["errors"] == 1,
        "{report:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fallback imports in `except ImportError:` handlers run only when the `try` body's imports
// fail: `import tomli` after `import tomllib` never runs on 3.11+, and runs (and fails) on 3.8.

const FALLBACKS: &str = "try:\n    import tomllib\nexcept ImportError:\n    import absent_tomli_backport as tomllib\n\n\
try:\n    from functools import cached_property\nexcept ImportError:\n    from absent_cached_property import cached_property\n\n\
try:\n    import absent_fast_json as json\nexcept ImportError:\n    import json\n\n\
try:\n    import absent_first_choice\n    HAS_FIRST = True\nexcept ImportError:\n    import absent_second_choice\n";

const fn skipped(module: &'static str, name: Option<&'static str>) -> Must {
    Must {
        module,
        name,
        status: "skipped",
    }
}

fn fallbacks(base: Base, on_311_plus: bool) {
    let tomli = if on_311_plus {
        skipped("absent_tomli_backport", None)
    } else {
        err("absent_tomli_backport")
    };
    let (_, image) = Scenario {
        entries: vec![file("/app/main.py", FALLBACKS)],
        exit: 1,
        must: vec![
            tomli,
            skipped("absent_cached_property", Some("cached_property")),
            ok("json"),
            err("absent_second_choice"),
        ],
        ..Scenario::script("fallback-imports", &base)
    }
    .run_keeping_image();
    // The container's own start: the first handler that runs and fails stops it.
    let started = docker_run(&image.tag, &[], &[]);
    let stderr = String::from_utf8_lossy(&started.stderr);
    let first = if on_311_plus {
        "absent_second_choice"
    } else {
        "absent_tomli_backport"
    };
    assert!(
        !started.status.success() && stderr.contains(&format!("No module named '{first}'")),
        "{stderr}"
    );
}

#[test]
fn fallback_imports_py312() {
    if !require_docker() {
        return;
    }
    fallbacks(Base::slim("3.12"), true);
}

#[test]
fn fallback_imports_py38() {
    if !require_docker() {
        return;
    }
    fallbacks(Base::slim("3.8"), false);
}

// ---------------------------------------------------------------------------------------------
// Installed code outside the site directories (`pip install --target /deps`, on PYTHONPATH):
// followed like site-packages, so its optional branches are not guessed (`if WIN: import
// msvcrt`) and a dependency it surely imports but lacks breaks the application's import.

#[test]
fn target_directory_installs_are_dependencies() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let record = |pkg: &str, files: &[&str]| {
        let mut lines: Vec<String> = files.iter().map(|f| format!("{pkg}/{f},,")).collect();
        lines.push(format!("{pkg}-1.0.dist-info/RECORD,,"));
        file(
            format!("/deps/{pkg}-1.0.dist-info/RECORD"),
            lines.join("\n") + "\n",
        )
    };
    let report = Scenario {
        entries: vec![
            file("/app/main.py", "import clicky\nimport brokenpkg\n"),
            file(
                "/deps/clicky/__init__.py",
                "import sys\nWIN = sys.platform.startswith('win')\nif WIN:\n    import msvcrt\nfrom . import core\n",
            ),
            file("/deps/clicky/core.py", "x = 1\n"),
            record("clicky", &["__init__.py", "core.py"]),
            file("/deps/brokenpkg/__init__.py", "import absent_transitive_dep\n"),
            record("brokenpkg", &["__init__.py"]),
        ],
        dockerfile: format!("ENV PYTHONPATH=/deps\n{SCRIPT_APP}"),
        exit: 1,
        must: vec![ok("clicky")],
        ..Scenario::script("target-dir-installs", &base)
    }
    .run();
    assert!(findings_for(&report, "msvcrt").is_empty(), "{report:#}");
    // CPython raises inside `brokenpkg`: the application's statement fails because of it.
    assert!(
        imports_of(&report, "brokenpkg", None)
            .iter()
            .any(|i| i["status"] == "error"),
        "{report:#}"
    );
    assert!(
        findings_for(&report, "absent_transitive_dep")
            .iter()
            .any(|f| f["severity"] == "error"),
        "{report:#}"
    );
    // The RECORD says the code under /deps is installed, not the application's.
    assert_eq!(report["summary"]["files"], 1, "{report:#}");
}

// ---------------------------------------------------------------------------------------------
// Off the startup path, a dependency that lacks its own dependency: the application's import of
// it raises from inside it (a runtime stage that copied a package without what it needs).

#[test]
fn missing_dependency_of_a_dependency_off_the_startup_path() {
    if !require_docker() {
        return;
    }
    let base = Base::slim("3.12");
    let site = base.site();
    let report = Scenario {
        entries: vec![
            file("/app/main.py", "print('started')\n"),
            file(
                "/app/tasks.py",
                "import fastish\nimport wholepkg\n\ndef later():\n    import fastish.sub\n",
            ),
            file(
                format!("{site}/fastish/__init__.py"),
                "from . import core\n",
            ),
            file(
                format!("{site}/fastish/core.py"),
                "import sys\nif sys.platform == 'win32':\n    import absent_windows_only\n\
                 try:\n    import absent_optional\nexcept ImportError:\n    pass\n\
                 import absent_transitive\n",
            ),
            file(format!("{site}/fastish/sub.py"), ""),
            file(
                format!("{site}/wholepkg/__init__.py"),
                "import json\nfrom . import part\n",
            ),
            file(format!("{site}/wholepkg/part.py"), "import os\n"),
        ],
        exit: 1,
        must: vec![ok("wholepkg")],
        ..Scenario::script("missing-dependency-off-path", &base)
    }
    .run();
    let statuses = |module: &str| -> Vec<String> {
        imports_of(&report, module, None)
            .iter()
            .map(|i| i["status"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(statuses("fastish"), ["error"], "{report:#}");
    let found = findings_for(&report, "absent_transitive");
    assert!(
        found
            .iter()
            .any(|f| f["severity"] == "error" && f["line"] == 1),
        "{report:#}"
    );
    assert!(
        found
            .iter()
            .any(|f| f["code"] == "lazy-import-missing" && f["line"] == 5),
        "{report:#}"
    );
    for optional in ["absent_windows_only", "absent_optional"] {
        assert!(findings_for(&report, optional).is_empty(), "{report:#}");
    }
}
