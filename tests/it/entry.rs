//! What the image's Entrypoint + Cmd runs, checked against the real start of the image. Every
//! scenario is a broken image and its clean twin on one base with pinned PyPI wheels
//! (`~/.cache/importgate-tests/wheels/entry-v1/`, installed with `pip install --no-index
//! --no-deps`): `python -c`, `python -m` (a missing module, a package without `__main__`),
//! `python SCRIPT`, a console script written by pip (its module missing, its function
//! renamed), `uvicorn main:app` (module missing, object renamed, and the same with the server in
//! Entrypoint), `gunicorn 'web:create_app()'`, `fastapi run app/main.py` (file missing, no
//! FastAPI object), `celery -A proj`, `flask --app web:application`, Django's settings strings
//! (`MIDDLEWARE`, `AUTHENTICATION_BACKENDS`) under `manage.py runserver` and `gunicorn
//! mysite.wsgi`, a dependency of a dependency deleted from site-packages (reported once, at the
//! first application statement, with every affected statement), and an extension built for
//! another CPython; an entrypoint wrapper with Windows line endings, without an execute bit,
//! or with a `#!/bin/bash` the image cannot run, and an interpreter whose libpython a later
//! layer deleted.
//!
//! The truth is the image's own Entrypoint/Cmd run in a container (`--network none`): the
//! broken image must really fail with the error the finding describes, the clean twin must
//! really start. Then `importgate check --format json`: the broken image exits 1 with one error
//! finding at `<image-config>` (the argument's position in Entrypoint + Cmd, `kind` `startup`,
//! a `config` object) or at the settings line for Django; the clean twin exits 0 without error
//! findings.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// The wheels of the base image (CPython 3.12, manylinux x86_64), every distribution pinned:
/// installed with `--no-deps` (fastapi-cli asks for `uvicorn[standard]`, whose extras are not
/// needed to start an app).
const WHEELS: &[&str] = &[
    // uvicorn, fastapi and fastapi-cli
    "uvicorn==0.32.1",
    "h11==0.14.0",
    "click==8.1.8",
    "fastapi==0.115.6",
    "starlette==0.41.3",
    "pydantic==2.10.3",
    "pydantic-core==2.27.1",
    "annotated-types==0.7.0",
    "typing-extensions==4.12.2",
    "anyio==4.7.0",
    "idna==3.10",
    "sniffio==1.3.1",
    "fastapi-cli==0.0.7",
    "typer==0.15.1",
    "shellingham==1.5.4",
    "rich==13.9.4",
    "markdown-it-py==3.0.0",
    "mdurl==0.1.2",
    "pygments==2.18.0",
    "rich-toolkit==0.12.0",
    // gunicorn
    "gunicorn==23.0.0",
    "packaging==24.2",
    // flask
    "flask==3.1.0",
    "werkzeug==3.1.3",
    "jinja2==3.1.5",
    "markupsafe==3.0.2",
    "itsdangerous==2.2.0",
    "blinker==1.9.0",
    // celery
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
    // django
    "django==5.1.4",
    "asgiref==3.8.1",
    "sqlparse==0.5.3",
    // httpx 0.27 (0.28 imports httpcore lazily, inside functions: deleting httpcore would not
    // break `import httpx`)
    "httpx==0.27.2",
    "httpcore==1.0.7",
    "certifi==2024.12.14",
    // uWSGI's core as a wheel (its `uwsgi` console script)
    "pyuwsgi==2.0.30.post1",
];

/// A small package whose `__init__.py` imports its extension without a fallback; its cp312
/// wheel (the clean twin) is in the wheel directory, its cp311 wheel in `cp311/`. Not in the
/// base image.
const ORJSON: &str = "orjson==3.10.12";

/// The base image, kept between runs like the interpreter bases (bump the version when
/// [`WHEELS`] or its Dockerfile changes).
const BASE: &str = "importgate-test/entry-base:v2";

/// Where the base image installs distributions.
const SITE: &str = "/usr/local/lib/python3.12/site-packages";

/// The wheels of [`WHEELS`] and [`ORJSON`] for CPython 3.12, and orjson's cp311 wheel in
/// `cp311/`.
fn wheel_dir() -> PathBuf {
    let mut reqs = WHEELS.to_vec();
    reqs.push(ORJSON);
    let dir = pinned_wheels("entry-v2", "3.12", &reqs);
    let cp311 = pinned_wheels("entry-v2/cp311", "3.11", &[ORJSON]);
    assert_eq!(cp311, dir.join("cp311"));
    dir
}

/// [`BASE`]: the 3.12 test base with every wheel of [`WHEELS`] installed by pip in the image,
/// and the host's libgcc_s and glibc compatibility stubs (pydantic-core's extension needs
/// them; the minimal base lacks them, python:3.12-slim has them). Built once, under a lock.
fn entry_base() -> String {
    let parts = WheelBase {
        wheels: wheel_files(&wheel_dir())
            .into_iter()
            .filter(|w| !w.to_string_lossy().contains("/orjson-"))
            .collect(),
        libs: &[
            "libgcc_s.so.1",
            "libpthread.so.0",
            "libdl.so.2",
            "librt.so.1",
            "libutil.so.1",
        ],
        rootfs: &[],
    };
    wheel_base(
        BASE,
        &ensure_base("slim", "3.12"),
        &parts,
        "COPY wheels/ /wheels/\nRUN python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check /wheels/*.whl && rm -r /wheels",
    )
}

/// `importgate-test/entry-LABEL:VARIANT` from the entry base, these files and the Dockerfile
/// lines `tail`.
fn scenario(label: &str, variant: &str, files: &[(&str, &str)], tail: &str) -> Image {
    let entries: Vec<Entry> = files.iter().map(|(p, t)| file(*p, *t)).collect();
    build_scenario(
        &format!("importgate-test/entry-{label}:{variant}"),
        &entry_base(),
        &entries,
        tail,
    )
}

/// Runs `argv` in the image (its User, WorkingDir and Env; `--entrypoint argv[0]`) to its end:
/// exit code and stdout + stderr.
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

/// The image's Cmd ran to its end with a non-zero status and logged `needle`.
fn assert_fails(label: &str, s: &Started, needle: &str) {
    assert!(
        s.exit.is_some_and(|c| c != 0) && s.log.contains(needle),
        "{label}: want the image's Cmd to fail with {needle:?}; exit {:?}, log:\n{}",
        s.exit,
        s.log
    );
    eprintln!(
        "{label}: the container exits {} with: {}",
        s.exit.unwrap(),
        s.log
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or(needle)
            .trim()
    );
}

/// The image's Cmd ran to its end with status 0 and printed `needle`.
fn assert_ran(label: &str, s: &Started, needle: &str) {
    assert!(
        s.exit == Some(0) && s.log.contains(needle),
        "{label}: want the image's Cmd to exit 0 printing {needle:?}; exit {:?}, log:\n{}",
        s.exit,
        s.log
    );
}

/// The image's Cmd is still running (a server) and logged `banner`, no traceback.
fn assert_serves(label: &str, s: &Started, banner: &str) {
    assert!(
        s.exit.is_none() && s.log.contains(banner) && !s.log.contains("Traceback"),
        "{label}: want the image's Cmd to serve ({banner:?}); exit {:?}, log:\n{}",
        s.exit,
        s.log
    );
}

/// The frames of the last traceback of `log`, outermost first, without the import machinery's
/// `<frozen …>` frames: (file, line).
fn frames(log: &str) -> Vec<(String, u64)> {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last):"))
        .unwrap_or(0);
    lines[from..]
        .iter()
        .filter_map(|l| traceback_frame(l))
        .collect()
}

/// importgate passes the clean twin: exit 0, no error finding.
fn assert_clean(label: &str, tag: &str) -> Value {
    let (run, report) = check_json(tag);
    assert!(
        run.code == 0 && error_findings(&report).is_empty(),
        "{label} (clean): want exit 0 and no error; exit {}, findings {:#}\nstderr:\n{}",
        run.code,
        report["findings"],
        run.stderr
    );
    report
}

/// importgate fails the broken image: exit 1 and exactly one error finding, which has a
/// string `id`; the report and that finding.
fn one_error(label: &str, tag: &str) -> (Value, Value) {
    let (run, report) = check_json(tag);
    let errors = error_findings(&report);
    assert!(
        run.code == 1 && errors.len() == 1,
        "{label}: want exit 1 and exactly one error finding; exit {}, findings {:#}\nstderr:\n{}",
        run.code,
        report["findings"],
        run.stderr
    );
    let f = errors[0].clone();
    assert!(
        f["id"].is_string(),
        "{label}: finding without a string id: {f:#}"
    );
    eprintln!(
        "{label}: importgate reports {} {} at {}:{} ({})",
        f["code"], f["module"], f["file"], f["line"], f["message"]
    );
    (report, f)
}

/// Where a finding on the image's Entrypoint/Cmd points: the instruction that holds the
/// argument, and the argument's 1-based position in Entrypoint + Cmd (`line` and
/// `config.argument`).
struct Arg<'a> {
    instruction: &'a str,
    position: u64,
}

/// An argument of a Cmd-only image.
fn cmd_arg(position: u64) -> Arg<'static> {
    Arg {
        instruction: "CMD",
        position,
    }
}

