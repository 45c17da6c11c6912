//! App servers and framework CLIs started from the image's Cmd, with the real server installed
//! from PyPI (pinned wheels) as the truth: `gunicorn --chdir`, `flask --app` and `FLASK_APP`,
//! `celery -A`, and `hypercorn`. For each, a clean image (importgate: no error, the startup notes
//! say what was recognised; the server loads the app) and one where a module the app imports at
//! startup is missing (importgate: exactly one startup error, at the line of the innermost frame
//! of CPython's traceback, with a chain from the entry module; the container fails with the same
//! `ModuleNotFoundError`). Every decided import is also replayed in the image.
//!
//! The truth is read twice: the server's own command that only loads the app (`gunicorn
//! --check-config`, `flask routes`, `celery report`; hypercorn has none, so its banner), and
//! the image's real Entrypoint/Cmd run for a few seconds.

use std::fs;

use serde_json::Value;

use crate::support::*;

/// The wheels, pinned with their dependencies (CPython 3.12, manylinux x86_64).
const WHEELS: &[&str] = &[
    "gunicorn==23.0.0",
    "packaging==24.2",
    "flask==3.1.0",
    "werkzeug==3.1.3",
    "jinja2==3.1.5",
    "markupsafe==3.0.2",
    "itsdangerous==2.2.0",
    "click==8.1.8",
    "blinker==1.9.0",
    "celery==5.4.0",
    "kombu==5.4.2",
    "billiard==4.2.1",
    "vine==5.1.0",
    "amqp==5.3.1",
    "click-didyoumean==0.3.1",
    "click-repl==0.3.0",
    "click-plugins==1.1.1",
    "python-dateutil==2.9.0.post0",
    "six==1.17.0",
    "tzdata==2024.2",
    "prompt-toolkit==3.0.48",
    "wcwidth==0.2.13",
    "hypercorn==0.17.3",
    "h11==0.14.0",
    "h2==4.1.0",
    "hpack==4.0.0",
    "hyperframe==6.0.1",
    "priority==2.0.0",
    "wsproto==1.2.0",
    "waitress==3.0.2",
    "uvicorn==0.32.1",
    "granian==2.8.9",
    "ddtrace==2.17.3",
    "bytecode==0.19.1",
    "envier==0.6.1",
    "deprecated==3.0.1",
    "importlib-metadata==8.5.0",
    "zipp==4.1.2",
    "opentelemetry-api==1.28.2",
    "opentelemetry-instrumentation==0.49b2",
    "opentelemetry-semantic-conventions==0.49b2",
    "protobuf==7.36.2",
    "typing-extensions==4.16.0",
    "wrapt==1.17.3",
    "xmltodict==1.0.4",
];

/// `importgate-test/servers-NAME-base`: the test base with `reqs` installed from the cached
/// wheels by pip in the image (`--no-index --find-links`), and the host's libpthread,
/// libgcc_s, librt, libdl and libstdc++ (MarkupSafe's, granian's and ddtrace's extensions link
/// them; the minimal base lacks them, python:3.12-slim has them).
fn server_base(name: &str, reqs: &[&str]) -> Image {
    let base = ensure_base("slim", "3.12");
    // `~/.cache/importgate-tests/wheels/servers-v4`, with what pip resolves for the pins.
    let wheels = resolved_wheels("servers-v4", "3.12", WHEELS);
    let ctx = tempdir();
    fs::create_dir_all(ctx.path().join("wheels")).unwrap();
    fs::create_dir_all(ctx.path().join("libs")).unwrap();
    for e in fs::read_dir(&wheels).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "whl") {
            fs::copy(e.path(), ctx.path().join("wheels").join(e.file_name())).unwrap();
        }
    }
    for lib in [
        "libpthread.so.0",
        "libgcc_s.so.1",
        "librt.so.1",
        "libdl.so.2",
        "libstdc++.so.6",
    ] {
        fs::copy(
            format!("/lib/x86_64-linux-gnu/{lib}"),
            ctx.path().join("libs").join(lib),
        )
        .unwrap();
    }
    fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base}\nCOPY libs/ /lib/x86_64-linux-gnu/\nCOPY wheels/ /wheels/\nRUN python3 -m pip install -q --no-index --no-compile --disable-pip-version-check --find-links /wheels {} && rm -r /wheels\n",
            reqs.join(" ")
        ),
    )
    .unwrap();
    build_image(&format!("importgate-test/servers-{name}-base"), ctx.path())
}

