//! Launchers that import the application themselves, each with its own idea of `sys.path`,
//! started for real as the truth: `huey_consumer server.huey` (a `MemoryHuey`; the consumer is
//! a console script, so `sys.path[0]` is its bin directory, and it retries a failed import with
//! the working directory put first), `dramatiq server` (a `StubBroker`; each `--path`, default
//! `.`, put first on `sys.path` before the broker module is imported) and `python -m
//! aiohttp.web -H 0.0.0.0 -P 8080 server:init_app` (the working directory is `sys.path[0]`
//! under `-m`; `init_app` is called at startup). The versions are the ones whose code
//! docs/semantics.md (F16) cites (huey 3.5.4, dramatiq 2.2.1, aiohttp 3.14.5 as in
//! `wheels.rs`), every wheel pinned in `~/.cache/importgate-tests/wheels/launchers-v1/` and
//! installed into one base image kept between runs. Per launcher, a good image (WORKDIR
//! /app, `server.py` importing the local package `routes` and its `routes/handlers.py`) and a
//! bad twin without `routes/handlers.py`.
//!
//! The truth is the image's own Cmd, run without network for [`TIMEOUT`] seconds: still
//! running then = CPython starts it; ended non-zero with `No module named '…'` in the log = it
//! fails on that module (at the innermost application frame of the traceback, for the
//! launchers that print one; aiohttp.web prints only the message). The judgment: `importgate
//! check --format json` exits 0 without error findings on an image CPython starts, and 1 on
//! one it fails, with error findings only for the module CPython names, one of them at the
//! statement that imports it.

use serde_json::Value;

use crate::support::*;

/// The wheels of the base image (CPython 3.12, manylinux x86_64): the launchers and their whole
/// dependency closure, every distribution pinned to the version F16 was read from
/// (downloaded with `--no-deps`; pip in the image resolves against exactly these, so a
/// dependency missing from this list fails the base build). dramatiq 2.2.1 needs nothing
/// else: prometheus-client is only its `prometheus` extra, and the app does not use it.
const WHEELS: &[&str] = &[
    "huey==3.5.4",
    "dramatiq==2.2.1",
    // aiohttp and its dependencies
    "aiohttp==3.14.5",
    "aiohappyeyeballs==2.7.1",
    "aiosignal==1.4.0",
    "attrs==26.1.0",
    "frozenlist==1.8.0",
    "multidict==6.9.1",
    "propcache==0.5.4",
    "yarl==1.25.1",
    "idna==3.21",
    "typing-extensions==4.16.0",
];

/// The base image, kept between runs like the interpreter bases (bump the version when
/// [`WHEELS`] or its Dockerfile changes).
const BASE: &str = "importgate-test/launchers-base:v1";

/// How long the image's Cmd is given: a launcher still running after this has started.
const TIMEOUT: u64 = 15;

/// [`BASE`]: the 3.12 test base with every wheel of [`WHEELS`]
/// installed by pip in one layer, and the host's libpthread, libgcc_s and libstdc++: the C
/// extensions of aiohttp, multidict, yarl, propcache and frozenlist link them, the minimal base
/// lacks them (python:3.12-slim has them). Built once, under a lock: the three tests run at
/// the same time and all start FROM it.
fn launchers_base() -> String {
    let parts = WheelBase {
        wheels: wheel_files(&pinned_wheels("launchers-v1", "3.12", WHEELS)),
        libs: &["libpthread.so.0", "libgcc_s.so.1", "libstdc++.so.6"],
        rootfs: &[],
    };
    let install = format!(
        "COPY wheels/ /wheels/\nRUN python3 -m pip install -q --no-index --no-compile --disable-pip-version-check --find-links /wheels {} && rm -r /wheels",
        WHEELS.join(" ")
    );
    wheel_base(BASE, &ensure_base("slim", "3.12"), &parts, &install)
}

/// `routes/handlers.py`, which the bad images lack.
const HANDLERS: &str = "def hello():\n    return \"hello from routes.handlers\"\n";

/// Starts the image's Cmd (`docker run -d --network none IMAGE`: the launchers' brokers are
/// in-process fakes, nothing needs the network) and waits up to [`TIMEOUT`] seconds for it to
/// end.
fn start(tag: &str) -> Started {
    start_container(tag, TIMEOUT, &[])
}

/// The module of the last `No module named '…'` of a log: the traceback's last line, or
/// aiohttp.web's `error: unable to import server: No module named '…'`.
fn missing_module(log: &str) -> Option<String> {
    let (_, rest) = log.rsplit_once("No module named '")?;
    rest.split_once('\'').map(|(m, _)| m.to_string())
}