/// The finding is a startup error on the image's Entrypoint/Cmd at `at`.
fn assert_at_config(label: &str, f: &Value, at: &Arg<'_>) {
    assert_eq!(f["file"], "<image-config>", "{label}: {f:#}");
    assert_eq!(f["line"], at.position, "{label}: {f:#}");
    assert_eq!(f["column"], 1, "{label}: {f:#}");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
    assert_eq!(f["severity"], "error", "{label}: {f:#}");
    assert_eq!(f["config"]["instruction"], at.instruction, "{label}: {f:#}");
    assert_eq!(f["config"]["argument"], at.position, "{label}: {f:#}");
}

/// The finding has this code and module.
fn assert_code(label: &str, f: &Value, code: &str, module: &str) {
    assert_eq!(f["code"], code, "{label}: {f:#}");
    assert_eq!(f["module"], module, "{label}: {f:#}");
}

/// A `name-not-in-module` finding for `module` whose message names `name` in quotes (CPython's
/// `'name'`, or a server's own words, `"name"`).
fn assert_name_missing(label: &str, f: &Value, module: &str, name: &str) {
    assert_code(label, f, "name-not-in-module", module);
    assert!(
        f["message"].as_str().is_some_and(
            |m| m.contains(&format!("'{name}'")) || m.contains(&format!("\"{name}\""))
        ),
        "{label}: the message does not name `{name}` in quotes: {f:#}"
    )
}

// ---------------------------------------------------------------------------------------------
// python -c, python -m, python SCRIPT

const WORKER: &str = "def run():\n    print(\"worker running\")\n";

const PYTHON_C: &str = "WORKDIR /app\nCMD [\"python\", \"-c\", \"import worker; worker.run()\"]";

/// `python -c "import worker; worker.run()"` from WORKDIR /app: `sys.path[0]` is the working
/// directory; the clean twin has /app/worker.py, the broken image not.
#[test]
fn python_c_imports_a_module_missing_from_the_working_directory() {
    if !require_docker() {
        return;
    }
    let label = "python -c";
    let clean = scenario("python-c", "clean", &[("/app/worker.py", WORKER)], PYTHON_C);
    let broken = scenario(
        "python-c",
        "broken",
        &[("/app/README", "the worker\n")],
        PYTHON_C,
    );

    assert_ran(
        label,
        &start_container(&clean.tag, 60, &[]),
        "worker running",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "ModuleNotFoundError: No module named 'worker'",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert_code(label, &f, "module-not-found", "worker");
    assert_eq!(f["config"]["code_line"], 1, "{label}: {f:#}");
    assert_eq!(f["config"]["code_column"], 1, "{label}: {f:#}");
}

/// The human output of the `python -c` failure, as users see it.
#[test]
fn python_c_human_output() {
    if !require_docker() {
        return;
    }
    let broken = scenario(
        "python-c",
        "human",
        &[("/app/README", "the worker\n")],
        PYTHON_C,
    );
    let run = importgate(&["check", &broken.tag]);
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    insta::assert_snapshot!("entry_python_c_human_output", run.stdout);
}

/// `python -m jobs.nightly`: the broken image has the package `jobs` but not its module
/// `nightly`.
#[test]
fn python_m_missing_module() {
    if !require_docker() {
        return;
    }
    let label = "python -m jobs.nightly";
    let tail = "WORKDIR /app\nCMD [\"python\", \"-m\", \"jobs.nightly\"]";
    let init = ("/app/jobs/__init__.py", "");
    let clean = scenario(
        "python-m",
        "clean",
        &[init, ("/app/jobs/nightly.py", "print(\"nightly done\")\n")],
        tail,
    );
    let broken = scenario("python-m", "broken", &[init], tail);

    assert_ran(label, &start_container(&clean.tag, 60, &[]), "nightly done");
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "No module named jobs.nightly",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert_code(label, &f, "module-not-found", "jobs.nightly");
}

/// `python -m pkg` where pkg is a package without `__main__.py`.
#[test]
fn python_m_package_without_main() {
    if !require_docker() {
        return;
    }
    let label = "python -m pkg";
    let tail = "WORKDIR /app\nCMD [\"python\", \"-m\", \"pkg\"]";
    let init = ("/app/pkg/__init__.py", "VERSION = \"1.0\"\n");
    let clean = scenario(
        "python-m-pkg",
        "clean",
        &[
            init,
            (
                "/app/pkg/__main__.py",
                "from pkg import VERSION\n\nprint(\"pkg\", VERSION)\n",
            ),
        ],
        tail,
    );
    let broken = scenario("python-m-pkg", "broken", &[init], tail);

    assert_ran(label, &start_container(&clean.tag, 60, &[]), "pkg 1.0");
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "No module named pkg.__main__; 'pkg' is a package and cannot be directly executed",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert_code(label, &f, "module-not-found", "pkg.__main__");
}

/// `python /app/server.py` where the file is missing.
#[test]
fn python_script_missing() {
    if !require_docker() {
        return;
    }
    let label = "python /app/server.py";
    let tail = "WORKDIR /app\nCMD [\"python\", \"/app/server.py\"]";
    let clean = scenario(
        "python-script",
        "clean",
        &[("/app/server.py", "print(\"server up\")\n")],
        tail,
    );
    let broken = scenario(
        "python-script",
        "broken",
        &[("/app/serve.py", "print(\"server up\")\n")],
        tail,
    );

    assert_ran(label, &start_container(&clean.tag, 60, &[]), "server up");
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "can't open file '/app/server.py': [Errno 2] No such file or directory",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(2));
    assert_eq!(f["code"], "script-not-found", "{label}: {f:#}");
}

// ---------------------------------------------------------------------------------------------
// A console script written by pip

/// Writes `DIST/NAME-VERSION-py3-none-any.whl` from the files below SRC, with one console
/// script; pip in the image installs it and writes the wrapper, RECORD and INSTALLER itself.
const MKWHEEL: &str = r#"import base64
import hashlib
import os
import sys
import zipfile

src, dist, name, version, script = sys.argv[1:6]
info = f"{name}-{version}.dist-info"
files = {}
for root, _, names in os.walk(src):
    for n in sorted(names):
        path = os.path.join(root, n)
        with open(path, "rb") as f:
            files[os.path.relpath(path, src)] = f.read()
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: importgate-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{script}\n".encode()
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
os.makedirs(dist, exist_ok=True)
with zipfile.ZipFile(os.path.join(dist, f"{name}-{version}-py3-none-any.whl"), "w") as z:
    for path, data in files.items():
        z.writestr(path, data)
"#;

/// The wrapper pip writes for `report-tool = report_tool.cli:main` (checked in the image).
const REPORT_TOOL_WRAPPER: &str = "#!/usr/local/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom report_tool.cli import main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n";

const REPORT_TOOL_TAIL: &str = "RUN python3 /build/mkwheel.py /build/src /build/dist report_tool 1.0 'report-tool = report_tool.cli:main' && python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check /build/dist/report_tool-1.0-py3-none-any.whl && rm -r /build\nWORKDIR /data\nENTRYPOINT [\"report-tool\"]\nCMD [\"--summary\"]";

/// `report-tool --summary` (Entrypoint `report-tool`, a console script pip wrote for the
/// distribution report_tool, whose wheel is built in the image): clean; the wheel without its
/// module `report_tool.cli`; `cli.py` with `main` renamed `run`.
#[test]
fn console_script_module_or_function_missing() {
    if !require_docker() {
        return;
    }
    let label = "console script report-tool";
    let build = |variant: &str, cli: Option<&str>| {
        let mut files = vec![
            ("/build/mkwheel.py", MKWHEEL),
            (
                "/build/src/report_tool/__init__.py",
                "\"\"\"Reports.\"\"\"\n",
            ),
        ];
        if let Some(cli) = cli {
            files.push(("/build/src/report_tool/cli.py", cli));
        }
        scenario("console-script", variant, &files, REPORT_TOOL_TAIL)
    };
    let clean = build(
        "clean",
        Some("import sys\n\n\ndef main():\n    print(\"report ok\", sys.argv[1:])\n    return 0\n"),
    );
    let no_module = build("no-module", None);
    let renamed = build(
        "renamed",
        Some("import sys\n\n\ndef run():\n    print(\"report ok\", sys.argv[1:])\n    return 0\n"),
    );

    let (code, wrapper) = run_in(&clean.tag, &["cat", "/usr/local/bin/report-tool"]);
    assert_eq!(
        (code, wrapper.as_str()),
        (0, REPORT_TOOL_WRAPPER),
        "the wrapper pip wrote"
    );
    assert_ran(
        label,
        &start_container(&clean.tag, 60, &[]),
        "report ok ['--summary']",
    );
    assert_fails(
        label,
        &start_container(&no_module.tag, 60, &[]),
        "ModuleNotFoundError: No module named 'report_tool.cli'",
    );
    assert_fails(
        label,
        &start_container(&renamed.tag, 60, &[]),
        "ImportError: cannot import name 'main' from 'report_tool.cli'",
    );

    let at = Arg {
        instruction: "ENTRYPOINT",
        position: 1,
    };
    assert_clean(label, &clean.tag);
    let (_, f) = one_error(&format!("{label} (no module)"), &no_module.tag);
    assert_at_config(label, &f, &at);
    assert_code(label, &f, "module-not-found", "report_tool.cli");
    let (_, f) = one_error(&format!("{label} (renamed)"), &renamed.tag);
    assert_at_config(label, &f, &at);
    assert_name_missing(label, &f, "report_tool.cli", "main");
}

// ---------------------------------------------------------------------------------------------
// App servers and framework CLIs