/// Runs `argv` in the image (its User, WorkingDir and Env; `--entrypoint argv[0]`): exit code
/// and stdout + stderr.
fn run_in(tag: &str, argv: &[&str]) -> (i32, String) {
    let out = output_of(
        docker()
            .args(["run", "--rm", "--network", "none", "--entrypoint", argv[0]])
            .arg(tag)
            .args(&argv[1..]),
        &format!("docker run {tag} {argv:?}"),
    );
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Starts the image's own Entrypoint/Cmd and waits up to `secs` for it to end, or for its log
/// to show `until`: its exit code (`None`: still running) and its log.
fn run_container(tag: &str, secs: u64, until: Option<&str>) -> (Option<i32>, String) {
    let s = start_container(tag, secs, until.as_slice());
    (s.exit, s.log)
}

/// The last `ModuleNotFoundError` of a log and the innermost frame of its traceback that is
/// not the import machinery: (missing module, file, line).
fn traceback_failure(log: &str) -> Option<(String, String, u32)> {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("ModuleNotFoundError: No module named '"))?;
    let module = lines[at]
        .trim_start_matches("ModuleNotFoundError: No module named '")
        .trim_end_matches('\'')
        .to_string();
    let frame = lines[..at].iter().rev().find_map(|l| traceback_frame(l))?;
    Some((module, frame.0, u32::try_from(frame.1).ok()?))
}

/// One server scenario.
struct Server<'a> {
    label: &'a str,
    /// Dockerfile lines after the files: WORKDIR, ENV, CMD.
    tail: &'a str,
    /// The server's command that loads the app and exits (`--entrypoint` its first word);
    /// empty when it has none.
    load: &'a [&'a str],
    /// What the load command prints when the app loaded.
    loaded: &'a str,
    /// What the real Cmd logs when it serves the clean app (it keeps running).
    banner: &'a str,
    /// `entrypoint` of the report and `startup.notes` importgate must give.
    entrypoint: &'a str,
    notes: &'a [&'a str],
    /// The module missing in the broken image, and the first module of the chain.
    missing: &'a str,
    chain_first: &'a str,
    /// The exit code of the broken image's Cmd (hypercorn logs the traceback and exits 0).
    cmd_exit: i32,
}

/// importgate passes `tag`: exit 0, no error finding; the report.
fn no_error(label: &str, tag: &str) -> Value {
    let (run, report) = check_json(tag);
    assert!(
        run.code == 0 && error_findings(&report).is_empty(),
        "{label}: exit {}: {:#}",
        run.code,
        report["findings"]
    );
    report
}

/// importgate fails `tag` with exactly one error, a startup one, for `module` at `file:line`;
/// the report.
fn one_startup_error(label: &str, tag: &str, module: &str, file: &str, line: u32) -> Value {
    let (run, report) = check_json(tag);
    let errors = error_findings(&report);
    assert!(
        run.code == 1 && errors.len() == 1,
        "{label}: exit {}: {errors:#?}",
        run.code
    );
    let f = errors[0];
    assert_eq!(f["module"], module, "{label}: {f:#}");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
    assert_eq!(f["file"], file, "{label}: {f:#}");
    assert_eq!(f["line"], line, "{label}: {f:#}");
    report
}