/// The innermost frame of the last traceback of `log` outside the import machinery
/// (`<frozen …>`): (file, line).
fn innermost_frame(log: &str) -> Option<(String, u64)> {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last):"))?;
    lines[from..].iter().rev().find_map(|l| traceback_frame(l))
}

/// One line per error finding: code, module, file:line.
fn describe(errors: &[&Value]) -> String {
    if errors.is_empty() {
        return "no error finding".to_string();
    }
    errors
        .iter()
        .map(|f| {
            format!(
                "{} `{}` at {}:{}",
                f["code"].as_str().unwrap_or("?"),
                f["module"].as_str().unwrap_or("?"),
                f["file"].as_str().unwrap_or("?"),
                f["line"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One launcher scenario.
struct Launcher<'a> {
    label: &'a str,
    /// `/app/server.py`: imports `routes.handlers` at module level.
    server: &'a str,
    /// The image's `CMD` (exec form).
    cmd: &'a str,
    /// The launcher prints the import's traceback (aiohttp.web prints only the message).
    traceback: bool,
    /// The image the scenario starts from.
    base: fn() -> String,
}

/// Builds the good and the bad image of `l`, takes the truth from their own Cmd and judges
/// importgate's verdicts against it; every disagreement is listed before the test fails.
fn check_launcher(l: &Launcher<'_>) {
    let base = (l.base)();
    let tail = format!("WORKDIR /app\nCMD {}", l.cmd);
    let mut files = vec![
        file("/app/server.py", l.server),
        file("/app/routes/__init__.py", ""),
    ];
    let bad = build_scenario(
        &format!("importgate-test/launchers-{}:bad", l.label),
        &base,
        &files,
        &tail,
    );
    files.push(file("/app/routes/handlers.py", HANDLERS));
    let good = build_scenario(
        &format!("importgate-test/launchers-{}:good", l.label),
        &base,
        &files,
        &tail,
    );

    // The truth. These are the scaffolding's own checks: a good image that does not start, or
    // a bad one that fails on something other than the deleted module, tests nothing.
    let started = start(&good.tag);
    assert!(
        started.exit.is_none() && !started.log.contains("Traceback"),
        "{}: the good image's Cmd does not start (exit {:?}):\n{}",
        l.label,
        started.exit,
        started.log
    );
    let failed = start(&bad.tag);
    let missing = missing_module(&failed.log);
    assert!(
        failed.exit.is_some_and(|c| c != 0) && missing.as_deref() == Some("routes.handlers"),
        "{}: want the bad image's Cmd to fail on routes.handlers; exit {:?}, log:\n{}",
        l.label,
        failed.exit,
        failed.log
    );
    let missing = missing.unwrap();
    // The package `routes` is there, only its submodule is missing: CPython names
    // `routes.handlers`, at the statement in server.py that imports it.
    let at = (
        "/app/server.py".to_string(),
        line_of(l.server, "from routes.handlers import"),
    );
    if l.traceback {
        assert_eq!(
            innermost_frame(&failed.log).as_ref(),
            Some(&at),
            "{}: the traceback's innermost frame:\n{}",
            l.label,
            failed.log
        );
    }

    // The judgment.
    let mut problems = Vec::new();
    let (run, report) = check_json(&good.tag);
    let good_errors = error_findings(&report);
    if run.code != 0 || !good_errors.is_empty() {
        problems.push(format!(
            "good image (CPython starts it): want exit 0 and no error; importgate exits {}: {}",
            run.code,
            describe(&good_errors)
        ));
    }
    let good_summary = format!("exit {} ({})", run.code, describe(&good_errors));
    let (run, report) = check_json(&bad.tag);
    let bad_errors = error_findings(&report);
    let others: Vec<&Value> = bad_errors
        .iter()
        .copied()
        .filter(|f| f["module"] != missing.as_str())
        .collect();
    let placed = bad_errors.iter().any(|f| {
        f["module"] == missing.as_str() && f["file"] == at.0.as_str() && f["line"] == at.1
    });
    if run.code != 1 || !others.is_empty() || !placed {
        problems.push(format!(
            "bad image (CPython fails on `{missing}` at {}:{}): want exit 1 and errors only for `{missing}`, one there; importgate exits {}: {}",
            at.0,
            at.1,
            run.code,
            describe(&bad_errors)
        ));
    }
    eprintln!(
        "{}: CPython starts the good image, the bad one exits {} on `{missing}` at {}:{}; importgate: good {good_summary}, bad exit {} ({})",
        l.label,
        failed.exit.unwrap(),
        at.0,
        at.1,
        run.code,
        describe(&bad_errors)
    );
    assert!(
        problems.is_empty(),
        "{}: importgate disagrees with CPython:\n  {}\nentrypoint {}, sys.path {}",
        l.label,
        problems.join("\n  "),
        report["entrypoint"],
        report["python"]["sys_path"]
    );
}

// ---------------------------------------------------------------------------------------------

const HUEY_SERVER: &str = r#"from huey import MemoryHuey

from routes.handlers import hello

huey = MemoryHuey("launchers")


@huey.task()
def job():
    return hello()
"#;

/// `huey_consumer server.huey -w 1`: the first `__import__("server")` runs with the console
/// script's bin directory first on `sys.path` and fails; the consumer then inserts the working
/// directory at `sys.path[0]` and imports again, which in the bad image raises from server.py
/// (exit 1).
#[test]
fn huey_good_and_bad() {
    if !require_docker() {
        return;
    }
    check_launcher(&Launcher {
        label: "huey",
        server: HUEY_SERVER,
        cmd: r#"["huey_consumer", "server.huey", "-w", "1"]"#,
        traceback: true,
        base: launchers_base,
    });
}

const DRAMATIQ_SERVER: &str = r#"import dramatiq
from dramatiq.brokers.stub import StubBroker

from routes.handlers import hello

broker = StubBroker()
dramatiq.set_broker(broker)


@dramatiq.actor
def job():
    return hello()
"#;

/// `dramatiq server --processes 1 --threads 1`: the worker process puts `.` (the `--path`
/// default) first on `sys.path` and imports the broker module `server`; in the bad image that
/// raises and the main process exits 2 (dramatiq's `RET_IMPORT`).
#[test]
fn dramatiq_good_and_bad() {
    if !require_docker() {
        return;
    }
    check_launcher(&Launcher {
        label: "dramatiq",
        server: DRAMATIQ_SERVER,
        cmd: r#"["dramatiq", "server", "--processes", "1", "--threads", "1"]"#,
        traceback: true,
        base: launchers_base,
    });
}

const AIOHTTP_SERVER: &str = r#"from aiohttp import web

from routes.handlers import hello


async def index(request):
    return web.Response(text=hello())


def init_app(argv):
    app = web.Application()
    app.router.add_get("/", index)
    return app
"#;

/// `python -m aiohttp.web -H 0.0.0.0 -P 8080 server:init_app`: the working directory is
/// `sys.path[0]`; aiohttp.web imports `server` and calls `init_app(argv)`. In the bad image the
/// import raises and aiohttp.web reports it through argparse (`error: unable to import server:
/// No module named 'routes.handlers'`, exit 2, no traceback).
#[test]
fn aiohttp_web_good_and_bad() {
    if !require_docker() {
        return;
    }
    check_launcher(&Launcher {
        label: "aiohttp-web",
        server: AIOHTTP_SERVER,
        cmd: r#"["python", "-m", "aiohttp.web", "-H", "0.0.0.0", "-P", "8080", "server:init_app"]"#,
        traceback: false,
        base: launchers_base,
    });
}

/// Google's Functions Framework and what pip resolves for it (CPython 3.12, manylinux).
const FUNCTIONS_FRAMEWORK: &str = "functions-framework==3.10.2";

/// `importgate-test/launchers-ff:v2`: the 3.12 test base with [`FUNCTIONS_FRAMEWORK`]
/// installed by pip, and the host's libpthread and libgcc_s (watchdog's extension links them).
fn functions_framework_base() -> String {
    let parts = WheelBase {
        wheels: wheel_files(&resolved_wheels(
            "functions-framework-v1",
            "3.12",
            &[FUNCTIONS_FRAMEWORK],
        )),
        libs: &["libpthread.so.0", "libgcc_s.so.1"],
        rootfs: &[],
    };
    let install = format!(
        "COPY wheels/ /wheels/\nRUN python3 -m pip install -q --no-index --no-compile --disable-pip-version-check --find-links /wheels {FUNCTIONS_FRAMEWORK} && rm -r /wheels"
    );
    wheel_base(
        "importgate-test/launchers-ff:v2",
        &ensure_base("slim", "3.12"),
        &parts,
        &install,
    )
}

const FF_SERVER: &str = r#"from routes.handlers import hello as greeting


def hello(request):
    return greeting()
"#;

/// `functions-framework --target hello --source /app/server.py`: a console script, so
/// `sys.path[0]` is its bin directory and the working directory is not on the path; the
/// framework appends the source file's directory before it loads the file as the module
/// `server`, then serves its `hello` with gunicorn. In the bad image loading the file raises
/// (exit 1, with a traceback through server.py).
#[test]
fn functions_framework_good_and_bad() {
    if !require_docker() {
        return;
    }
    check_launcher(&Launcher {
        label: "functions-framework",
        server: FF_SERVER,
        cmd: r#"["functions-framework", "--target", "hello", "--source", "/app/server.py"]"#,
        traceback: true,
        base: functions_framework_base,
    });
}