const ASGI_APP: &str = "import json\n\n\nasync def app(scope, receive, send):\n    if scope[\"type\"] != \"http\":\n        return\n    await send({\"type\": \"http.response.start\", \"status\": 200, \"headers\": []})\n    await send({\"type\": \"http.response.body\", \"body\": json.dumps({\"ok\": True}).encode()})\n";

const UVICORN_BANNER: &str = "Uvicorn running on http://0.0.0.0:8000";

/// `uvicorn main:app` from /srv: main.py missing; the object named `application`; and main.py
/// missing with `uvicorn` in Entrypoint and `main:app` in Cmd.
#[test]
fn uvicorn_module_or_attribute_missing() {
    if !require_docker() {
        return;
    }
    let label = "uvicorn main:app";
    let tail = "WORKDIR /srv\nCMD [\"uvicorn\", \"main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]";
    let split_tail = "WORKDIR /srv\nENTRYPOINT [\"uvicorn\"]\nCMD [\"main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]";
    let renamed_app = ASGI_APP.replace("async def app(", "async def application(");
    let clean = scenario("uvicorn", "clean", &[("/srv/main.py", ASGI_APP)], tail);
    let no_module = scenario("uvicorn", "no-module", &[("/srv/app.py", ASGI_APP)], tail);
    let renamed = scenario(
        "uvicorn",
        "renamed",
        &[("/srv/main.py", &renamed_app)],
        tail,
    );
    let split_clean = scenario(
        "uvicorn",
        "split-clean",
        &[("/srv/main.py", ASGI_APP)],
        split_tail,
    );
    let split = scenario(
        "uvicorn",
        "split-no-module",
        &[("/srv/app.py", ASGI_APP)],
        split_tail,
    );

    for img in [&clean, &split_clean] {
        assert_serves(
            label,
            &start_container(&img.tag, 60, &[UVICORN_BANNER]),
            UVICORN_BANNER,
        );
    }
    for img in [&no_module, &split] {
        assert_fails(
            label,
            &start_container(&img.tag, 60, &[]),
            "Error loading ASGI app. Could not import module \"main\".",
        );
    }
    assert_fails(
        label,
        &start_container(&renamed.tag, 60, &[]),
        "Error loading ASGI app. Attribute \"app\" not found in module \"main\".",
    );

    assert_clean(label, &clean.tag);
    assert_clean(label, &split_clean.tag);
    let (_, f) = one_error(&format!("{label} (no module)"), &no_module.tag);
    assert_at_config(label, &f, &cmd_arg(2));
    assert_code(label, &f, "module-not-found", "main");
    let (_, f) = one_error(&format!("{label} (renamed)"), &renamed.tag);
    assert_at_config(label, &f, &cmd_arg(2));
    assert_name_missing(label, &f, "main", "app");
    // Entrypoint ["uvicorn"], Cmd ["main:app", ...]: the first word of Cmd, the second of
    // Entrypoint + Cmd.
    let (_, f) = one_error(&format!("{label} (Entrypoint + Cmd)"), &split.tag);
    assert_at_config(
        label,
        &f,
        &Arg {
            instruction: "CMD",
            position: 2,
        },
    );
    assert_code(label, &f, "module-not-found", "main");
}

const WSGI_FACTORY: &str = "def create_app():\n    def app(environ, start_response):\n        start_response(\"200 OK\", [(\"Content-Type\", \"text/plain\")])\n        return [b\"ok\"]\n\n    return app\n";

/// `gunicorn 'web:create_app()'` (an application factory) where web.py calls it `make_app`.
#[test]
fn gunicorn_factory_missing() {
    if !require_docker() {
        return;
    }
    let label = "gunicorn web:create_app()";
    let tail =
        "WORKDIR /srv\nCMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"web:create_app()\"]";
    let renamed = WSGI_FACTORY.replace("def create_app(", "def make_app(");
    let clean = scenario("gunicorn", "clean", &[("/srv/web.py", WSGI_FACTORY)], tail);
    let broken = scenario("gunicorn", "broken", &[("/srv/web.py", &renamed)], tail);

    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["Booting worker"]),
        "Booting worker",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "Failed to find attribute 'create_app' in 'web'.",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(4));
    assert_name_missing(label, &f, "web", "create_app");
}

/// gunicorn's worker class is loaded by the arbiter before any worker: `-k gevent` in an image
/// without gevent stops the start; the uvicorn worker of the clean twin is installed. The
/// configuration module (`./gunicorn.conf.py`) runs first and names the app.
#[test]
fn gunicorn_worker_class_missing() {
    if !require_docker() {
        return;
    }
    let label = "gunicorn -k";
    let conf = "bind = \"0.0.0.0:8000\"\nwsgi_app = \"main:app\"\n";
    let files = [
        ("/srv/main.py", FASTAPI_MAIN),
        ("/srv/gunicorn.conf.py", conf),
    ];
    let clean = scenario(
        "gunicorn-worker",
        "clean",
        &files,
        "WORKDIR /srv\nCMD [\"gunicorn\", \"-k\", \"uvicorn.workers.UvicornWorker\"]",
    );
    let broken = scenario(
        "gunicorn-worker",
        "broken",
        &files,
        "WORKDIR /srv\nCMD [\"gunicorn\", \"-k\", \"gevent\"]",
    );
    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["Application startup complete"]),
        "Application startup complete",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "No module named 'gevent'",
    );
    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_eq!(f["module"], "gevent", "{label}: {f:#}");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
}

/// uWSGI reads its application from an ini file: `module` with `chdir` as `.`; with
/// `need-app` it exits when the import fails (without it, it serves errors).
#[test]
fn uwsgi_module_missing() {
    if !require_docker() {
        return;
    }
    let label = "uwsgi --ini";
    let ini = |module: &str| {
        format!(
            "[uwsgi]\nhttp = :8000\nchdir = /srv/site\nmodule = {module}\nneed-app = true\nmaster = false\n"
        )
    };
    let wsgi = "def application(environ, start_response):\n    start_response(\"200 OK\", [])\n    return [b\"ok\"]\n";
    let tail = "WORKDIR /\nCMD [\"uwsgi\", \"--ini\", \"/etc/uwsgi.ini\"]";
    let clean_ini = ini("proj.wsgi:application");
    let broken_ini = ini("proj.wsgii:application");
    let clean = scenario(
        "uwsgi",
        "clean",
        &[
            ("/srv/site/proj/__init__.py", ""),
            ("/srv/site/proj/wsgi.py", wsgi),
            ("/etc/uwsgi.ini", &clean_ini),
        ],
        tail,
    );
    let broken = scenario(
        "uwsgi",
        "broken",
        &[
            ("/srv/site/proj/__init__.py", ""),
            ("/srv/site/proj/wsgi.py", wsgi),
            ("/etc/uwsgi.ini", &broken_ini),
        ],
        tail,
    );
    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["ready in"]),
        "ready in",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "No module named 'proj.wsgii'",
    );
    let report = assert_clean(label, &clean.tag);
    assert_eq!(
        report["startup"]["understood"], true,
        "{label}: {:#}",
        report["startup"]
    );
    let (_, f) = one_error(label, &broken.tag);
    assert_code(label, &f, "module-not-found", "proj.wsgii");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");

    // `uwsgi /etc/uwsgi.ini`: a lone `.ini` argument is the configuration file.
    let label = "uwsgi FILE.ini";
    let bare = scenario(
        "uwsgi",
        "bare-ini",
        &[
            ("/srv/site/proj/__init__.py", ""),
            ("/srv/site/proj/wsgi.py", wsgi),
            ("/etc/uwsgi.ini", &broken_ini),
        ],
        "WORKDIR /\nCMD [\"uwsgi\", \"/etc/uwsgi.ini\"]",
    );
    assert_fails(
        label,
        &start_container(&bare.tag, 60, &[]),
        "No module named 'proj.wsgii'",
    );
    let (_, f) = one_error(label, &bare.tag);
    assert_code(label, &f, "module-not-found", "proj.wsgii");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
}

const FASTAPI_MAIN: &str = "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get(\"/\")\ndef root():\n    return {\"ok\": True}\n";