/// Builds the clean and broken images of `s` and checks importgate against the server.
fn check_server(s: &Server<'_>, base: &str, clean: &[(&str, &str)], broken: &[(&str, &str)]) {
    let entries = |files: &[(&str, &str)]| -> Vec<Entry> {
        files.iter().map(|(p, t)| file(*p, *t)).collect()
    };
    let clean_img = build_scenario(
        &format!("importgate-test/servers-{}:clean", s.label),
        base,
        &entries(clean),
        s.tail,
    );
    let mut broken_files: Vec<(&str, &str)> = clean
        .iter()
        .filter(|(p, _)| !broken.iter().any(|(q, _)| q == p))
        .copied()
        .collect();
    broken_files.extend(broken.iter().copied());
    let broken_img = build_scenario(
        &format!("importgate-test/servers-{}:broken", s.label),
        base,
        &entries(&broken_files),
        s.tail,
    );

    // Clean: the server loads the app and serves it; importgate has no error and says what it
    // recognised.
    if !s.load.is_empty() {
        let (code, out) = run_in(&clean_img.tag, s.load);
        assert!(
            code == 0 && out.contains(s.loaded),
            "{}: {:?} in the clean image: exit {code}\n{out}",
            s.label,
            s.load
        );
    }
    let (code, log) = run_container(&clean_img.tag, 30, Some(s.banner));
    assert!(
        code.is_none() && log.contains(s.banner) && !log.contains("Error:"),
        "{}: the clean image does not serve (exit {code:?}):\n{log}",
        s.label
    );
    let (run, report) = check_json(&clean_img.tag);
    assert!(
        error_findings(&report).is_empty() && run.code == 0,
        "{}: exit {}, findings {:#}",
        s.label,
        run.code,
        report["findings"]
    );
    let startup = &report["startup"];
    assert_eq!(startup["understood"], true, "{}: {startup:#}", s.label);
    assert_eq!(report["entrypoint"], s.entrypoint, "{}", s.label);
    for note in s.notes {
        assert!(
            startup["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n == note),
            "{}: no note {note:?} in {startup:#}",
            s.label
        );
    }
    eprintln!(
        "{} clean: startup notes {}, modules reached {}, third-party files {}",
        s.label, startup["notes"], startup["modules_reached"], startup["third_party_files"]
    );
    differential(&clean_img.tag, &report);
    check_broken(s, &broken_img.tag);
}

/// The broken image: the server fails on `s.missing`; importgate reports exactly that, where
/// CPython raised it, with its chain.
fn check_broken(s: &Server<'_>, tag: &str) {
    let mut truths = Vec::new();
    if !s.load.is_empty() {
        let (code, out) = run_in(tag, s.load);
        assert_ne!(
            code, 0,
            "{}: {:?} in the broken image:\n{out}",
            s.label, s.load
        );
        truths.push((format!("{:?}", s.load), out));
    }
    let (code, log) = run_container(tag, 30, None);
    assert_eq!(
        code,
        Some(s.cmd_exit),
        "{}: the Cmd's exit:\n{log}",
        s.label
    );
    truths.push(("the image's Cmd".to_string(), log));
    let mut failure = None;
    for (what, out) in &truths {
        let f = traceback_failure(out)
            .unwrap_or_else(|| panic!("{}: {what}: no ModuleNotFoundError in\n{out}", s.label));
        assert_eq!(f.0, s.missing, "{}: {what}:\n{out}", s.label);
        if let Some(prev) = &failure {
            assert_eq!(&f, prev, "{}: {what}", s.label);
        }
        failure = Some(f);
    }
    let (missing, file, line) = failure.unwrap();
    let (run, report) = check_json(tag);
    assert_eq!(run.code, 1, "{}: {}", s.label, run.stderr);
    let errors = error_findings(&report);
    assert_eq!(errors.len(), 1, "{}: {errors:#?}", s.label);
    let f = errors[0];
    assert_eq!(f["kind"], "startup", "{}: {f:#}", s.label);
    assert_eq!(f["module"], missing.as_str(), "{}: {f:#}", s.label);
    assert_eq!(f["file"], file.as_str(), "{}: {f:#}", s.label);
    assert_eq!(f["line"], line, "{}: {f:#}", s.label);
    let chain: Vec<&str> = f["chain"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        chain.first().copied(),
        Some(s.chain_first),
        "{}: {chain:?}",
        s.label
    );
    assert_eq!(
        chain.last().copied(),
        Some(missing.as_str()),
        "{}: {chain:?}",
        s.label
    );
    eprintln!(
        "{} broken: {} at {file}:{line}, chain {chain:?}",
        s.label, f["code"]
    );
    differential(tag, &report);
}

const WSGI: &str = "from shop.factory import create_app\n\napp = create_app()\n";

const FACTORY: &str = r#"import json

from shop import cache


def create_app():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(cache.stats()).encode()]

    return app
"#;

/// `gunicorn --chdir /srv/app wsgi:app` from WorkingDir `/`: gunicorn changes directory and puts
/// `/srv/app` first on sys.path before it imports `wsgi`. `--check-config` loads the app
/// (gunicorn ≥ 20) and exits 1 with the traceback when it cannot.
#[test]
fn gunicorn_chdir() {
    if !require_docker() {
        return;
    }
    let base = server_base("gunicorn", &["gunicorn==23.0.0"]);
    check_server(
        &Server {
            label: "gunicorn",
            tail: "WORKDIR /\nCMD [\"gunicorn\", \"--chdir\", \"/srv/app\", \"--bind\", \"0.0.0.0:8000\", \"wsgi:app\"]",
            load: &[
                "gunicorn",
                "--check-config",
                "--chdir",
                "/srv/app",
                "wsgi:app",
            ],
            loaded: "",
            banner: "Booting worker",
            entrypoint: "gunicorn wsgi:app",
            notes: &[
                "gunicorn --chdir puts /srv/app first on sys.path",
                "gunicorn imports `wsgi` (wsgi:app) at startup",
            ],
            missing: "redis",
            chain_first: "wsgi",
            cmd_exit: 3,
        },
        &base.tag,
        &[
            ("/srv/app/wsgi.py", WSGI),
            ("/srv/app/shop/__init__.py", ""),
            ("/srv/app/shop/factory.py", FACTORY),
            (
                "/srv/app/shop/cache.py",
                "import functools\n\n\ndef stats():\n    return {\"hits\": 0}\n",
            ),
        ],
        &[(
            "/srv/app/shop/cache.py",
            "import functools\nimport redis\n\n\ndef stats():\n    return {\"hits\": 0}\n",
        )],
    );
}

const FLASK_APP: &str = r#"from flask import Flask

from pkg.views import bp

app = Flask(__name__)
app.register_blueprint(bp)
"#;

const FLASK_VIEWS: &str = r#"from flask import Blueprint, jsonify

from pkg import store

bp = Blueprint("views", __name__)


@bp.route("/items")
def items():
    return jsonify(store.all_items())
"#;

