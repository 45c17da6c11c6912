//! Import cycles, judged against the real start: each layout is a small application whose
//! modules import each other, started in the image with its own command line. CPython's exit
//! status and the innermost frame of its traceback are the truth; importgate, checking the same
//! image with the layout's command and working directory, must report an error exactly when the
//! program fails, at that frame, and call a `partially initialized module` failure a
//! `circular-import`.

use std::collections::BTreeMap;

use importgate_check::{CheckOptions, Severity, check};
use serde_json::Value;

use crate::support::*;

/// One application: its files under `/c/<id>/`, and how it starts there.
struct Layout {
    id: &'static str,
    about: &'static str,
    files: &'static [(&'static str, &'static str)],
    argv: &'static [&'static str],
}

const SCRIPT: &[&str] = &["python3", "main.py"];

const LAYOUTS: &[Layout] = &[
    Layout {
        id: "flask_late_app",
        about: "the package imports its routes before it binds `app`, which the routes import",
        files: &[
            ("main.py", "from web import app\n"),
            (
                "framework.py",
                "class Flask:\n    def __init__(self, name):\n        self.name = name\n",
            ),
            (
                "web/__init__.py",
                "from framework import Flask\nfrom web import routes\napp = Flask(__name__)\n",
            ),
            (
                "web/routes.py",
                "from web import app\n\ndef index():\n    return app.name\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "flask_app_first",
        about: "the same with `app` bound before the routes are imported",
        files: &[
            ("main.py", "from web import app\n"),
            (
                "framework.py",
                "class Flask:\n    def __init__(self, name):\n        self.name = name\n",
            ),
            (
                "web/__init__.py",
                "from framework import Flask\napp = Flask(__name__)\nfrom web import routes\n",
            ),
            ("web/routes.py", "from web import app\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "two_modules",
        about: "a and b import a name from each other, entered from a",
        files: &[
            ("main.py", "import a\n"),
            ("a.py", "from b import f\n\ndef g():\n    return f\n"),
            ("b.py", "from a import g\n\ndef f():\n    return g\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "two_modules_from_b",
        about: "the same cycle entered from b",
        files: &[
            ("main.py", "import b\n"),
            ("a.py", "from b import f\n\ndef g():\n    return f\n"),
            ("b.py", "from a import g\n\ndef f():\n    return g\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "plain_imports",
        about: "plain imports of each other are content with a partial module",
        files: &[
            ("main.py", "import a\nprint(a.b.f())\n"),
            ("a.py", "import b\n\ndef g():\n    return 1\n"),
            ("b.py", "import a\n\ndef f():\n    return a.g()\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "relative_db",
        about: "a submodule asks its package for a name bound after the package imports it",
        files: &[
            ("main.py", "import store\n"),
            (
                "store/__init__.py",
                "from .models import User\ndb = object()\n",
            ),
            (
                "store/models.py",
                "from . import db\n\nclass User:\n    pass\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "relative_db_first",
        about: "the same with the name bound first",
        files: &[
            ("main.py", "import store\n"),
            (
                "store/__init__.py",
                "db = object()\nfrom .models import User\n",
            ),
            (
                "store/models.py",
                "from . import db\n\nclass User:\n    pass\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "submodule_cycle",
        about: "submodules importing each other with `from . import` come from sys.modules",
        files: &[
            ("main.py", "import pkg\n"),
            ("pkg/__init__.py", "from . import a\n"),
            ("pkg/a.py", "from . import b\n"),
            ("pkg/b.py", "from . import a\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "script_runs_twice",
        about: "a module imports the script by name: it runs again and meets the partial module",
        files: &[
            ("main.py", "db = 1\nfrom models import helper\n"),
            (
                "models.py",
                "from main import db\n\ndef helper():\n    return db\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "script_runs_twice_fine",
        about: "the script imported by name again, asked for nothing it lacks",
        files: &[
            ("main.py", "db = 1\nimport models\n"),
            ("models.py", "from main import db\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "guarded",
        about: "the failing import is caught",
        files: &[
            ("main.py", "import a\n"),
            ("a.py", "from b import f\n\ndef g():\n    return f\n"),
            (
                "b.py",
                "try:\n    from a import g\nexcept ImportError:\n    g = None\n\ndef f():\n    return g\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "class_binds_at_end",
        about: "a class binds its name only once its body has run",
        files: &[
            ("main.py", "import a\n"),
            ("a.py", "class G:\n    import b\n"),
            ("b.py", "from a import G\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "factory_call",
        about: "an import in the function the package calls runs at the call, before `name`",
        files: &[
            ("main.py", "import web\n"),
            (
                "web/__init__.py",
                "def create():\n    from web import views\n    return 1\n\ninst = create()\nname = 1\n",
            ),
            ("web/views.py", "from web import name\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "factory_call_fine",
        about: "the same with `name` bound before the call",
        files: &[
            ("main.py", "import web\n"),
            (
                "web/__init__.py",
                "def create():\n    from web import views\n    return 1\n\nname = 1\ninst = create()\n",
            ),
            ("web/views.py", "from web import name\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "three_modules",
        about: "a → b → c → a",
        files: &[
            ("main.py", "import a\n"),
            ("a.py", "from b import x\ny = 1\n"),
            ("b.py", "from c import z\nx = 1\n"),
            ("c.py", "from a import y\nz = 1\n"),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "reexports_in_order",
        about: "a package re-exports services; one needs another the package has not bound yet",
        files: &[
            ("main.py", "from services import OrderService\n"),
            (
                "services/__init__.py",
                "from .orders import OrderService\nfrom .users import UserService\n",
            ),
            ("services/users.py", "class UserService:\n    pass\n"),
            (
                "services/orders.py",
                "from services import UserService\n\nclass OrderService:\n    users = UserService\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "reexports_fixed",
        about: "the same with the needed service re-exported first",
        files: &[
            ("main.py", "from services import OrderService\n"),
            (
                "services/__init__.py",
                "from .users import UserService\nfrom .orders import OrderService\n",
            ),
            ("services/users.py", "class UserService:\n    pass\n"),
            (
                "services/orders.py",
                "from services import UserService\n\nclass OrderService:\n    users = UserService\n",
            ),
        ],
        argv: SCRIPT,
    },
    Layout {
        id: "dash_m",
        about: "`python -m app`: the package runs first, its cli asks it for `create`",
        files: &[
            (
                "app/__init__.py",
                "from app.cli import run\n\ndef create():\n    return run\n",
            ),
            (
                "app/cli.py",
                "from app import create\n\ndef run():\n    return create\n",
            ),
            ("app/__main__.py", "from app import create\ncreate()\n"),
        ],
        argv: &["python3", "-m", "app"],
    },
    Layout {
        id: "lazy_in_function",
        about: "the import that would meet the partial module is deferred into a function",
        files: &[
            ("main.py", "import web\nweb.routes.index()\n"),
            ("web/__init__.py", "from web import routes\napp = 1\n"),
            (
                "web/routes.py",
                "def index():\n    from web import app\n    return app\n",
            ),
        ],
        argv: SCRIPT,
    },
];

/// Runs every layout's command in its directory and reports the exit status, the innermost
/// frame of the traceback in a real file, and the last line of stderr.
const DRIVER: &str = r#"
import json, re, subprocess, sys
out = {}
for l in json.load(sys.stdin)["layouts"]:
    p = subprocess.run(l["argv"], cwd=l["cwd"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    frames = [(f, int(n)) for f, n in re.findall(r'^  File "([^"]+)", line (\d+)', err, re.M)
              if not f.startswith("<")]
    lines = [x for x in err.splitlines() if x.strip()]
    out[l["id"]] = {"exit": p.returncode, "frame": frames[-1] if frames else None,
                    "last": lines[-1] if lines else ""}
sys.stdout.write(json.dumps(out))
"#;

fn run_cycles(layout: &str, version: &str) {
    if !require_docker() {
        return;
    }
    let base = ensure_base(layout, version);
    let mut entries = Vec::new();
    for l in LAYOUTS {
        for (path, text) in l.files {
            entries.push(file(format!("/c/{}/{path}", l.id), *text));
        }
    }
    let tag = format!("importgate-test/cycles-{layout}-{version}");
    let image = build_scenario(&tag, &base, &entries, "WORKDIR /\n");

    let input = serde_json::json!({
        "layouts": LAYOUTS.iter().map(|l| serde_json::json!({
            "id": l.id, "argv": l.argv, "cwd": format!("/c/{}", l.id),
        })).collect::<Vec<_>>(),
    });
    let out = docker_run_stdin(
        &image.tag,
        &["--entrypoint", "python3"],
        &["-c", DRIVER],
        input.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).expect("driver JSON");

    let mut loaded = load_image(&image.tag);
    let base_config = loaded.config.clone();
    let mut problems = Vec::new();
    let mut failing = 0;
    for l in LAYOUTS {
        let mut cfg = base_config.clone();
        cfg.entrypoint = None;
        cfg.cmd = Some(l.argv.iter().map(|s| s.to_string()).collect());
        cfg.working_dir = format!("/c/{}", l.id);
        loaded.config = cfg;
        let report = check(&loaded, &CheckOptions::default()).expect("check");
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        let t = &truth[l.id];
        let shown = || {
            format!(
                "[{layout} {version}] {} ({}): CPython exit {}, {} at {}; importgate: {:?}",
                l.id,
                l.about,
                t["exit"],
                t["last"],
                t["frame"],
                errors
                    .iter()
                    .map(|f| format!("{} {}:{} {}", f.code.as_str(), f.file, f.line, f.message))
                    .collect::<Vec<_>>()
            )
        };
        if t["exit"] == 0 {
            if !errors.is_empty() {
                problems.push(shown());
            }
            continue;
        }
        failing += 1;
        let frame = (
            t["frame"][0].as_str().unwrap_or_default(),
            t["frame"][1].as_u64().unwrap_or_default(),
        );
        let last = t["last"].as_str().unwrap_or_default();
        // `python -m` reports an error met while importing the package without a traceback:
        // its message then tells the place.
        let at_frame = errors.iter().find(|f| {
            (f.file.as_str(), u64::from(f.line)) == frame
                || (t["frame"].is_null() && last.contains(&f.message))
        });
        let circular = last.contains("partially initialized module");
        match at_frame {
            Some(f) if !circular || f.code.as_str() == "circular-import" => {}
            _ => problems.push(shown()),
        }
    }
    assert!(
        failing >= 8,
        "only {failing} layouts fail in CPython: the cases are not what they claim"
    );
    assert!(
        problems.is_empty(),
        "{} of {} layouts disagree:\n{}",
        problems.len(),
        LAYOUTS.len(),
        problems.join("\n")
    );
}

#[test]
fn cycles_py38() {
    run_cycles("slim", "3.8");
}

#[test]
fn cycles_py312() {
    run_cycles("slim", "3.12");
}

#[test]
fn cycles_py313() {
    run_cycles("slim", "3.13");
}

#[test]
fn cycles_debian311() {
    run_cycles("debian", "3.11");
}