/// `fastapi run app/main.py` from /srv (`app/` has no `__init__.py`: the module is `main`,
/// with /srv/app first on sys.path): the file missing; and `--app application` where main.py
/// defines `app`. (Without `--app`, fastapi-cli takes `app`, then `api`, then any FastAPI
/// instance among the module's names: `application = FastAPI()` starts, so only a named object
/// can be missing.)
#[test]
fn fastapi_run_file_or_app_missing() {
    if !require_docker() {
        return;
    }
    let label = "fastapi run app/main.py";
    let tail = "WORKDIR /srv\nCMD [\"fastapi\", \"run\", \"app/main.py\"]";
    let named_tail =
        "WORKDIR /srv\nCMD [\"fastapi\", \"run\", \"app/main.py\", \"--app\", \"application\"]";
    let named = FASTAPI_MAIN.replace("app", "application");
    let clean = scenario(
        "fastapi",
        "clean",
        &[("/srv/app/main.py", FASTAPI_MAIN)],
        tail,
    );
    let no_file = scenario(
        "fastapi",
        "no-file",
        &[("/srv/app/routes.py", FASTAPI_MAIN)],
        tail,
    );
    let clean_named = scenario(
        "fastapi",
        "clean-named",
        &[("/srv/app/main.py", &named)],
        named_tail,
    );
    let renamed = scenario(
        "fastapi",
        "renamed",
        &[("/srv/app/main.py", FASTAPI_MAIN)],
        named_tail,
    );

    let started = "Application startup complete";
    for img in [&clean, &clean_named] {
        assert_serves(label, &start_container(&img.tag, 60, &[started]), started);
    }
    assert_fails(
        label,
        &start_container(&no_file.tag, 60, &[]),
        "Path does not exist app/main.py",
    );
    let not_found = "Could not find app name application in main";
    assert_fails(label, &start_container(&renamed.tag, 60, &[]), not_found);

    assert_clean(label, &clean.tag);
    assert_clean(label, &clean_named.tag);
    let (_, f) = one_error(&format!("{label} (no file)"), &no_file.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert!(
        f["code"] == "script-not-found"
            || (f["code"] == "module-not-found" && f["module"] == "main"),
        "{label}: want script-not-found (or module-not-found `main`): {f:#}"
    );
    // The finding is on the argument that holds the module (the path); its message is
    // fastapi-cli's own line, which does not quote the name.
    let (_, f) = one_error(&format!("{label} --app application"), &renamed.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert_code(label, &f, "name-not-in-module", "main");
    assert_eq!(f["message"], not_found, "{label}: {f:#}");
}

/// `celery -A proj worker` from /srv: the clean package imports its app from `proj/celery.py`;
/// in the broken one that file was renamed `proj/celery_app.py` and `proj/__init__.py` binds
/// nothing: Celery finds neither `proj.app`, `proj.celery` nor the submodule `proj.celery`, nor
/// any Celery instance among proj's names.
#[test]
fn celery_app_missing() {
    if !require_docker() {
        return;
    }
    let label = "celery -A proj";
    let tail =
        "WORKDIR /srv\nCMD [\"celery\", \"-A\", \"proj\", \"worker\", \"--loglevel\", \"INFO\"]";
    let app = "from celery import Celery\n\napp = Celery(\"proj\", broker=\"memory://\")\n";
    let tasks = ("/srv/proj/tasks.py", "def ping():\n    return \"pong\"\n");
    let clean = scenario(
        "celery",
        "clean",
        &[
            (
                "/srv/proj/__init__.py",
                "from .celery import app\n\n__all__ = (\"app\",)\n",
            ),
            ("/srv/proj/celery.py", app),
            tasks,
        ],
        tail,
    );
    let broken = scenario(
        "celery",
        "broken",
        &[
            ("/srv/proj/__init__.py", "\"\"\"Background jobs.\"\"\"\n"),
            ("/srv/proj/celery_app.py", app),
            tasks,
        ],
        tail,
    );

    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["ready."]),
        "ready.",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "Module 'proj' has no attribute 'celery'",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert!(
        (f["code"] == "module-not-found" && f["module"] == "proj.celery")
            || (f["code"] == "name-not-in-module" && f["module"] == "proj"),
        "{label}: want module-not-found `proj.celery` (or name-not-in-module in `proj`): {f:#}"
    );
}

/// `flask --app web:application run` where web.py defines `app` only.
#[test]
fn flask_app_attribute_missing() {
    if !require_docker() {
        return;
    }
    let label = "flask --app web:application";
    let tail = "WORKDIR /srv\nCMD [\"flask\", \"--app\", \"web:application\", \"run\", \"--host\", \"0.0.0.0\"]";
    let web = "from flask import Flask\n\napplication = Flask(__name__)\n\n\n@application.route(\"/\")\ndef index():\n    return \"ok\"\n";
    let clean = scenario("flask", "clean", &[("/srv/web.py", web)], tail);
    let broken = scenario(
        "flask",
        "broken",
        &[("/srv/web.py", &web.replace("application", "app"))],
        tail,
    );

    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["Running on"]),
        "Running on",
    );
    assert_fails(
        label,
        &start_container(&broken.tag, 60, &[]),
        "Error: Failed to find attribute 'application' in 'web'.",
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_at_config(label, &f, &cmd_arg(3));
    assert_name_missing(label, &f, "web", "application");
}

// ---------------------------------------------------------------------------------------------
// Django settings strings

const MANAGE_PY: &str = r#"#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
"#;

const SETTINGS: &str = r#"SECRET_KEY = "importgate-test-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "mysite.middleware.TimingMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "mysite.backends.EmailBackend",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "/tmp/db.sqlite3",
    }
}

USE_TZ = True
"#;

const MIDDLEWARE_PY: &str = r#"import time


class TimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.monotonic()
        response = self.get_response(request)
        response["X-Elapsed"] = f"{time.monotonic() - start:.3f}"
        return response
"#;

const BACKENDS_PY: &str = r#"from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    pass
"#;

const URLS_PY: &str = r#"from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse("ok")


urlpatterns = [path("", index)]
"#;

const WSGI_PY: &str = r#"import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
"#;

/// The Django project below /srv; `middleware` and `backends` replace (Some) or drop (None)
/// their files.
fn django_files(middleware: &str, backends: Option<&'static str>) -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("/srv/manage.py", MANAGE_PY.to_string()),
        ("/srv/mysite/__init__.py", String::new()),
        ("/srv/mysite/settings.py", SETTINGS.to_string()),
        ("/srv/mysite/middleware.py", middleware.to_string()),
        ("/srv/mysite/urls.py", URLS_PY.to_string()),
        ("/srv/mysite/wsgi.py", WSGI_PY.to_string()),
    ];
    if let Some(b) = backends {
        files.push(("/srv/mysite/backends.py", b.to_string()));
    }
    files
}

fn django_image(label: &str, variant: &str, files: &[(&str, String)], tail: &str) -> Image {
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    scenario(label, variant, &files, tail)
}

const DJANGO_STARTED: &str = "Starting development server at http://0.0.0.0:8000/";
const MIDDLEWARE_RAISES: &str = "ImportError: Module \"mysite.middleware\" does not define a \"TimingMiddleware\" attribute/class";
const SETTINGS_FILE: &str = "/srv/mysite/settings.py";

/// `python manage.py runserver 0.0.0.0:8000` (with the autoreloader, as written in most
/// Dockerfiles): a MIDDLEWARE entry naming a class that was renamed in its module; an
/// AUTHENTICATION_BACKENDS entry whose module is missing.
///
/// What Django really does: `manage.py check` passes in both. runserver loads MIDDLEWARE when
/// it builds the WSGI handler, after the checks: the renamed class raises `ImportError: Module
/// "mysite.middleware" does not define a "TimingMiddleware" attribute/class` in the server
/// thread and nothing is served (the autoreloader keeps the container running).
/// AUTHENTICATION_BACKENDS is imported on the first `authenticate()`/`get_backends()` (the
/// first login): the server starts, and the first login raises `ModuleNotFoundError: No module
/// named 'mysite.backends'`.
#[test]
fn django_settings_strings() {
    if !require_docker() {
        return;
    }
    let label = "django runserver";
    let tail = "ENV PYTHONUNBUFFERED=1\nWORKDIR /srv\nCMD [\"python\", \"manage.py\", \"runserver\", \"0.0.0.0:8000\"]";
    let renamed = MIDDLEWARE_PY.replace("class TimingMiddleware", "class RequestTimingMiddleware");
    let clean = django_image(
        "django",
        "clean",
        &django_files(MIDDLEWARE_PY, Some(BACKENDS_PY)),
        tail,
    );
    let bad_middleware = django_image(
        "django",
        "middleware",
        &django_files(&renamed, Some(BACKENDS_PY)),
        tail,
    );
    let bad_backend = django_image(
        "django",
        "backend",
        &django_files(MIDDLEWARE_PY, None),
        tail,
    );
    let get_backends = [
        "python",
        "manage.py",
        "shell",
        "-c",
        "from django.contrib.auth import get_backends; print([type(b).__name__ for b in get_backends()])",
    ];

    // The clean project serves and loads its backend.
    let until = [DJANGO_STARTED, "Traceback"];
    assert_serves(
        label,
        &start_container(&clean.tag, 60, &until),
        DJANGO_STARTED,
    );
    let (code, out) = run_in(&clean.tag, &get_backends);
    assert!(
        code == 0 && out.contains("['EmailBackend']"),
        "{label}: {out}"
    );

    // The renamed middleware: the checks pass, then the server thread dies building the
    // handler; nothing is served.
    let (code, out) = run_in(&bad_middleware.tag, &["python", "manage.py", "check"]);
    assert_eq!(code, 0, "{label}: manage.py check (middleware):\n{out}");
    let s = start_container(
        &bad_middleware.tag,
        60,
        &[
            DJANGO_STARTED,
            "could not be loaded; Error importing module.",
        ],
    );
    assert!(
        s.log.contains(MIDDLEWARE_RAISES) && !s.log.contains(DJANGO_STARTED),
        "{label}: want runserver to fail loading the middleware; exit {:?}, log:\n{}",
        s.exit,
        s.log
    );
    eprintln!(
        "{label} (middleware): manage.py check exits 0; runserver: {MIDDLEWARE_RAISES} (container still {})",
        if s.exit.is_none() {
            "running"
        } else {
            "exited"
        }
    );

    // The missing backend module: the server starts; the first login raises.
    let (code, out) = run_in(&bad_backend.tag, &["python", "manage.py", "check"]);
    assert_eq!(code, 0, "{label}: manage.py check (backend):\n{out}");
    assert_serves(
        label,
        &start_container(&bad_backend.tag, 60, &until),
        DJANGO_STARTED,
    );
    let (code, out) = run_in(&bad_backend.tag, &get_backends);
    assert!(
        code != 0 && out.contains("ModuleNotFoundError: No module named 'mysite.backends'"),
        "{label}: get_backends() (backend): exit {code}\n{out}"
    );
    eprintln!(
        "{label} (backend): manage.py check exits 0, runserver serves, get_backends() raises ModuleNotFoundError: No module named 'mysite.backends'"
    );

    assert_clean(label, &clean.tag);

    let (_, f) = one_error(&format!("{label} (middleware)"), &bad_middleware.tag);
    assert_eq!(f["file"], SETTINGS_FILE, "{label}: {f:#}");
    assert_eq!(
        f["line"],
        line_of(SETTINGS, "\"mysite.middleware.TimingMiddleware\""),
        "{label}: {f:#}"
    );
    assert_name_missing(label, &f, "mysite.middleware", "TimingMiddleware");

    // The backend: Django starts and serves, the import fails on the first login. A finding at
    // the settings line, but not a startup failure; the exit code follows its severity.
    let (run, report) = check_json(&bad_backend.tag);
    let line = line_of(SETTINGS, "\"mysite.backends.EmailBackend\"");
    let found: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["file"] == SETTINGS_FILE && f["line"] == line)
        .collect();
    assert!(
        found.len() == 1 && found[0]["module"] == "mysite.backends",
        "{label} (backend): want one finding for `mysite.backends` at {SETTINGS_FILE}:{line}; findings {:#}",
        report["findings"]
    );
    let f = found[0];
    eprintln!(
        "{label} (backend): importgate reports {} {} ({}, {}) at {SETTINGS_FILE}:{line}, exit {}",
        f["code"], f["module"], f["severity"], f["kind"], run.code
    );
    assert!(
        matches!(
            f["code"].as_str(),
            Some("module-not-found" | "lazy-import-missing")
        ),
        "{label} (backend): {f:#}"
    );
    let errors = error_findings(&report);
    assert!(
        errors.len() <= 1 && run.code == if errors.is_empty() { 0 } else { 1 },
        "{label} (backend): exit {}, findings {:#}",
        run.code,
        report["findings"]
    );
    assert_ne!(
        f["kind"], "startup",
        "{label} (backend): runserver starts and serves with this backend missing (the import happens on the first login), so it is not a startup failure: {f:#}"
    );
}