fn flask_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/srv/web/wsgi.py", "from pkg.app import app\n"),
        ("/srv/web/pkg/__init__.py", ""),
        ("/srv/web/pkg/app.py", FLASK_APP),
        ("/srv/web/pkg/views.py", FLASK_VIEWS),
        (
            "/srv/web/pkg/store.py",
            "import sqlite3\n\n\ndef all_items():\n    return []\n",
        ),
    ]
}

const FLASK_BROKEN: &[(&str, &str)] = &[(
    "/srv/web/pkg/store.py",
    "import sqlite3\nfrom markdown import markdown\n\n\ndef all_items():\n    return []\n",
)];

/// `flask --app pkg.app run` from `/srv/web`: Flask's CLI (`prepare_import`) puts the working
/// directory first on sys.path and imports `pkg.app`. `flask --app pkg.app routes` loads the
/// app and lists its routes.
#[test]
fn flask_app_option() {
    if !require_docker() {
        return;
    }
    let base = server_base("flask-app", &["flask==3.1.0"]);
    check_server(
        &Server {
            label: "flask-app",
            tail: "WORKDIR /srv/web\nCMD [\"flask\", \"--app\", \"pkg.app\", \"run\", \"--host\", \"0.0.0.0\"]",
            load: &["flask", "--app", "pkg.app", "routes"],
            loaded: "/items",
            banner: "Running on",
            entrypoint: "/usr/local/bin/flask",
            notes: &[
                "flask puts /srv/web first on sys.path",
                "flask imports `pkg.app` at startup",
            ],
            missing: "markdown",
            chain_first: "pkg",
            cmd_exit: 2,
        },
        &base.tag,
        &flask_files(),
        FLASK_BROKEN,
    );
}

/// `FLASK_APP=web/wsgi.py` from `/srv` (`flask run`): Flask imports the file as `wsgi` (its
/// directory has no `__init__.py`) with `/srv/web` first on sys.path, which is what lets
/// `wsgi.py` import `pkg.app`.
#[test]
fn flask_app_env_file_path() {
    if !require_docker() {
        return;
    }
    let base = server_base("flask-env", &["flask==3.1.0"]);
    check_server(
        &Server {
            label: "flask-env",
            tail: "WORKDIR /srv\nENV FLASK_APP=web/wsgi.py\nCMD [\"flask\", \"run\", \"--host\", \"0.0.0.0\"]",
            load: &["flask", "routes"],
            loaded: "/items",
            banner: "Running on",
            entrypoint: "/usr/local/bin/flask",
            notes: &[
                "flask puts /srv/web first on sys.path",
                "flask imports `wsgi` at startup",
            ],
            missing: "markdown",
            chain_first: "wsgi",
            cmd_exit: 2,
        },
        &base.tag,
        &flask_files(),
        FLASK_BROKEN,
    );
}

/// `celery -A proj worker` from `/srv`: Celery imports `proj` with the working directory first
/// on sys.path (`celery.utils.imports.cwd_in_path`); `proj/__init__.py` imports `proj.celery`.
/// `celery -A proj report` loads the app without a broker.
#[test]
fn celery_app_option() {
    if !require_docker() {
        return;
    }
    let base = server_base("celery", &["celery==5.4.0"]);
    let celery_py = "from celery import Celery\n\nfrom proj import schedules\n\napp = Celery(\"proj\", broker=\"memory://\")\napp.conf.beat_schedule = schedules.BEAT\n";
    check_server(
        &Server {
            label: "celery",
            tail: "WORKDIR /srv\nCMD [\"celery\", \"-A\", \"proj\", \"worker\", \"--loglevel\", \"INFO\"]",
            load: &["celery", "-A", "proj", "report"],
            loaded: "software -> celery:5.4.0",
            banner: "ready.",
            entrypoint: "/usr/local/bin/celery",
            notes: &[
                "celery puts /srv first on sys.path",
                "celery imports `proj` at startup",
            ],
            missing: "redbeat",
            chain_first: "proj",
            cmd_exit: 2,
        },
        &base.tag,
        &[
            (
                "/srv/proj/__init__.py",
                "from .celery import app as celery_app\n\n__all__ = (\"celery_app\",)\n",
            ),
            ("/srv/proj/celery.py", celery_py),
            (
                "/srv/proj/schedules.py",
                "from datetime import timedelta\n\nBEAT = {\"ping\": {\"task\": \"proj.tasks.ping\", \"schedule\": timedelta(seconds=30)}}\n",
            ),
        ],
        &[(
            "/srv/proj/schedules.py",
            "from datetime import timedelta\n\nfrom redbeat import RedBeatSchedulerEntry\n\nBEAT = {\"ping\": {\"task\": \"proj.tasks.ping\", \"schedule\": timedelta(seconds=30)}}\n",
        )],
    );
}

