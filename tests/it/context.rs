//! Context-aware verdicts on real images: each import form is checked against what CPython does
//! when the file runs in the container (module-level forms), when the function runs (lazy and
//! dynamic imports), or when the container starts (the startup path and its chain), and a real
//! FastAPI service installed from PyPI is checked clean and with one dependency removed.

use std::fs;

use serde_json::Value;

use crate::support::*;

const SITE: &str = "/usr/local/lib/python3.12/site-packages";

/// Runs `python3 -c CODE` in the image (working directory `wd`) and returns the failure CPython
/// raised: `Some((exception type, ImportError.name))`, or `None` when the code ran cleanly.
fn cpython_raises(image: &str, wd: &str, code: &str) -> Option<(String, String)> {
    let wrapped = format!(
        "import sys\ntry:\n{}\nexcept BaseException as e:\n    print('RAISED', type(e).__name__, getattr(e, 'name', None))\n    sys.exit(0)\nprint('OK')\n",
        code.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = docker_run(
        image,
        &["-w", wd, "--entrypoint", "python3"],
        &["-c", &wrapped],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = stdout.lines().last().unwrap_or_default().to_string();
    if last == "OK" {
        return None;
    }
    let mut words = last.split_whitespace().skip(1);
    match (words.next(), words.next()) {
        (Some(t), Some(n)) => Some((t.to_string(), n.to_string())),
        _ => panic!(
            "probe in {image} printed {stdout:?}, stderr {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn findings(report: &Value) -> Vec<Value> {
    report["findings"].as_array().cloned().unwrap_or_default()
}

fn finding_for<'a>(fs: &'a [Value], module: &str) -> Vec<&'a Value> {
    fs.iter().filter(|f| f["module"] == module).collect()
}

fn import_status(report: &Value, module: &str) -> Vec<String> {
    report["imports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["module"] == module)
        .map(|i| i["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

const FORMS: &str = r#"import contextlib
import importlib
import importlib.util
import sys
from contextlib import suppress
from importlib.util import find_spec
from typing import TYPE_CHECKING

try:
    import missing_try
except ImportError:
    missing_try = None
try:
    import missing_tuple
except (ValueError, ModuleNotFoundError):
    pass
try:
    import missing_broad
except Exception:
    pass
try:
    import missing_bare
except:
    pass
with contextlib.suppress(ImportError):
    import missing_suppress
with suppress(ModuleNotFoundError):
    import missing_suppress2
if importlib.util.find_spec("missing_spec"):
    import missing_spec
if find_spec("missing_spec2") is None:
    missing_spec2 = None
else:
    import missing_spec2
if TYPE_CHECKING:
    import missing_typing
if False:
    import missing_false
if sys.version_info < (3, 8):
    import missing_old
if sys.platform == "win32":
    import msvcrt
if sys.version_info >= (3, 99):
    import missing_future


def refresh_cache():
    import missing_lazy
    return missing_lazy


class Store:
    def load(self):
        from missing_method import thing
        return thing


def load_plugin():
    return importlib.import_module("missing_plugin")


def load_relative():
    return importlib.import_module(".absent", package="plugins")


def load_json():
    return importlib.import_module("json")


def load_named(name):
    return importlib.import_module(name)


def quiet():
    import missing_quiet  # importgate: ignore[lazy-import-missing]
"#;

/// Every context form in one module, checked against CPython running it.
#[test]
fn context_forms_match_cpython() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let image = build_scenario(
        "importgate-test/context-forms:latest",
        &base,
        &[
            file("/app/main.py", "import forms\nprint('started')\n"),
            file("/app/forms.py", FORMS),
            file("/app/plugins/__init__.py", ""),
            file(
                "/app/live.py",
                "import sys\nif sys.version_info >= (3, 8):\n    import missing_live\n",
            ),
        ],
        "WORKDIR /app\nCMD [\"python\", \"main.py\"]",
    );
    let (run, report) = check_json(&image.tag);
    let fs = findings(&report);

    // The module imports cleanly in CPython: every module-level failure is guarded or dead.
    assert_eq!(cpython_raises(&image.tag, "/app", "import forms"), None);
    for m in [
        "missing_try",
        "missing_tuple",
        "missing_broad",
        "missing_bare",
        "missing_suppress",
        "missing_suppress2",
        "missing_spec",
        "missing_spec2",
    ] {
        let f = finding_for(&fs, m);
        assert_eq!(f.len(), 1, "{m}: {fs:#?}");
        assert_eq!(f[0]["code"], "guarded-import-missing", "{m}");
        assert_eq!(f[0]["severity"], "info", "{m}");
        assert_eq!(f[0]["kind"], "guarded", "{m}");
    }
    for m in [
        "missing_typing",
        "missing_false",
        "missing_old",
        "msvcrt",
        "missing_future",
    ] {
        assert!(finding_for(&fs, m).is_empty(), "{m} never runs: {fs:#?}");
        assert_eq!(import_status(&report, m), vec!["skipped"], "{m}");
    }

    // Lazy and dynamic imports: CPython raises when the function runs.
    for (m, call, code, kind, note) in [
        (
            "missing_lazy",
            "forms.refresh_cache()",
            "lazy-import-missing",
            "lazy",
            "fails when `refresh_cache()` runs",
        ),
        (
            "missing_method",
            "forms.Store().load()",
            "lazy-import-missing",
            "lazy",
            "fails when `load()` runs",
        ),
        (
            "missing_plugin",
            "forms.load_plugin()",
            "dynamic-import-missing",
            "dynamic",
            "fails when `load_plugin()` runs",
        ),
        (
            "plugins.absent",
            "forms.load_relative()",
            "dynamic-import-missing",
            "dynamic",
            "fails when `load_relative()` runs",
        ),
    ] {
        let truth = cpython_raises(&image.tag, "/app", &format!("import forms\n{call}"));
        assert_eq!(
            truth,
            Some(("ModuleNotFoundError".to_string(), m.to_string())),
            "{call}"
        );
        let f = finding_for(&fs, m);
        assert_eq!(f.len(), 1, "{m}: {fs:#?}");
        assert_eq!(f[0]["code"], code, "{m}");
        assert_eq!(f[0]["kind"], kind, "{m}");
        assert_eq!(f[0]["severity"], "warning", "{m}");
        assert!(
            f[0]["notes"].as_array().unwrap().iter().any(|n| n == note),
            "{m}: {:#}",
            f[0]
        );
    }
    assert_eq!(
        cpython_raises(&image.tag, "/app", "import forms\nforms.load_json()"),
        None
    );
    assert!(finding_for(&fs, "json").is_empty());
    let undecidable: Vec<&Value> = fs
        .iter()
        .filter(|f| f["code"] == "undecidable-import")
        .collect();
    assert_eq!(undecidable.len(), 1, "{fs:#?}");
    assert_eq!(undecidable[0]["severity"], "info");
    assert!(
        finding_for(&fs, "missing_quiet").is_empty(),
        "ignore comment"
    );

    // A live version branch runs: CPython fails, importgate reports an error (module-level:
    // live.py is not reached from main.py).
    assert_eq!(
        cpython_raises(&image.tag, "/app", "import live"),
        Some(("ModuleNotFoundError".into(), "missing_live".into()))
    );
    let f = finding_for(&fs, "missing_live");
    assert_eq!(f.len(), 1, "{fs:#?}");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["kind"], "module-level");
    assert_eq!(run.code, 1, "live.py fails when imported");

    // forms.py is on the startup path of `python main.py`; no finding in it is `startup`
    // because none of its failures runs at import time.
    assert!(
        fs.iter()
            .filter(|f| f["file"] == "/app/forms.py")
            .all(|f| f["kind"] != "startup"),
        "{fs:#?}"
    );
    // Dynamic imports are replayed above by calling their functions: the probe counts a
    // failure inside `importlib.import_module` as raised by imported code.
    let mut statics = report.clone();
    if let Some(imports) = statics["imports"].as_array_mut() {
        imports.retain(|i| {
            !i["statement"]
                .as_str()
                .is_some_and(|s| s.starts_with("import importlib;"))
        });
    }
    differential(&image.tag, &statics);

    // Policy: flags override defaults; `--severity lazy=error`, `--ignore`, `--select`,
    // `--ignore-module`.
    let r = importgate(&[
        "check",
        "--format",
        "json",
        "--severity",
        "lazy=error",
        "--ignore",
        "dynamic-import-missing",
        "--ignore-module",
        "missing_l*",
        &image.tag,
    ])
    .json();
    let fs = findings(&r);
    assert!(
        finding_for(&fs, "missing_lazy").is_empty(),
        "ignored by pattern"
    );
    assert!(
        finding_for(&fs, "missing_live").is_empty(),
        "ignored by pattern"
    );
    assert_eq!(finding_for(&fs, "missing_method")[0]["severity"], "error");
    assert!(finding_for(&fs, "missing_plugin").is_empty());
    let r = importgate(&[
        "check",
        "--format",
        "json",
        "--select",
        "guarded-import-missing",
        &image.tag,
    ]);
    assert_eq!(r.code, 0, "only info findings selected");
    assert!(
        findings(&r.json())
            .iter()
            .all(|f| f["code"] == "guarded-import-missing")
    );
}

/// `[tool.importgate]` in the application's pyproject.toml, found in the image's WorkingDir,
/// and `--config` on the command line replacing it.
#[test]
fn configuration_from_pyproject_in_the_image() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let image = build_scenario(
        "importgate-test/context-config:latest",
        &base,
        &[
            file(
                "/app/main.py",
                "def f():\n    import missing_lazy\n\nimport optional_thing\n",
            ),
            file(
                "/app/pyproject.toml",
                "[project]\nname = \"svc\"\n\n[tool.importgate]\nignore-modules = [\"optional_*\"]\n\n[tool.importgate.severity]\nlazy = \"error\"\n",
            ),
        ],
        "WORKDIR /app\nCMD [\"python\", \"main.py\"]",
    );
    let (run, report) = check_json(&image.tag);
    let fs = findings(&report);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0]["module"], "missing_lazy");
    assert_eq!(fs[0]["severity"], "error");
    assert_eq!(run.code, 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("importgate.toml");
    fs::write(&cfg, "[severity]\nlazy = \"off\"\n").unwrap();
    let run = importgate(&[
        "check",
        "--format",
        "json",
        "--config",
        cfg.to_str().unwrap(),
        &image.tag,
    ]);
    let fs = findings(&run.json());
    assert_eq!(fs.len(), 1, "the image's pyproject is replaced: {fs:#?}");
    assert_eq!(fs[0]["module"], "optional_thing");
    let bad = importgate(&["check", "--select", "no-such-code", &image.tag]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// The startup path from each entrypoint form: the failure deep in the application is marked
/// `startup` with its chain, and the container really fails to start with it.
#[test]
fn startup_chain_from_entrypoints() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let app = || {
        vec![
            file(
                "/app/main.py",
                "import services.case_service\nprint('started')\n",
            ),
            file("/app/app/__init__.py", ""),
            file("/app/app/__main__.py", "import services.case_service\n"),
            file("/app/services/__init__.py", ""),
            file(
                "/app/services/case_service.py",
                "import json\nfrom core.aws_service import upload_case\n",
            ),
            file("/app/core/storage.py", "X = 1\n"),
            file("/app/tools/report.py", "import missing_tool\n"),
            file(
                "/entrypoint.sh",
                "#!/bin/sh\nset -e\necho preparing\nexec python main.py \"$@\"\n",
            ),
        ]
    };
    for (label, cmd, first) in [
        ("script", r#"["python", "main.py"]"#, "main.py"),
        ("module", r#"["python", "-m", "app"]"#, "app"),
        ("entrypoint-sh", r#"["/entrypoint.sh"]"#, "main.py"),
        (
            "sh-c",
            r#"["sh", "-c", "cd /app && exec python main.py"]"#,
            "main.py",
        ),
    ] {
        let image = build_scenario(
            &format!("importgate-test/context-startup-{label}:latest"),
            &base,
            &app(),
            &format!("RUN chmod +x /entrypoint.sh\nWORKDIR /app\nCMD {cmd}"),
        );
        // The truth: the container does not start.
        let out = docker_run(&image.tag, &[], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && stderr.contains("ModuleNotFoundError: No module named 'core.aws_service'"),
            "{label}: {stderr}"
        );
        let (run, report) = check_json(&image.tag);
        assert_eq!(run.code, 1, "{label}");
        assert_eq!(report["startup"]["understood"], true, "{label}: {report:#}");
        let fs = findings(&report);
        let f = finding_for(&fs, "core.aws_service");
        assert_eq!(f.len(), 1, "{label}: {fs:#?}");
        assert_eq!(f[0]["kind"], "startup", "{label}");
        assert_eq!(f[0]["file"], "/app/services/case_service.py");
        let chain = chain_of(f[0]);
        assert_eq!(chain.first().copied(), Some(first), "{label}: {chain:?}");
        assert_eq!(chain.last().copied(), Some("core.aws_service"), "{label}");
        assert!(
            chain.contains(&"services.case_service"),
            "{label}: {chain:?}"
        );
        assert!(
            f[0]["notes"][0]
                .as_str()
                .unwrap()
                .starts_with("fails at startup: "),
            "{label}"
        );
        // Not reached from the entrypoint: module-level, no chain.
        let t = finding_for(&fs, "missing_tool");
        assert_eq!(t.len(), 1, "{label}");
        assert_eq!(t[0]["kind"], "module-level", "{label}");
        assert_eq!(t[0]["chain"].as_array().map(Vec::len), Some(0));
        differential(&image.tag, &report);
    }
}

/// The shared libraries pydantic-core needs beyond the minimal base (a slim image has them).
const HOST_LIBS: &[&str] = &[
    "libgcc_s.so.1",
    "librt.so.1",
    "libpthread.so.0",
    "libdl.so.2",
];

const FASTAPI_MAIN: &str = r#"from fastapi import FastAPI

from app.routers import items
from app.settings import Settings

settings = Settings()
app = FastAPI(title=settings.name)
app.include_router(items.router)


@app.get("/health")
def health() -> dict:
    return {"ok": True}
"#;

const FASTAPI_ITEMS: &str = r#"from typing import Optional

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

router = APIRouter(prefix="/items")


class Item(BaseModel):
    id: int
    name: str
    tag: Optional[str] = None


@router.get("/{item_id}")
def get_item(item_id: int) -> Item:
    if item_id < 0:
        raise HTTPException(status_code=404)
    return Item(id=item_id, name="x")
"#;

const UVICORN_SCRIPT: &str = "#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom uvicorn.main import main\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit(main())\n";

/// Where CPython's import of `app.main` fails: (ImportError.name, file, line) of the innermost
/// frame that is not the import machinery.
const WHERE_IT_FAILS: &str = "import traceback\ntry:\n    import app.main\nexcept ImportError as e:\n    tb = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith('<')]\n    print('FAIL', e.name, tb[-1].filename, tb[-1].lineno)\nelse:\n    print('OK')\n";

/// A real FastAPI service (FastAPI, Starlette, Pydantic, anyio, uvicorn from PyPI) started by
/// `uvicorn app.main:app --app-dir src`: zero findings when complete; with anyio removed from
/// site-packages, exactly one finding, at the import CPython fails on, with its chain.
#[test]
fn fastapi_service_clean_and_missing_dependency() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let site = pypi_site("fastapi-site-v1", &["fastapi==0.115.6", "uvicorn==0.32.1"]);
    let mut clean = ImageBuilder::new(&base);
    for lib in HOST_LIBS {
        clean = clean.host_lib(lib);
    }
    let clean = clean
        .tree("site", &site, SITE, &["bin"])
        .file("/srv/src/app/__init__.py", "")
        .file("/srv/src/app/main.py", FASTAPI_MAIN)
        .file(
            "/srv/src/app/settings.py",
            "from pydantic import BaseModel\n\n\nclass Settings(BaseModel):\n    name: str = \"svc\"\n",
        )
        .file("/srv/src/app/routers/__init__.py", "")
        .file("/srv/src/app/routers/items.py", FASTAPI_ITEMS)
        .file("/usr/local/bin/uvicorn", UVICORN_SCRIPT)
        .line("RUN chmod +x /usr/local/bin/uvicorn\nWORKDIR /srv\nCMD [\"uvicorn\", \"app.main:app\", \"--app-dir\", \"src\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]")
        .build("importgate-test/context-fastapi:clean");
    let broken = ImageBuilder::new(&clean.tag)
        .line(&format!("RUN rm -r {SITE}/anyio"))
        .build("importgate-test/context-fastapi:no-anyio");

    let probe = |tag: &str| {
        let out = docker_run(
            tag,
            &["-w", "/srv/src", "--entrypoint", "python3"],
            &["-c", WHERE_IT_FAILS],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    // Clean: CPython imports the app; importgate finds nothing.
    assert_eq!(probe(&clean.tag), "OK");
    let started = std::time::Instant::now();
    let (run, report) = check_json(&clean.tag);
    let elapsed = started.elapsed();
    assert_eq!(findings(&report), Vec::<Value>::new(), "{report:#}");
    assert_eq!(run.code, 0);
    let s = &report["startup"];
    assert_eq!(s["understood"], true);
    assert!(s["third_party_files"].as_u64().unwrap() > 50, "{s:#}");
    eprintln!(
        "fastapi service: files parsed {}, modules reached {}, third-party files {}, importgate run {:?} (debug build, image read from the daemon)",
        s["files_parsed"], s["modules_reached"], s["third_party_files"], elapsed
    );

    // anyio removed: exactly the finding CPython raises, where it raises it.
    let truth = probe(&broken.tag);
    let words: Vec<&str> = truth.split_whitespace().collect();
    assert_eq!(words.first().copied(), Some("FAIL"), "{truth}");
    assert_eq!(words.get(1).copied(), Some("anyio"), "{truth}");
    let (run, report) = check_json(&broken.tag);
    assert_eq!(run.code, 1);
    let fs = findings(&report);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let f = &fs[0];
    assert_eq!(f["code"], "module-not-found");
    assert_eq!(f["kind"], "startup");
    assert_eq!(f["module"], "anyio");
    // The frame CPython raises in is the related location; the finding itself is at the
    // application statement that raises because of it.
    let frame = &f["related"][0];
    assert_eq!(
        frame["file"].as_str(),
        words.get(2).copied(),
        "{truth}: {f:#}"
    );
    assert_eq!(
        frame["line"].to_string(),
        words.get(3).copied().unwrap_or_default(),
        "{truth}"
    );
    assert!(
        f["file"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/srv/src/app/"),
        "{f:#}"
    );
    let affected = f["affects"].as_array().unwrap();
    assert!(!affected.is_empty(), "{f:#}");
    for imp in imports_of(&report, "fastapi", None) {
        assert_eq!(imp["status"], "error", "{imp:#}");
        assert_eq!(imp["finding"], f["id"], "{imp:#}");
    }
    let chain = chain_of(f);
    assert_eq!(&chain[..3], ["app", "app.main", "fastapi"], "{chain:?}");
    assert_eq!(chain.last().copied(), Some("anyio"));
    assert!(
        chain.iter().any(|m| m.starts_with("starlette")),
        "{chain:?}"
    );
    eprintln!("fastapi without anyio: {}", f["notes"][0]);
}

const DJANGO_SETTINGS: &str = r#"SECRET_KEY = "x"
DEBUG = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "shop.apps.ShopConfig",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/db.sqlite3"}}
"#;

/// Django from PyPI started by `manage.py`: the settings module comes from `manage.py`, and the
/// dotted strings of `INSTALLED_APPS` are imports of the startup path. Clean: zero findings and
/// `manage.py check` passes; with an app that is not installed, the finding is on its line in
/// settings.py and the container fails with the same error.
#[test]
fn django_settings_on_the_startup_path() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let site = pypi_site("django-site-v1", &["django==5.1.4"]);
    let files: &[(&str, &str)] = &[
        (
            "manage.py",
            "import os\nimport sys\n\n\ndef main():\n    os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\n    from django.core.management import execute_from_command_line\n\n    execute_from_command_line(sys.argv)\n\n\nif __name__ == \"__main__\":\n    main()\n",
        ),
        ("mysite/__init__.py", ""),
        (
            "mysite/urls.py",
            "from django.urls import path\n\nfrom shop import views\n\nurlpatterns = [path(\"\", views.index)]\n",
        ),
        (
            "mysite/wsgi.py",
            "import os\n\nfrom django.core.wsgi import get_wsgi_application\n\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\napplication = get_wsgi_application()\n",
        ),
        ("shop/__init__.py", ""),
        (
            "shop/apps.py",
            "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = \"shop\"\n",
        ),
        (
            "shop/models.py",
            "from django.db import models\n\n\nclass Product(models.Model):\n    name = models.CharField(max_length=100)\n",
        ),
        (
            "shop/views.py",
            "from django.http import HttpResponse\n\n\ndef index(request):\n    return HttpResponse(\"ok\")\n",
        ),
    ];
    let mut app = ImageBuilder::new(&base).tree("site", &site, SITE, &["bin"]);
    for (path, text) in files {
        app = app.file(&format!("/srv/{path}"), text);
    }
    let mut app = app.line("WORKDIR /srv\nCMD [\"python\", \"manage.py\", \"check\"]");
    let mut results = Vec::new();
    for (label, settings) in [
        ("clean", DJANGO_SETTINGS.to_string()),
        (
            "missing-app",
            DJANGO_SETTINGS.replace(
                "    \"shop.apps.ShopConfig\",\n",
                "    \"shop.apps.ShopConfig\",\n    \"rest_framework\",\n",
            ),
        ),
    ] {
        app = app.file("/srv/mysite/settings.py", &settings);
        let image = app.build(&format!("importgate-test/context-django:{label}"));
        let out = docker_run(&image.tag, &[], &[]);
        let (run, report) = check_json(&image.tag);
        results.push((label, out, run, report, image));
    }
    let (_, out, run, report, _) = &results[0];
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(findings(report), Vec::<Value>::new(), "{report:#}");
    assert_eq!(run.code, 0);
    let s = &report["startup"];
    assert!(s["third_party_files"].as_u64().unwrap() > 100, "{s:#}");
    eprintln!(
        "django service: files parsed {}, modules reached {}, third-party files {}",
        s["files_parsed"], s["modules_reached"], s["third_party_files"]
    );

    let (_, out, run, report, _) = &results[1];
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("ModuleNotFoundError: No module named 'rest_framework'"),
        "{stderr}"
    );
    assert_eq!(run.code, 1);
    let fs = findings(report);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0]["module"], "rest_framework");
    assert_eq!(fs[0]["kind"], "startup");
    assert_eq!(fs[0]["file"], "/srv/mysite/settings.py");
    assert_eq!(fs[0]["line"], 8);
    let chain = chain_of(&fs[0]);
    assert_eq!(chain.first().copied(), Some("manage.py"));
    assert!(chain.contains(&"mysite.settings"), "{chain:?}");
}