/// `gunicorn mysite.wsgi`: the same renamed middleware, imported when wsgi.py builds the
/// application; gunicorn's worker fails to boot and the arbiter exits 3.
#[test]
fn django_gunicorn_middleware_renamed() {
    if !require_docker() {
        return;
    }
    let label = "django gunicorn mysite.wsgi";
    let tail = "WORKDIR /srv\nCMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"mysite.wsgi\"]";
    let renamed = MIDDLEWARE_PY.replace("class TimingMiddleware", "class RequestTimingMiddleware");
    let clean = django_image(
        "django-gunicorn",
        "clean",
        &django_files(MIDDLEWARE_PY, Some(BACKENDS_PY)),
        tail,
    );
    let broken = django_image(
        "django-gunicorn",
        "broken",
        &django_files(&renamed, Some(BACKENDS_PY)),
        tail,
    );

    assert_serves(
        label,
        &start_container(&clean.tag, 60, &["Booting worker"]),
        "Booting worker",
    );
    let s = start_container(&broken.tag, 60, &[]);
    assert_fails(label, &s, MIDDLEWARE_RAISES);
    assert_eq!(s.exit, Some(3), "{label}: gunicorn's exit:\n{}", s.log);

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_eq!(f["file"], SETTINGS_FILE, "{label}: {f:#}");
    assert_eq!(
        f["line"],
        line_of(SETTINGS, "\"mysite.middleware.TimingMiddleware\""),
        "{label}: {f:#}"
    );
    assert_name_missing(label, &f, "mysite.middleware", "TimingMiddleware");
}

// ---------------------------------------------------------------------------------------------
// A failure inside a dependency

const CLIENT_PY: &str = "\"\"\"The HTTP client of the service.\"\"\"\nimport httpx\nimport json\n\n\ndef fetch(url):\n    return json.loads(httpx.get(url, timeout=5).text)\n";
const API_PY: &str = "from httpx import AsyncClient\n\n\ndef make_client():\n    return AsyncClient(base_url=\"http://backend\")\n";
const MAIN_PY: &str = "import client\nimport api\n\n\ndef main():\n    print(\"started\", client.fetch.__name__, api.make_client.__name__)\n\n\nif __name__ == \"__main__\":\n    main()\n";

/// The app's import statements: (file, line, statement), every one at column 1.
const CHAIN_STATEMENTS: &[(&str, u64, &str)] = &[
    ("/app/client.py", 2, "import httpx"),
    ("/app/client.py", 3, "import json"),
    ("/app/api.py", 1, "from httpx import AsyncClient"),
    ("/app/main.py", 1, "import client"),
    ("/app/main.py", 2, "import api"),
];

fn chain_image(variant: &str, delete_httpcore: bool) -> Image {
    let mut tail = String::new();
    if delete_httpcore {
        tail.push_str(&format!("RUN rm -r {SITE}/httpcore\n"));
    }
    tail.push_str("WORKDIR /app\nCMD [\"python\", \"main.py\"]");
    scenario(
        "chain",
        variant,
        &[
            ("/app/client.py", CLIENT_PY),
            ("/app/api.py", API_PY),
            ("/app/main.py", MAIN_PY),
        ],
        &tail,
    )
}

/// The report with only the application's `imports` (below /app): the probe cannot replay a
/// statement of a distribution's package `__init__.py` on its own (importing the package runs
/// that very file, so CPython's error comes out of module code).
fn app_imports(report: &Value) -> Value {
    let mut r = report.clone();
    let imports: Vec<Value> = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["file"].as_str().is_some_and(|f| f.starts_with("/app/")))
        .cloned()
        .collect();
    r["imports"] = Value::Array(imports);
    r
}