/// `celery -A proj worker`, `proj/__init__.py` empty: Celery's `find_app` imports
/// `proj.celery`, whose `Celery(..., include=["proj.tasks"])` the worker imports when it
/// starts. Without `proj/tasks.py` (a `.dockerignore` or a COPY that missed it) the worker
/// dies on it; nothing else imports it, so only the `include` tells.
#[test]
fn celery_worker_include() {
    if !require_docker() {
        return;
    }
    let base = server_base("celery", &["celery==5.4.0"]);
    let tail =
        "WORKDIR /srv\nCMD [\"celery\", \"-A\", \"proj\", \"worker\", \"--loglevel\", \"INFO\"]";
    let celery_py = "from celery import Celery\n\napp = Celery(\"proj\", broker=\"memory://\", include=[\"proj.tasks\"])\n";
    let tasks_py = "from proj.celery import app\n\n\n@app.task\ndef ping():\n    return \"pong\"\n";
    let clean = build_scenario(
        "importgate-test/servers-celery-include:clean",
        &base.tag,
        &[
            file("/srv/proj/__init__.py", ""),
            file("/srv/proj/celery.py", celery_py),
            file("/srv/proj/tasks.py", tasks_py),
        ],
        tail,
    );
    let (code, log) = run_container(&clean.tag, 60, Some("ready."));
    assert!(
        code.is_none() && log.contains("ready.") && log.contains("proj.tasks.ping"),
        "the clean worker does not start (exit {code:?}):\n{log}"
    );
    no_error("celery include", &clean.tag);

    let broken = build_scenario(
        "importgate-test/servers-celery-include:broken",
        &base.tag,
        &[
            file("/srv/proj/__init__.py", ""),
            file("/srv/proj/celery.py", celery_py),
        ],
        tail,
    );
    let (code, log) = run_container(&broken.tag, 60, Some("ready."));
    assert!(
        code.is_some_and(|c| c != 0) && log.contains("No module named 'proj.tasks'"),
        "the broken worker must die on proj.tasks (exit {code:?}):\n{log}"
    );
    one_startup_error(
        "celery include",
        &broken.tag,
        "proj.tasks",
        "/srv/proj/celery.py",
        3,
    );
}

const ASGI_API: &str = r#"import json

from svc.auth import check


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps({"ok": check()}).encode()})
"#;

/// `hypercorn main:app` from `/srv/asgi`: hypercorn puts the working directory first on
/// sys.path and imports `main` (in its worker process). It has no load-only command: the
/// clean image logs its banner, the broken one the traceback (and exits 0). A third image
/// lacks hypercorn's own dependency h11: the console script fails importing
/// `hypercorn.__main__` before any app code runs, which importgate sees by following the
/// server's entry point module.
#[test]
fn hypercorn_module_attr() {
    if !require_docker() {
        return;
    }
    let base = server_base("hypercorn", &["hypercorn==0.17.3"]);
    let tail = "WORKDIR /srv/asgi\nCMD [\"hypercorn\", \"main:app\", \"--bind\", \"0.0.0.0:8000\"]";
    let files: &[(&str, &str)] = &[
        ("/srv/asgi/main.py", "from svc.api import app\n"),
        ("/srv/asgi/svc/__init__.py", ""),
        ("/srv/asgi/svc/api.py", ASGI_API),
        (
            "/srv/asgi/svc/auth.py",
            "import hmac\n\n\ndef check():\n    return True\n",
        ),
    ];
    let server = Server {
        label: "hypercorn",
        tail,
        load: &[],
        loaded: "",
        banner: "Running on http://0.0.0.0:8000",
        entrypoint: "hypercorn main:app",
        notes: &["hypercorn imports `main` (main:app) at startup"],
        missing: "jwt",
        chain_first: "main",
        cmd_exit: 0,
    };
    check_server(
        &server,
        &base.tag,
        files,
        &[(
            "/srv/asgi/svc/auth.py",
            "import hmac\nimport jwt\n\n\ndef check():\n    return True\n",
        )],
    );
    let no_h11 = build_scenario(
        "importgate-test/servers-hypercorn:no-h11",
        &base.tag,
        &files.iter().map(|(p, t)| file(*p, *t)).collect::<Vec<_>>(),
        &format!("RUN rm -r /usr/local/lib/python3.12/site-packages/h11\n{tail}"),
    );
    check_broken(
        &Server {
            label: "hypercorn-no-h11",
            missing: "h11",
            chain_first: "hypercorn",
            cmd_exit: 1,
            ..server
        },
        &no_h11.tag,
    );
}

