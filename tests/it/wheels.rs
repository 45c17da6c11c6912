//! Real wheels from PyPI, judged against CPython in the image: distributions whose import-time
//! code has the shapes that decide real deployments — PyJWT guarding its cryptography imports
//! with `except ModuleNotFoundError` (a missing `libgcc_s` raises through it), multidict and
//! wcwidth choosing their C extension through a flag a guarded import set, fontTools writing
//! its table classes through a `globals()` alias, aiohttp and its extension-or-fallback
//! dependencies. Installed by pip into the 3.12 stand-in (which, like the official slim image's
//! builder stage misused, lacks `libgcc_s.so.1`), with `/app/main.py` importing every
//! top-level module of those distributions and each module one level below.
//!
//! The truth: one fresh CPython per top-level package imports its modules in order and says
//! which raise. importgate's verdict for each statement (`imports[]` of the JSON report) must
//! be the same: an import CPython runs is not an error, an import that raises is one.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::*;

/// What the image installs (pinned; dependencies as pip resolves them).
const REQS: &[&str] = &[
    "pyjwt[crypto]==2.15.1",
    "multidict==7.2.1",
    "wcwidth==0.9.5",
    "fonttools==4.69.1",
    "aiohttp==3.14.5",
];

/// The top-level packages whose modules are checked.
const TOPS: &[&str] = &[
    "jwt",
    "cryptography",
    "multidict",
    "wcwidth",
    "fontTools",
    "aiohttp",
    "yarl",
    "propcache",
    "frozenlist",
    "aiosignal",
];

/// Runs inside the image: for each group (a top-level package and its modules), one fresh
/// interpreter imports them in order, each statement's outcome recorded.
const TRUTH: &str = r#"
import json, subprocess, sys
child = r'''
import sys, json, io, contextlib, os
res = {}
for m in sys.argv[1:]:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            __import__(m)
        res[m] = "OK"
    except BaseException as e:
        res[m] = "FAIL: %s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
sys.__stdout__.write("@@RES@@" + json.dumps(res) + "\n")
sys.__stdout__.flush()
os._exit(0)
'''
out = {}
for group in json.load(sys.stdin):
    p = subprocess.run([sys.executable, "-c", child] + group, capture_output=True, text=True,
                       timeout=300, cwd="/")
    lines = [l for l in p.stdout.splitlines() if l.startswith("@@RES@@")]
    if lines:
        out.update(json.loads(lines[-1][7:]))
    for m in group:
        out.setdefault(m, "FAIL: crashed (exit %d)" % p.returncode)
print(json.dumps(out))
"#;

/// The modules of `top` in the installed tree: the package, and each module or subpackage
/// directly in it (tests, `__main__` and private helpers of the build left out).
fn modules_of(site: &Path, top: &str) -> Vec<String> {
    let dir = site.join(top);
    let mut out = vec![top.to_string()];
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                path.join("__init__.py").exists().then_some(name)
            } else if let Some(stem) = name.strip_suffix(".py") {
                Some(stem.to_string())
            } else if name.ends_with(".so") {
                name.split('.').next().map(str::to_string)
            } else {
                None
            }
        })
        .filter(|n| {
            !matches!(n.as_str(), "__init__" | "__main__" | "conftest")
                && !n.starts_with("test")
                && !n.contains('-')
        })
        .collect();
    names.sort();
    names.dedup();
    out.extend(names.into_iter().map(|n| format!("{top}.{n}")));
    out
}

#[test]
fn real_wheels_py312() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let site = pypi_site("wheels-diff-v1", REQS);
    let groups: Vec<Vec<String>> = TOPS.iter().map(|t| modules_of(&site, t)).collect();
    assert!(
        groups.iter().all(|g| g.len() > 1 || g[0] == "aiosignal"),
        "a distribution did not install: {groups:?}"
    );
    let main: String = groups
        .iter()
        .flatten()
        .map(|m| format!("import {m}\n"))
        .collect();
    let image = build_scenario(
        "importgate-test/wheels-py312",
        &base,
        &[
            tree("/usr/local/lib/python3.12/site-packages", &site),
            file("/app/main.py", main),
            file("/w/truth.py", TRUTH),
        ],
        "WORKDIR /app\nCMD [\"python3\", \"/app/main.py\"]\n",
    );
    let out = docker_run_stdin(
        &image.tag,
        &["--entrypoint", "python3"],
        &["/w/truth.py"],
        serde_json::to_string(&groups).expect("groups").as_bytes(),
    );
    assert!(
        out.status.success(),
        "truth driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).expect("truth JSON");

    let (run, report) = check_json(&image.tag);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let mut verdict: BTreeMap<String, (String, String)> = BTreeMap::new();
    for imp in report["imports"].as_array().into_iter().flatten() {
        if imp["file"] != "/app/main.py" {
            continue;
        }
        let Some(module) = imp["statement"]
            .as_str()
            .and_then(|s| s.strip_prefix("import "))
        else {
            continue;
        };
        let finding = imp["finding"].as_str().and_then(|id| {
            report["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["id"] == id)
        });
        let why = finding
            .map(|f| format!("{}: {}", f["code"], f["message"]))
            .unwrap_or_default();
        verdict.insert(
            module.to_string(),
            (imp["status"].as_str().unwrap_or_default().to_string(), why),
        );
    }
    let (mut agree_ok, mut agree_fail, mut problems) = (0, 0, Vec::new());
    for (module, outcome) in &truth {
        let Some((status, why)) = verdict.get(module) else {
            problems.push(format!("{module}: not in importgate's report"));
            continue;
        };
        let cpython_fails = outcome != "OK";
        let importgate_fails = status == "error";
        match (cpython_fails, importgate_fails) {
            (false, false) => agree_ok += 1,
            (true, true) => agree_fail += 1,
            (true, false) => problems.push(format!(
                "{module}: CPython {outcome}; importgate says it imports ({status})"
            )),
            (false, true) => {
                problems.push(format!("{module}: CPython imports it; importgate: {why}"))
            }
        }
    }
    eprintln!(
        "real wheels on 3.12: {} statements, {agree_ok} import on both sides, {agree_fail} raise on both, {} disagreements",
        truth.len(),
        problems.len()
    );
    // The image lacks libgcc_s: cryptography's Rust extension cannot load, so PyJWT (which
    // catches only ModuleNotFoundError around it) must fail on both sides.
    assert!(
        truth.get("jwt").is_some_and(|t| t.contains("libgcc_s")),
        "{:?}",
        truth.get("jwt")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