/// A `(file, line, column)` list of a finding (`affects` or `related`).
fn locations(f: &Value, key: &str) -> BTreeSet<(String, u64, u64)> {
    f[key]
        .as_array()
        .unwrap_or_else(|| panic!("finding without a `{key}` array: {f:#}"))
        .iter()
        .map(|l| {
            (
                l["file"].as_str().unwrap_or("?").to_string(),
                l["line"].as_u64().unwrap_or(0),
                l["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The `imports` entries of the report at these (file, line) are errors of the finding `id`,
/// with the module whose code raises (`raised_in`).
fn assert_imports_point_to(
    label: &str,
    report: &Value,
    at: &BTreeSet<(String, u64, u64)>,
    id: &Value,
) {
    let imports = report["imports"].as_array().unwrap();
    for (file, line, _) in at {
        let here: Vec<&Value> = imports
            .iter()
            .filter(|i| i["file"] == file.as_str() && i["line"] == *line)
            .collect();
        assert!(
            !here.is_empty()
                && here.iter().all(|i| i["status"] == "error"
                    && i["finding"] == *id
                    && i["raised_in"].is_string()),
            "{label}: want the import at {file}:{line} to be an error of finding {id}, raised in a dependency: {here:#?}"
        );
    }
}

/// The app imports httpx (client.py line 2, api.py line 1; main.py imports both modules), and
/// httpcore, which httpx imports at module level, was deleted from site-packages. CPython fails
/// at client.py line 2, inside httpx/_transports/default.py (`import httpcore`). importgate:
/// one error, at client.py:2, `related` the httpx frame, `affects` exactly the app statements
/// that raise when run on their own in the image.
#[test]
fn dependency_failure_is_reported_once_at_the_first_app_statement() {
    if !require_docker() {
        return;
    }
    let label = "httpx without httpcore";
    let clean = chain_image("clean", false);
    let broken = chain_image("broken", true);

    assert_ran(
        label,
        &start_container(&clean.tag, 60, &[]),
        "started fetch make_client",
    );
    let s = start_container(&broken.tag, 60, &[]);
    assert_fails(label, &s, "ModuleNotFoundError: No module named 'httpcore'");
    let frames = frames(&s.log);
    let app_frame = frames
        .iter()
        .rev()
        .find(|(f, _)| f.starts_with("/app/"))
        .unwrap_or_else(|| panic!("{label}: no app frame in\n{}", s.log))
        .clone();
    let dep_frame = frames.last().unwrap().clone();
    assert_eq!(
        (app_frame.0.as_str(), app_frame.1),
        ("/app/client.py", 2),
        "{label}:\n{}",
        s.log
    );
    assert!(
        dep_frame.0.starts_with(&format!("{SITE}/httpx/")),
        "{label}: innermost frame {dep_frame:?}\n{}",
        s.log
    );
    eprintln!(
        "{label}: the container fails at {}:{} inside {}:{}",
        app_frame.0, app_frame.1, dep_frame.0, dep_frame.1
    );

    // Every app statement on its own, in a fresh interpreter with sys.path[0] = /app.
    let cases: Vec<Case> = CHAIN_STATEMENTS
        .iter()
        .map(|(_, _, s)| Case::new(s, None))
        .collect();
    let truths = truth(&broken.tag, Some("/app"), &cases);
    let raising: BTreeSet<(String, u64, u64)> = CHAIN_STATEMENTS
        .iter()
        .zip(&truths)
        .filter(|(_, t)| t.ok == Some(false) && t.import_error)
        .map(|((file, line, _), _)| (file.to_string(), *line, 1))
        .collect();
    eprintln!("{label}: statements that raise on their own: {raising:?}");
    assert_eq!(raising.len(), 4, "{label}: {truths:#?}");

    let clean_report = assert_clean(label, &clean.tag);
    differential_with(&clean.tag, "python", Some("/app"), &clean_report);

    let (report, f) = one_error(label, &broken.tag);
    assert_code(label, &f, "module-not-found", "httpcore");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
    let related = locations(&f, "related");
    assert!(
        related
            .iter()
            .any(|(file, line, _)| *file == dep_frame.0 && *line == dep_frame.1),
        "{label}: want {dep_frame:?} in `related`: {f:#}"
    );
    assert!(
        f["related"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["message"].is_string()),
        "{label}: {f:#}"
    );
    let affects = locations(&f, "affects");
    assert_eq!(affects, raising, "{label}: `affects` of {f:#}");
    for a in f["affects"].as_array().unwrap() {
        let (_, _, statement) = CHAIN_STATEMENTS
            .iter()
            .find(|(file, line, _)| a["file"] == *file && a["line"] == *line)
            .unwrap();
        assert_eq!(a["statement"], *statement, "{label}: {a:#}");
    }
    assert_imports_point_to(label, &report, &affects, &f["id"]);
    differential_with(&broken.tag, "python", Some("/app"), &app_imports(&report));
    // Located at the first application statement that raises: the innermost application frame
    // of CPython's traceback (client.py's `import httpx`, which main.py's `import client` runs).
    assert_eq!(
        (f["file"].as_str(), f["line"].as_u64()),
        (Some(app_frame.0.as_str()), Some(app_frame.1)),
        "{label}: want the finding at the innermost application frame of the traceback: {f:#}"
    );
}

/// The human output of the dependency failure, as users see it.
#[test]
fn dependency_failure_human_output() {
    if !require_docker() {
        return;
    }
    let broken = chain_image("human", true);
    let run = importgate(&["check", &broken.tag]);
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    insta::assert_snapshot!("entry_dependency_human_output", run.stdout);
}

const ORJSON_MAIN: &str = "\"\"\"Prints the service status as JSON.\"\"\"\nimport orjson\n\nprint(orjson.dumps({\"ok\": True}).decode())\n";

/// orjson's cp311 wheel unpacked into the 3.12 image's site-packages (its clean twin: the
/// cp312 wheel installed by pip): `orjson/__init__.py` imports its extension
/// `orjson.orjson` without a fallback, and 3.12 does not load `orjson.cpython-311-…so`.
/// Reported at the app's `import orjson`, with `related` in orjson/__init__.py.
#[test]
fn extension_for_another_cpython_is_reported_at_the_app_import() {
    if !require_docker() {
        return;
    }
    let label = "orjson cp311 in 3.12";
    let base = entry_base();
    let dir = wheel_dir();
    let cp312 = wheel(&wheel_files(&dir), "orjson");
    let cp311 = wheel(&wheel_files(&dir.join("cp311")), "orjson");
    assert!(cp311.to_string_lossy().contains("-cp311-"), "{cp311:?}");
    let app = "WORKDIR /app\nCMD [\"python\", \"main.py\"]";
    let clean = ImageBuilder::new(&base)
        .wheel(&cp312)
        .file("/app/main.py", ORJSON_MAIN)
        .line(&format!(
            "RUN python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check /wheels/{} && rm -r /wheels",
            cp312.file_name().unwrap().to_string_lossy()
        ))
        .line(app)
        .build("importgate-test/entry-extension:clean");
    let broken = ImageBuilder::new(&base)
        .wheel(&cp311)
        .file("/app/main.py", ORJSON_MAIN)
        .line(&format!(
            "RUN python3 -c \"import zipfile; zipfile.ZipFile('/wheels/{}').extractall('{SITE}')\" && rm -r /wheels",
            cp311.file_name().unwrap().to_string_lossy()
        ))
        .line(app)
        .build("importgate-test/entry-extension:broken");

    assert_ran(
        label,
        &start_container(&clean.tag, 60, &[]),
        "{\"ok\":true}",
    );
    let s = start_container(&broken.tag, 60, &[]);
    assert_fails(
        label,
        &s,
        "ModuleNotFoundError: No module named 'orjson.orjson'",
    );
    let frames = frames(&s.log);
    assert_eq!(
        frames,
        vec![
            ("/app/main.py".to_string(), 2),
            (format!("{SITE}/orjson/__init__.py"), 3)
        ],
        "{label}:\n{}",
        s.log
    );

    let clean_report = assert_clean(label, &clean.tag);
    differential_with(&clean.tag, "python", Some("/app"), &clean_report);
    let (report, f) = one_error(label, &broken.tag);
    assert_eq!(
        (f["file"].as_str(), f["line"].as_u64()),
        (Some("/app/main.py"), Some(2)),
        "{label}: {f:#}"
    );
    let related = locations(&f, "related");
    assert!(
        related
            .iter()
            .any(|(file, line, _)| *file == format!("{SITE}/orjson/__init__.py") && *line == 3),
        "{label}: want {SITE}/orjson/__init__.py:3 in `related`: {f:#}"
    );
    let affects = locations(&f, "affects");
    let want: BTreeSet<(String, u64, u64)> = [("/app/main.py".to_string(), 2, 1)].into();
    assert_eq!(affects, want, "{label}: `affects` of {f:#}");
    assert_imports_point_to(label, &report, &affects, &f["id"]);
    differential_with(&broken.tag, "python", Some("/app"), &app_imports(&report));
}

// ---------------------------------------------------------------------------------------------
// Programs that exist but cannot start

/// Runs the image's own Entrypoint/Cmd to its end, in the foreground: a program the kernel
/// refuses makes `docker run` itself fail (the OCI runtime's exec error), which `start` treats
/// as a harness failure. Exit code and everything printed.
fn run_image(tag: &str) -> (i32, String) {
    let out = output_of(
        docker().args(["run", "--rm", "--network", "none", tag]),
        &format!("docker run {tag}"),
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

/// `ENTRYPOINT ["/app/entry.sh"]` (a wrapper ending in `exec "$@"`) with `python -c` as Cmd:
/// clean; the wrapper with Windows line endings; without an execute bit; with a `#!/bin/bash`
/// the image has no bash for; and, with the clean wrapper, the interpreter's libpython deleted
/// by a later layer. The broken images really do not start (Docker's or ld.so's error), and
/// each is one `exec-failed` error at the Entrypoint.
#[test]
fn programs_that_cannot_start() {
    if !require_docker() {
        return;
    }
    let cmd = "ENTRYPOINT [\"/app/entry.sh\"]\nCMD [\"python\", \"-c\", \"print('app started')\"]";
    let ok = "#!/bin/sh\nset -e\nexec \"$@\"\n";
    let cases: [(&str, &str, &str, &str); 5] = [
        ("clean", ok, "RUN chmod 755 /app/entry.sh", ""),
        (
            "crlf",
            "#!/bin/sh\r\nset -e\r\nexec \"$@\"\r\n",
            "RUN chmod 755 /app/entry.sh",
            "no such file or directory",
        ),
        (
            "noexec",
            ok,
            "RUN chmod 644 /app/entry.sh",
            "permission denied",
        ),
        (
            "bash",
            "#!/bin/bash\nexec \"$@\"\n",
            "RUN chmod 755 /app/entry.sh",
            "no such file or directory",
        ),
        (
            "libpython",
            ok,
            "RUN chmod 755 /app/entry.sh && rm /usr/local/lib/libpython3.12.so.1.0",
            "error while loading shared libraries: libpython3.12.so.1.0",
        ),
    ];
    for (variant, script, run, needle) in cases {
        let label = format!("entrypoint wrapper ({variant})");
        let img = scenario(
            "exec",
            variant,
            &[("/app/entry.sh", script)],
            &format!("{run}\n{cmd}"),
        );
        let (code, log) = run_image(&img.tag);
        if needle.is_empty() {
            assert!(
                code == 0 && log.contains("app started"),
                "{label}: want the container to start; exit {code}, log:\n{log}"
            );
            assert_clean(&label, &img.tag);
            continue;
        }
        assert!(
            code != 0 && log.to_lowercase().contains(&needle.to_lowercase()),
            "{label}: want the container to fail with {needle:?}; exit {code}, log:\n{log}"
        );
        eprintln!("{label}: docker run exits {code}: {}", log.trim());
        let (_, f) = one_error(&label, &img.tag);
        assert_eq!(f["code"], "exec-failed", "{label}: {f:#}");
        assert_eq!(f["file"], "<image-config>", "{label}: {f:#}");
        // The wrapper's own failures are on it; the interpreter's on the Cmd that runs it.
        let at = if variant == "libpython" {
            ("CMD", 2)
        } else {
            ("ENTRYPOINT", 1)
        };
        assert_eq!(f["config"]["instruction"], at.0, "{label}: {f:#}");
        assert_eq!(f["line"], at.1, "{label}: {f:#}");
        assert!(
            f["message"]
                .as_str()
                .is_some_and(|m| m.to_lowercase().contains(&needle.to_lowercase())),
            "{label}: the message does not say {needle:?}: {f:#}"
        );
    }
}

const ACCOUNTS_APPS: &str = r#"from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from . import signals  # noqa: F401
"#;

/// `python manage.py runserver` with an application whose `AppConfig.ready()` imports its
/// signals module, which imports a module the image lacks. Django imports `accounts.apps` by
/// itself (INSTALLED_APPS names only `accounts`) and calls `ready()` in `django.setup()`:
/// `manage.py check` fails with the `ModuleNotFoundError`, and so does the server. importgate:
/// one startup error at the signals module's import; the clean image has none.
#[test]
fn django_app_config_ready() {
    if !require_docker() {
        return;
    }
    let label = "django ready()";
    let tail = "ENV PYTHONUNBUFFERED=1\nWORKDIR /srv\nCMD [\"python\", \"manage.py\", \"runserver\", \"0.0.0.0:8000\", \"--noreload\"]";
    let settings = SETTINGS.replace(
        "    \"django.contrib.contenttypes\",\n]",
        "    \"django.contrib.contenttypes\",\n    \"accounts\",\n]",
    );
    assert_ne!(settings, SETTINGS);
    let files = |signals: &str| -> Vec<(&'static str, String)> {
        let mut files = django_files(MIDDLEWARE_PY, Some(BACKENDS_PY));
        files.retain(|(p, _)| *p != SETTINGS_FILE);
        files.push((SETTINGS_FILE, settings.clone()));
        files.push(("/srv/accounts/__init__.py", String::new()));
        files.push(("/srv/accounts/apps.py", ACCOUNTS_APPS.to_string()));
        files.push(("/srv/accounts/signals.py", signals.to_string()));
        files
    };
    let clean = django_image(
        "django-ready",
        "clean",
        &files("import logging\n\nlog = logging.getLogger(__name__)\n"),
        tail,
    );
    let broken_signals =
        "import logging\n\nimport sentry_sdk\n\nlog = logging.getLogger(__name__)\n";
    let broken = django_image("django-ready", "broken", &files(broken_signals), tail);

    let (code, out) = run_in(&clean.tag, &["python", "manage.py", "check"]);
    assert_eq!(code, 0, "{label}: manage.py check (clean):\n{out}");
    let (code, out) = run_in(&broken.tag, &["python", "manage.py", "check"]);
    assert!(
        code != 0 && out.contains("ModuleNotFoundError: No module named 'sentry_sdk'"),
        "{label}: manage.py check (broken): exit {code}\n{out}"
    );
    let s = start_container(&broken.tag, 60, &[DJANGO_STARTED, "Traceback"]);
    assert!(
        s.log.contains("No module named 'sentry_sdk'") && !s.log.contains(DJANGO_STARTED),
        "{label}: runserver (broken): exit {:?}\n{}",
        s.exit,
        s.log
    );

    assert_clean(label, &clean.tag);
    let (_, f) = one_error(label, &broken.tag);
    assert_eq!(f["module"], "sentry_sdk", "{label}: {f:#}");
    assert_eq!(f["kind"], "startup", "{label}: {f:#}");
    assert_eq!(f["file"], "/srv/accounts/signals.py", "{label}: {f:#}");
    assert_eq!(f["line"], 3, "{label}: {f:#}");
}

/// `uvicorn svc.main:app` where the FastAPI application's lifespan (an
/// `@asynccontextmanager`) imports a module inside its body, and a `@app.on_event("startup")`
/// hook another: uvicorn runs both before it serves. With either import missing, uvicorn logs
/// "Application startup failed. Exiting." and exits 3; importgate reports that import as a
/// startup error (a `shutdown` hook's import stays lazy).
#[test]
fn fastapi_lifespan_and_startup_hooks() {
    if !require_docker() {
        return;
    }
    let label = "uvicorn svc.main:app (lifespan)";
    let tail = "WORKDIR /srv\nCMD [\"uvicorn\", \"svc.main:app\", \"--host\", \"0.0.0.0\"]";
    // Starlette runs `on_event` hooks only when the application has no lifespan: the hook of
    // the lifespan app never runs, so its missing import does not stop the start.
    let main = |lifespan_import: Option<&str>, hook_import: &str| {
        let (def, arg) = match lifespan_import {
            Some(i) => (
                format!("@asynccontextmanager\nasync def lifespan(app):\n    {i}\n    yield\n\n\n"),
                "lifespan=lifespan",
            ),
            None => (String::new(), ""),
        };
        format!(
            "from contextlib import asynccontextmanager\n\nfrom fastapi import FastAPI\n\n\n\
             {def}app = FastAPI({arg})\n\n\n\
             @app.on_event(\"startup\")\nasync def warm():\n    {hook_import}\n\n\n\
             @app.on_event(\"shutdown\")\nasync def bye():\n    import absent_at_shutdown\n"
        )
    };
    let clean_main = main(Some("from svc import db"), "import absent_in_ignored_hook");
    let lifespan_main = main(
        Some("from svc import db, absent_in_lifespan"),
        "import json",
    );
    let hook_main = main(None, "import absent_in_hook");
    let files = |m: &str| -> Vec<(String, String)> {
        vec![
            ("/srv/svc/__init__.py".into(), String::new()),
            ("/srv/svc/db.py".into(), "import sqlite3\n".into()),
            ("/srv/svc/main.py".into(), m.to_string()),
        ]
    };
    let build = |variant: &str, m: &str| {
        let f = files(m);
        let refs: Vec<(&str, &str)> = f.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        scenario("fastapi-lifespan", variant, &refs, tail)
    };
    let clean = build("clean", &clean_main);
    let in_lifespan = build("in-lifespan", &lifespan_main);
    let in_hook = build("in-hook", &hook_main);

    let started = "Application startup complete";
    assert_serves(label, &start_container(&clean.tag, 60, &[started]), started);
    let report = assert_clean(label, &clean.tag);
    for never in ["absent_at_shutdown", "absent_in_ignored_hook"] {
        let found = findings_for(&report, never);
        assert!(
            !found.is_empty() && found.iter().all(|f| f["kind"] == "lazy"),
            "{label}: {never}: {report:#}"
        );
    }
    for (img, missing, needle) in [
        (
            &in_lifespan,
            "absent_in_lifespan",
            "cannot import name 'absent_in_lifespan'",
        ),
        (
            &in_hook,
            "absent_in_hook",
            "No module named 'absent_in_hook'",
        ),
    ] {
        assert_fails(label, &start_container(&img.tag, 60, &[]), needle);
        let (_, f) = one_error(&format!("{label}: {missing}"), &img.tag);
        assert_eq!(f["kind"], "startup", "{label}: {f:#}");
        assert_eq!(f["file"], "/srv/svc/main.py", "{label}: {f:#}");
        assert!(
            f["module"] == missing || f["message"].as_str().is_some_and(|m| m.contains(missing)),
            "{label}: {f:#}"
        );
    }
}

/// `pip install --user` as root, then `gosu app python3 main.py` (as a shell entrypoint's
/// `exec gosu app "$@"`, the way official images drop root): the program runs as `app` (the
/// base's user 1000, HOME `/home/app`), who has no user site and cannot enter `/root`, so the
/// package installed for root is missing. The same image run as root (no gosu) starts.
/// Debian's gosu binary is copied into the image.
#[test]
fn gosu_runs_the_app_as_another_user() {
    if !require_docker() {
        return;
    }
    let gosu = ["/usr/sbin/gosu", "/usr/bin/gosu"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("gosu (Debian package gosu) is needed for this test");
    let gosu_bin = fs::read(gosu).unwrap();
    let site = "/root/.local/lib/python3.12/site-packages";
    let files = [
        (
            "/srv/main.py",
            "import userpkg\n\nprint(\"started\", userpkg.NAME)\n",
        ),
        (
            &format!("{site}/userpkg/__init__.py")[..],
            "NAME = \"userpkg\"\n",
        ),
        (
            "/usr/local/bin/docker-entrypoint.sh",
            "#!/bin/sh\nset -e\nexec gosu app \"$@\"\n",
        ),
    ];
    let tail = |entrypoint: bool| {
        format!(
            "RUN [\"python3\", \"-c\", \"import os; os.chmod('/usr/local/bin/gosu', 0o755); os.chmod('/usr/local/bin/docker-entrypoint.sh', 0o755); os.chmod('/root', 0o700)\"]\nWORKDIR /srv\n{}CMD [\"python3\", \"/srv/main.py\"]",
            if entrypoint {
                "ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]\n"
            } else {
                ""
            }
        )
    };
    let build = |variant: &str, entrypoint: bool| {
        let mut entries: Vec<Entry> = files.iter().map(|(p, t)| file(*p, *t)).collect();
        let dir = tempdir();
        fs::write(dir.path().join("gosu"), &gosu_bin).unwrap();
        entries.push(tree("/usr/local/bin", dir.path()));
        build_scenario(
            &format!("importgate-test/entry-gosu:{variant}"),
            &entry_base(),
            &entries,
            &tail(entrypoint),
        )
    };
    let as_root = build("root", false);
    assert_ran(
        "gosu (as root)",
        &start_container(&as_root.tag, 30, &[]),
        "started userpkg",
    );
    assert_clean("gosu (as root)", &as_root.tag);

    let dropped = build("dropped", true);
    assert_fails(
        "gosu",
        &start_container(&dropped.tag, 30, &[]),
        "ModuleNotFoundError: No module named 'userpkg'",
    );
    let (_, f) = one_error("gosu", &dropped.tag);
    assert_code("gosu", &f, "module-not-found", "userpkg");
    assert_eq!(f["file"], "/srv/main.py", "{f:#}");
    assert_eq!(f["line"], 1, "{f:#}");
}

/// `uv run --no-sync python main.py` in a project whose dependencies live in its `.venv` (the
/// layout `uv sync` leaves): uv runs the command with `.venv/bin` first on PATH, so `six`
/// imports from the environment, not from the image's own site-packages, which lacks it. The
/// real uv binary (from its PyPI wheel) is the truth; without `helpers.py` the app dies on it.
#[test]
fn uv_run_uses_the_project_environment() {
    if !require_docker() {
        return;
    }
    let all = wheels("3.12", &["uv==0.13.9", "six==1.17.0"], false);
    let uv_wheel = wheel(&all, "uv");
    let six = wheel(&all, "six");
    let unpacked = tempdir();
    run_ok(
        Command::new("unzip")
            .args(["-q", "-o"])
            .arg(&uv_wheel)
            .arg("-d")
            .arg(unpacked.path()),
        "unzip uv",
    );
    let bin = tempdir();
    fs::copy(
        unpacked.path().join("uv-0.13.9.data/scripts/uv"),
        bin.path().join("uv"),
    )
    .unwrap();
    let wheels_dir = tempdir();
    fs::copy(&six, wheels_dir.path().join(six.file_name().unwrap())).unwrap();
    let pyproject = "[project]\nname = \"svc\"\nversion = \"0.1\"\nrequires-python = \">=3.12\"\ndependencies = [\"six\"]\n";
    let main = "import six\nimport helpers\n\nprint(\"started\", six.__version__, helpers.X)\n";
    let tail = "RUN [\"python3\", \"-c\", \"import os, subprocess; os.chmod('/usr/local/bin/uv', 0o755); subprocess.run(['python3', '-m', 'venv', '/app/.venv'], check=True); subprocess.run(['/app/.venv/bin/python', '-m', 'pip', 'install', '-q', '--no-index', '--find-links', '/wheels', 'six'], check=True)\"]\nWORKDIR /app\nENV UV_OFFLINE=1\nCMD [\"uv\", \"run\", \"--no-sync\", \"python\", \"main.py\"]";
    let build = |variant: &str, with_helpers: bool| {
        let mut entries = vec![
            file("/app/pyproject.toml", pyproject),
            file("/app/main.py", main),
            tree("/usr/local/bin", bin.path()),
            tree("/wheels", wheels_dir.path()),
        ];
        if with_helpers {
            entries.push(file("/app/helpers.py", "X = 1\n"));
        }
        build_scenario(
            &format!("importgate-test/entry-uv-run:{variant}"),
            &entry_base(),
            &entries,
            tail,
        )
    };
    let clean = build("clean", true);
    assert_ran(
        "uv run",
        &start_container(&clean.tag, 30, &[]),
        "started 1.17.0 1",
    );
    let report = assert_clean("uv run", &clean.tag);
    assert_eq!(
        report["python"]["executable"], "/app/.venv/bin/python",
        "{:#}",
        report["python"]
    );
    let broken = build("broken", false);
    assert_fails(
        "uv run",
        &start_container(&broken.tag, 30, &[]),
        "ModuleNotFoundError: No module named 'helpers'",
    );
    let (_, f) = one_error("uv run", &broken.tag);
    assert_code("uv run", &f, "module-not-found", "helpers");
    assert_eq!(f["file"], "/app/main.py", "{f:#}");
}

/// A program the image's Cmd runs before any Python (here the host's `jq`, dynamically linked
/// against libjq and libonig) dies in `ld.so` when the image lacks a library it needs: one
/// `exec-failed` error at the Cmd. With its libraries copied in, it runs and nothing is
/// reported.
#[test]
fn program_missing_a_shared_library() {
    if !require_docker() {
        return;
    }
    let jq = PathBuf::from("/usr/bin/jq");
    assert!(
        jq.exists(),
        "jq (Debian package jq) is needed for this test"
    );
    let bin = tempdir();
    fs::copy(&jq, bin.path().join("jq")).unwrap();
    let libs = tempdir();
    for lib in ["libjq.so.1", "libonig.so.5"] {
        let src = fs::canonicalize(PathBuf::from(MULTIARCH).join(lib)).unwrap();
        fs::copy(&src, libs.path().join(lib)).unwrap();
    }
    let tail = "CMD [\"jq\", \"-n\", \"1 + 1\"]";
    let build = |variant: &str, with_libs: bool| {
        let mut entries = vec![tree("/usr/local/bin", bin.path())];
        if with_libs {
            entries.push(tree(MULTIARCH, libs.path()));
        }
        build_scenario(
            &format!("importgate-test/entry-elf-needed:{variant}"),
            &entry_base(),
            &entries,
            tail,
        )
    };
    let label = "jq without libjq";
    let clean = build("clean", true);
    assert_ran(
        "jq with its libraries",
        &start_container(&clean.tag, 30, &[]),
        "2",
    );
    assert_clean("jq with its libraries", &clean.tag);
    let broken = build("broken", false);
    assert_fails(
        label,
        &start_container(&broken.tag, 30, &[]),
        "error while loading shared libraries: libjq.so.1",
    );
    let (_, f) = one_error(label, &broken.tag);
    assert_eq!(f["code"], "exec-failed", "{label}: {f:#}");
    assert_at_config(label, &f, &cmd_arg(1));
    assert!(
        f["message"]
            .as_str()
            .is_some_and(|m| m.contains("libjq.so.1")),
        "{label}: {f:#}"
    );
}

/// Names behind a module `__getattr__` that looks them up with `TABLE.get(name)` and tests the
/// result: starlette 0.41's `status` serves only its two deprecated WebSocket codes, and
/// pydantic-core's `core_schema` its four deprecated aliases. A name in neither the module
/// nor the table is an `ImportError`; every decided import is replayed in the image.
#[test]
fn names_served_through_a_table_lookup() {
    if !require_docker() {
        return;
    }
    let image = scenario(
        "getattr-get",
        "1",
        &[(
            "/app/main.py",
            "from starlette.status import HTTP_200_OK, WS_1004_NO_STATUS_RCVD\n\
             from starlette.status import WS_1099_NO_SUCH_CODE\n\
             from pydantic_core.core_schema import FieldValidationInfo\n\
             from pydantic_core.core_schema import NoSuchSchema\n",
        )],
        "CMD [\"python3\", \"/app/main.py\"]",
    );
    let (run, report) = check_json(&image.tag);
    let lines: BTreeSet<u64> = error_findings(&report)
        .iter()
        .filter_map(|f| f["line"].as_u64())
        .collect();
    assert!(
        run.code == 1 && lines == BTreeSet::from([2, 4]),
        "{:#}",
        report["findings"]
    );
    differential(&image.tag, &report);
}

/// An entrypoint that changes directory and environment before it starts the program, in two
/// forms: a script (`cd /app/src`, `export PYTHONPATH=/app/lib:$PYTHONPATH`, `exec python3 -m
/// server`) and coreutils' `env -C /app/src PYTHONPATH=/app/lib python3 -m server` in the exec
/// form. The module is found in the directory moved to (`-m` puts the working directory first),
/// its `helpers` in the exported PYTHONPATH. Each bad twin has `helpers.py` only in the image's
/// WORKDIR, where nothing looks. Judged against the container's own start.
#[test]
fn shell_entrypoint_cd_and_export() {
    if !require_docker() {
        return;
    }
    const START: &str = "#!/bin/sh\nset -e\ncd /app/src\nexport PYTHONPATH=/app/lib:$PYTHONPATH\nexec python3 -m server\n";
    const SERVER: &str = "import helpers\n\nprint(helpers.GREETING, flush=True)\n";
    const HELPERS: &str = "GREETING = 'started'\n";
    // Per form: its label, its own files, the Dockerfile's tail.
    type Form<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let forms: [Form<'_>; 2] = [
        (
            "cd-export",
            vec![("/app/start.sh", START)],
            "RUN chmod 755 /app/start.sh\nWORKDIR /app\nENTRYPOINT [\"/app/start.sh\"]",
        ),
        (
            "env-chdir",
            Vec::new(),
            "WORKDIR /app\nENTRYPOINT [\"env\", \"-C\", \"/app/src\", \"PYTHONPATH=/app/lib\", \"python3\", \"-m\", \"server\"]",
        ),
    ];
    for (label, extra, tail) in forms {
        let mut files = extra.clone();
        files.push(("/app/src/server.py", SERVER));
        let mut good_files = files.clone();
        good_files.push(("/app/lib/helpers.py", HELPERS));
        files.push(("/app/helpers.py", HELPERS));
        let good = scenario(label, "good", &good_files, tail);
        let bad = scenario(label, "bad", &files, tail);
        // The truth.
        let started = start_container(&good.tag, 20, &[]);
        assert!(
            started.exit == Some(0) && started.log.contains("started"),
            "{label} good image: exit {:?}\n{}",
            started.exit,
            started.log
        );
        let failed = start_container(&bad.tag, 20, &[]);
        assert!(
            failed.exit == Some(1) && failed.log.contains("No module named 'helpers'"),
            "{label} bad image: exit {:?}\n{}",
            failed.exit,
            failed.log
        );
        // The judgment.
        assert_clean(label, &good.tag);
        let (_, f) = one_error(&format!("{label} (helpers only in WORKDIR)"), &bad.tag);
        assert_eq!(f["module"], "helpers");
        assert_eq!(f["file"], "/app/src/server.py");
    }
}