/// A Flask app factory whose blueprint is imported inside the factory (and inside a function
/// the factory calls): nothing of it runs when the module is imported, all of it when the
/// server calls the factory.
fn factory_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "/srv/webapp/__init__.py",
            "from flask import Flask\n\n\ndef create_app():\n    app = Flask(__name__)\n    register_blueprints(app)\n    return app\n\n\ndef register_blueprints(app):\n    from .views import bp\n\n    app.register_blueprint(bp)\n",
        ),
        (
            "/srv/webapp/views.py",
            "from flask import Blueprint, jsonify\n\nfrom webapp.helpers import render\n\nbp = Blueprint(\"views\", __name__)\n\n\n@bp.route(\"/items\")\ndef items():\n    return jsonify(render())\n",
        ),
        (
            "/srv/webapp/helpers.py",
            "import html\n\n\ndef render():\n    return []\n",
        ),
    ]
}

const FACTORY_BROKEN: &[(&str, &str)] = &[(
    "/srv/webapp/helpers.py",
    "import html\nfrom markdown import markdown\n\n\ndef render():\n    return []\n",
)];

/// `waitress-serve --call webapp:create_app` from `/srv`, as an unprivileged user: waitress
/// appends the working directory to sys.path (its script directory stays first), imports
/// `webapp` and calls the factory, which imports the views.
#[test]
fn waitress_call_factory() {
    if !require_docker() {
        return;
    }
    let base = server_base("waitress", &["flask==3.1.0", "waitress==3.0.2"]);
    check_server(
        &Server {
            label: "waitress",
            tail: "WORKDIR /srv\nUSER 1000\nCMD [\"waitress-serve\", \"--port=8080\", \"--call\", \"webapp:create_app\"]",
            load: &[],
            loaded: "",
            banner: "Serving on http://",
            entrypoint: "waitress-serve webapp:create_app",
            notes: &[
                "waitress-serve appends /srv to sys.path",
                "waitress-serve calls `webapp:create_app` at startup",
            ],
            missing: "markdown",
            chain_first: "webapp",
            cmd_exit: 1,
        },
        &base.tag,
        &factory_files(),
        FACTORY_BROKEN,
    );
}

/// `waitress-serve webapp.wsgi.application` (no colon) from `/srv`: waitress resolves the
/// dotted name as `pkgutil.resolve_name` does, importing `webapp`, then `webapp.wsgi`, then
/// failing to import `webapp.wsgi.application` and taking it as the attribute. Waitress prints
/// an import failure of its target as one line (`Error: No module named 'markdown'`) and its
/// usage, no traceback; a failure inside `webapp.wsgi` is even swallowed by `resolve_name` and
/// becomes "module 'webapp' has no attribute 'wsgi'". The broken image fails in `webapp`.
#[test]
fn waitress_dotted_target() {
    if !require_docker() {
        return;
    }
    let base = server_base("waitress", &["flask==3.1.0", "waitress==3.0.2"]);
    let tail =
        "WORKDIR /srv\nCMD [\"waitress-serve\", \"--port=8080\", \"webapp.wsgi.application\"]";
    let mut files = factory_files();
    files.push((
        "/srv/webapp/wsgi.py",
        "from webapp import create_app\n\napplication = create_app()\n",
    ));
    let entries = |files: &[(&str, &str)]| -> Vec<Entry> {
        files.iter().map(|(p, t)| file(*p, *t)).collect()
    };
    let clean = build_scenario(
        "importgate-test/servers-waitress-dotted:clean",
        &base.tag,
        &entries(&files),
        tail,
    );
    let (code, log) = run_container(&clean.tag, 30, Some("Serving on http://"));
    assert!(
        code.is_none() && log.contains("Serving on http://"),
        "{log}"
    );
    let report = no_error("clean", &clean.tag);
    assert!(
        report["startup"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n
                == "waitress-serve imports `webapp.wsgi` (webapp.wsgi.application) at startup"),
        "{:#}",
        report["startup"]
    );
    differential(&clean.tag, &report);

    files.retain(|(p, _)| *p != "/srv/webapp/__init__.py");
    files.push((
        "/srv/webapp/__init__.py",
        "import markdown\nfrom flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n",
    ));
    let broken = build_scenario(
        "importgate-test/servers-waitress-dotted:broken",
        &base.tag,
        &entries(&files),
        tail,
    );
    let (code, log) = run_container(&broken.tag, 30, None);
    assert!(
        code == Some(1) && log.contains("Error: No module named 'markdown'"),
        "exit {code:?}:\n{log}"
    );
    let report = one_startup_error(
        "waitress dotted",
        &broken.tag,
        "markdown",
        "/srv/webapp/__init__.py",
        1,
    );
    differential(&broken.tag, &report);
}

/// Flask 3.1 has a module `__getattr__` that serves only `__version__`: a name it removed
/// (`flask.Markup`, `flask.escape`, gone in Flask 3.0) fails in CPython, so it must fail here
/// although the module has a `__getattr__`, while `__version__` resolves (and Werkzeug 3.1's,
/// which no longer serves it, fails).
#[test]
fn flask_names_removed_behind_module_getattr() {
    if !require_docker() {
        return;
    }
    let base = server_base("flask-factory", &["flask==3.1.0"]);
    let app = |markup: &str| {
        format!(
            "from flask import Flask, __version__\n{markup}\n\napp = Flask(__name__)\n\nif __name__ == \"__main__\":\n    app.run(host=\"0.0.0.0\", port=8080)\n"
        )
    };
    let tail = "WORKDIR /srv\nCMD [\"python3\", \"/srv/app.py\"]";
    let clean = build_scenario(
        "importgate-test/servers-flask-getattr:clean",
        &base.tag,
        &[file(
            "/srv/app.py",
            app("from markupsafe import Markup, escape"),
        )],
        tail,
    );
    let (code, log) = run_container(&clean.tag, 30, Some("Running on"));
    assert!(code.is_none() && log.contains("Running on"), "{log}");
    let report = no_error("clean", &clean.tag);
    differential(&clean.tag, &report);

    let broken = build_scenario(
        "importgate-test/servers-flask-getattr:broken",
        &base.tag,
        &[file(
            "/srv/app.py",
            app("from flask import Markup, escape\nfrom werkzeug import __version__ as wz"),
        )],
        tail,
    );
    let (code, log) = run_container(&broken.tag, 30, None);
    assert!(
        code == Some(1) && log.contains("ImportError: cannot import name 'Markup' from 'flask'"),
        "exit {code:?}:\n{log}"
    );
    let (run, report) = check_json(&broken.tag);
    let errors = error_findings(&report);
    assert!(
        run.code == 1 && !errors.is_empty(),
        "{:#}",
        report["findings"]
    );
    for f in &errors {
        assert_eq!(f["file"], "/srv/app.py", "{f:#}");
        assert!(
            (f["module"] == "flask" && f["line"] == 2)
                || (f["module"] == "werkzeug" && f["line"] == 3),
            "{f:#}"
        );
    }
    assert!(errors.iter().any(|f| f["module"] == "flask"), "{errors:#?}");
    differential(&broken.tag, &report);
}

/// APM launchers (`ddtrace-run`, `opentelemetry-instrument`) rewrite `PYTHONPATH` and exec
/// the server behind them: gunicorn then serves `main:app` from its working directory, where
/// `main` imports its sibling `helpers`. importgate follows the server behind the launcher
/// (it used to check only the launcher's own script: `import helpers` was a false error and
/// the app's start was not followed). Without `helpers.py` the worker dies on it.
#[test]
fn apm_launchers_exec_the_server() {
    if !require_docker() {
        return;
    }
    let base = server_base(
        "apm",
        &[
            "gunicorn==23.0.0",
            "flask==3.1.0",
            "ddtrace==2.17.3",
            "opentelemetry-instrumentation==0.49b2",
        ],
    );
    let main = "from flask import Flask\n\nfrom helpers import greet\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\ndef index():\n    return greet()\n";
    let helpers = "def greet():\n    return \"hello\"\n";
    for (label, launcher) in [
        ("ddtrace", "\"ddtrace-run\""),
        (
            "otel",
            "\"opentelemetry-instrument\", \"--disabled_instrumentations\", \"flask\"",
        ),
    ] {
        let tail = format!(
            "WORKDIR /srv\nENV DD_TRACE_ENABLED=false DD_INSTRUMENTATION_TELEMETRY_ENABLED=false\nCMD [{launcher}, \"gunicorn\", \"-b\", \"0.0.0.0:8080\", \"main:app\"]"
        );
        let clean = build_scenario(
            &format!("importgate-test/servers-apm-{label}:clean"),
            &base.tag,
            &[file("/srv/main.py", main), file("/srv/helpers.py", helpers)],
            &tail,
        );
        let (code, log) = run_container(&clean.tag, 60, Some("Booting worker"));
        assert!(
            code.is_none() && log.contains("Booting worker") && !log.contains("Traceback"),
            "{label}: the clean image does not serve (exit {code:?}):\n{log}"
        );
        let report = no_error(label, &clean.tag);
        let notes = report["startup"]["notes"].as_array().unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n == "gunicorn imports `main` (main:app) at startup"),
            "{label}: {notes:#?}"
        );

        let broken = build_scenario(
            &format!("importgate-test/servers-apm-{label}:broken"),
            &base.tag,
            &[file("/srv/main.py", main)],
            &tail,
        );
        let (code, log) = run_container(&broken.tag, 60, None);
        assert!(
            code.is_some_and(|c| c != 0)
                && log.contains("ModuleNotFoundError: No module named 'helpers'"),
            "{label}: exit {code:?}:\n{log}"
        );
        one_startup_error(label, &broken.tag, "helpers", "/srv/main.py", 3);
    }
}

/// `flask --app webapp run` from `/srv`: the module binds no `app`, so Flask calls its
/// `create_app()`; `flask --app webapp routes` loads the app the same way.
#[test]
fn flask_factory_discovery() {
    if !require_docker() {
        return;
    }
    let base = server_base("flask-factory", &["flask==3.1.0"]);
    check_server(
        &Server {
            label: "flask-factory",
            tail: "WORKDIR /srv\nCMD [\"flask\", \"--app\", \"webapp\", \"run\", \"--host\", \"0.0.0.0\"]",
            load: &["flask", "--app", "webapp", "routes"],
            loaded: "/items",
            banner: "Running on",
            entrypoint: "/usr/local/bin/flask",
            notes: &["flask imports `webapp` at startup"],
            missing: "markdown",
            chain_first: "webapp",
            cmd_exit: 1,
        },
        &base.tag,
        &factory_files(),
        FACTORY_BROKEN,
    );
}

const ASGI_FACTORY: &str = r#"def create_app():
    from svc.api import app

    return app
"#;

/// `uvicorn --factory svc.main:create_app` from `/srv/asgi`: uvicorn imports `svc.main` and
/// calls the factory, which imports the app module.
#[test]
fn uvicorn_factory() {
    if !require_docker() {
        return;
    }
    let base = server_base("uvicorn", &["uvicorn==0.32.1"]);
    check_server(
        &Server {
            label: "uvicorn-factory",
            tail: "WORKDIR /srv/asgi\nCMD [\"uvicorn\", \"--factory\", \"svc.main:create_app\", \"--host\", \"0.0.0.0\"]",
            load: &[],
            loaded: "",
            banner: "Uvicorn running on",
            entrypoint: "uvicorn svc.main:create_app",
            notes: &["uvicorn calls `svc.main:create_app` at startup"],
            missing: "jwt",
            chain_first: "svc",
            cmd_exit: 1,
        },
        &base.tag,
        &[
            ("/srv/asgi/svc/__init__.py", ""),
            ("/srv/asgi/svc/main.py", ASGI_FACTORY),
            ("/srv/asgi/svc/api.py", ASGI_API),
            (
                "/srv/asgi/svc/auth.py",
                "import hmac\n\n\ndef check():\n    return True\n",
            ),
        ],
        &[(
            "/srv/asgi/svc/auth.py",
            "import hmac\nimport jwt\n\n\ndef check():\n    return True\n",
        )],
    );
}

/// `granian --interface asgi src/svc/main.py:app` from `/srv/asgi`: granian imports a target
/// given by path as Flask's CLI does, from the top of its package (`svc.main`, with
/// `/srv/asgi/src` first on sys.path). A third image lacks `librt.so.1`, which granian's Rust
/// extension links: the console script dies importing `granian._granian` before any app
/// code runs, which importgate reports at startup with the library it misses.
#[test]
fn granian_target_path() {
    if !require_docker() {
        return;
    }
    let base = server_base("granian", &["granian==2.8.9"]);
    let no_librt = build_scenario(
        "importgate-test/servers-granian:no-librt",
        &base.tag,
        &[file("/srv/asgi/main.py", "app = None\n")],
        "RUN rm /lib/x86_64-linux-gnu/librt.so.1\nWORKDIR /srv/asgi\nCMD [\"granian\", \"--interface\", \"asgi\", \"main:app\"]",
    );
    let (code, log) = run_container(&no_librt.tag, 30, None);
    assert!(
        code == Some(1) && log.contains("librt.so.1: cannot open shared object file"),
        "granian without librt: exit {code:?}\n{log}"
    );
    let (run, report) = check_json(&no_librt.tag);
    let errors = error_findings(&report);
    assert!(
        run.code == 1
            && errors.len() == 1
            && errors[0]["kind"] == "startup"
            && errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("librt.so.1")),
        "granian without librt: exit {}, findings {:#}",
        run.code,
        report["findings"]
    );
    eprintln!(
        "granian without librt: {} {} ({})",
        errors[0]["code"], errors[0]["module"], errors[0]["message"]
    );
    check_server(
        &Server {
            label: "granian",
            tail: "WORKDIR /srv/asgi\nCMD [\"granian\", \"--interface\", \"asgi\", \"--host\", \"0.0.0.0\", \"src/svc/main.py:app\"]",
            load: &[],
            loaded: "",
            banner: "Listening at",
            entrypoint: "granian src/svc/main.py:app",
            notes: &[
                "granian puts /srv/asgi/src first on sys.path",
                "granian imports `svc.main` (src/svc/main.py:app) at startup",
            ],
            missing: "jwt",
            chain_first: "svc",
            cmd_exit: 1,
        },
        &base.tag,
        &[
            ("/srv/asgi/src/svc/__init__.py", ""),
            ("/srv/asgi/src/svc/main.py", "from svc.api import app\n"),
            ("/srv/asgi/src/svc/api.py", ASGI_API),
            (
                "/srv/asgi/src/svc/auth.py",
                "import hmac\n\n\ndef check():\n    return True\n",
            ),
        ],
        &[(
            "/srv/asgi/src/svc/auth.py",
            "import hmac\nimport jwt\n\n\ndef check():\n    return True\n",
        )],
    );
}
