//! `action.yml` run as the GitHub runner runs a composite action: its steps in order, `${{ }}`
//! expressions substituted from the inputs, `github`, `runner` and earlier steps' outputs,
//! each `run:` under `bash --noprofile --norc -eo pipefail`, `$GITHUB_OUTPUT` and
//! `$GITHUB_PATH` honoured. `uses:` steps (the cache, the SARIF upload) cannot run here: their
//! `with:` is substituted and checked instead. Once from source (no release published), once
//! from a release archive, on the seed example in a temporary repository.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::ci::{hook_repo, sample_repo, tools, validate};
use crate::support::*;

/// action.yml as JSON (PyYAML from the CI tools venv).
fn action() -> Value {
    let json = run_ok(
        Command::new(tools().join("python"))
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(repo_root().join("action.yml")),
        "read action.yml",
    );
    serde_json::from_str(&json).expect("action.yml as JSON")
}

/// What the runner knows while it runs the action.
struct Runner {
    inputs: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Runner {
    /// The value of one expression (the forms action.yml uses).
    fn value(&self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix("inputs.") {
            return self.inputs.get(name).cloned().unwrap_or_default();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, name) = rest.split_once(".outputs.").expect("steps.ID.outputs.NAME");
            return self
                .outputs
                .get(id)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default();
        }
        self.context
            .get(expr)
            .cloned()
            .unwrap_or_else(|| panic!("action.yml uses `{expr}`, which this runner does not know"))
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closing }}") + start;
            out.push_str(&self.value(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// `if:` of the forms action.yml uses: `always()`, `A == 'x'`, `A != ''`, joined by `&&`.
    fn condition(&self, cond: &str) -> bool {
        cond.split("&&").all(|part| {
            let part = part.trim();
            if part == "always()" {
                return true;
            }
            let (lhs, rhs, eq) = match part.split_once("==") {
                Some((l, r)) => (l, r, true),
                None => {
                    let (l, r) = part.split_once("!=").expect("comparison");
                    (l, r, false)
                }
            };
            let rhs = rhs.trim().trim_matches('\'');
            (self.value(lhs) == rhs) == eq
        })
    }
}

/// What running the action did.
struct Ran {
    /// `(step id or name, exit code)` of the `run:` steps, in order.
    steps: Vec<(String, i32)>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// `uses:` steps whose `if:` held, with their `with:` substituted.
    uses: Vec<(String, BTreeMap<String, String>)>,
    log: String,
}

fn run_action(workspace: &Path, action_path: &Path, inputs: &[(&str, &str)]) -> Ran {
    let action = action();
    let temp = tempdir();
    let mut runner = Runner {
        inputs: action["inputs"]
            .as_object()
            .expect("inputs")
            .iter()
            .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_string()))
            .collect(),
        context: BTreeMap::from([
            ("github.action_path".into(), path_str(action_path).into()),
            ("github.action_ref".into(), "main".into()),
            ("runner.temp".into(), path_str(temp.path()).into()),
            ("runner.os".into(), "Linux".into()),
            ("runner.arch".into(), "X64".into()),
        ]),
        outputs: BTreeMap::new(),
    };
    for (k, v) in inputs {
        assert!(
            runner.inputs.contains_key(*k),
            "action.yml has no input `{k}`"
        );
        runner.inputs.insert((*k).into(), (*v).into());
    }
    let mut path = std::env::var("PATH").unwrap_or_default();
    let mut ran = Ran {
        steps: Vec::new(),
        outputs: BTreeMap::new(),
        uses: Vec::new(),
        log: String::new(),
    };
    for (n, step) in action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let name = step["id"]
            .as_str()
            .or(step["name"].as_str())
            .unwrap_or("step")
            .to_string();
        if let Some(cond) = step["if"].as_str()
            && !runner.condition(cond)
        {
            continue;
        }
        if let Some(uses) = step["uses"].as_str() {
            let with = step["with"]
                .as_object()
                .map(|w| {
                    w.iter()
                        .map(|(k, v)| (k.clone(), runner.substitute(v.as_str().unwrap_or(""))))
                        .collect()
                })
                .unwrap_or_default();
            ran.uses.push((uses.to_string(), with));
            continue;
        }
        assert_eq!(
            step["shell"], "bash",
            "{name}: a composite run step names its shell"
        );
        let script = temp.path().join(format!("step-{n}.sh"));
        fs::write(&script, step["run"].as_str().expect("run")).expect("write step");
        let output_file = temp.path().join(format!("output-{n}"));
        let path_file = temp.path().join(format!("path-{n}"));
        fs::write(&output_file, "").expect("GITHUB_OUTPUT");
        fs::write(&path_file, "").expect("GITHUB_PATH");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
            .env("IMPORTGATE_NO_RESULT_CACHE", "1")
            .current_dir(workspace)
            .env("PATH", &path)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_ACTION_PATH", action_path)
            .env("GITHUB_WORKSPACE", workspace)
            .env("RUNNER_TEMP", temp.path())
            .env("NO_COLOR", "1")
            // The source build reuses this test build's release artifacts.
            .env("CARGO_TARGET_DIR", crate::install::workspace_target());
        // Shell expansion is the script's business; `${{ }}` is the runner's, done here.
        let script_text = runner.substitute(step["run"].as_str().expect("run"));
        assert_eq!(
            script_text,
            step["run"].as_str().expect("run"),
            "{name}: `run:` must take inputs through `env:`, not `${{{{ }}}}` (script injection)"
        );
        if let Some(env) = step["env"].as_object() {
            for (k, v) in env {
                cmd.env(k, runner.substitute(v.as_str().unwrap_or("")));
            }
        }
        let out = output_of(&mut cmd, &name);
        let code = out.status.code().unwrap_or(-1);
        ran.log.push_str(&format!(
            "== {name} (exit {code})\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        let outputs: BTreeMap<String, String> = fs::read_to_string(&output_file)
            .expect("read GITHUB_OUTPUT")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(id) = step["id"].as_str() {
            runner.outputs.insert(id.to_string(), outputs.clone());
            ran.outputs.insert(id.to_string(), outputs);
        }
        for dir in fs::read_to_string(&path_file).expect("GITHUB_PATH").lines() {
            path = format!("{dir}:{path}");
        }
        ran.steps.push((name, code));
        if code != 0 {
            // A failed step fails the job; only `always()` steps still run.
            for later in action["runs"]["steps"].as_array().expect("steps")[n + 1..].iter() {
                if let (Some(uses), Some(cond)) = (later["uses"].as_str(), later["if"].as_str())
                    && cond.contains("always()")
                    && runner.condition(cond)
                {
                    let with = later["with"]
                        .as_object()
                        .map(|w| {
                            w.iter()
                                .map(|(k, v)| {
                                    (k.clone(), runner.substitute(v.as_str().unwrap_or("")))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    ran.uses.push((uses.to_string(), with));
                }
            }
            break;
        }
    }
    ran
}

fn sarif_results_at(sarif: &Path, uri: &str) -> bool {
    let schema = crate::ci::sarif_schema();
    let (valid, seen, stderr) = validate(&["sarif", path_str(sarif), path_str(&schema)]);
    assert!(valid, "SARIF invalid against the 2.1.0 schema:\n{stderr}");
    seen["results"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["uri"] == uri && r["level"] == "error"))
}

#[test]
fn action_from_source_gates_the_seed_and_uploads_sarif() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let (action_repo, _) = hook_repo();
    let workspace = sample_repo("seed-app");
    let no_releases = tempdir();
    let tag = "importgate-test/action-seed-app";
    let _image = tagged(tag);
    let release_url = format!("file://{}", no_releases.path().display());
    let ran = run_action(
        workspace.path(),
        action_repo.path(),
        &[
            ("context", "."),
            ("args", &format!("--tag {tag}")),
            ("upload-sarif", "true"),
            ("release-url", &release_url),
        ],
    );
    let log = &ran.log;
    assert!(log.contains("building"), "{log}");
    assert_eq!(
        ran.steps
            .iter()
            .map(|(n, c)| (n.as_str(), *c))
            .collect::<Vec<_>>(),
        [("locate", 0), ("install", 0), ("check", 1)],
        "{log}"
    );
    assert_eq!(ran.outputs["locate"]["from-source"], "true", "{log}");
    assert_eq!(ran.outputs["check"]["exit-code"], "1", "{log}");
    // The cache is keyed by the commit built; the upload runs although the gate failed.
    let uses: Vec<&str> = ran.uses.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        uses,
        ["actions/cache@v4", "github/codeql-action/upload-sarif@v3"],
        "{log}"
    );
    assert!(ran.uses[0].1["key"].starts_with("importgate-Linux-X64-"));
    let sarif = workspace.path().join(&ran.uses[1].1["sarif_file"]);
    assert!(sarif.is_file(), "no {}\n{log}", sarif.display());
    assert!(
        sarif_results_at(&sarif, "backend/services/case_service.py"),
        "no error at backend/services/case_service.py in the SARIF\n{log}"
    );
    // The human report is in the job log.
    assert!(log.contains("core.aws_service"), "{log}");
}

#[test]
fn action_installs_a_release_archive() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    // A release as the action downloads it: TAG/importgate-TAG-x86_64-unknown-linux-gnu.tar.gz.
    let releases = tempdir();
    let dir = releases.path().join("v9.9.9");
    fs::create_dir_all(&dir).expect("mkdir");
    let bin = Path::new(env!("CARGO_BIN_EXE_importgate"));
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(dir.join("importgate-v9.9.9-x86_64-unknown-linux-gnu.tar.gz"))
            .arg("-C")
            .arg(bin.parent().expect("bin dir"))
            .arg("importgate"),
        "tar the release",
    );
    let workspace = sample_repo("seed-app-fixed");
    let image = build_image("importgate-test/action-seed-app-fixed", workspace.path());
    let release_url = format!("file://{}", releases.path().display());
    // No repository at the action path: a release needs none.
    let empty = tempdir();
    let ran = run_action(
        workspace.path(),
        empty.path(),
        &[
            ("image", &image.tag),
            ("format", "json"),
            ("version", "v9.9.9"),
            ("release-url", &release_url),
        ],
    );
    let log = &ran.log;
    assert_eq!(
        ran.steps
            .iter()
            .map(|(n, c)| (n.as_str(), *c))
            .collect::<Vec<_>>(),
        [("locate", 0), ("install", 0), ("check", 0)],
        "{log}"
    );
    assert_eq!(ran.outputs["locate"]["from-source"], "false", "{log}");
    assert!(log.contains("importgate: release v9.9.9"), "{log}");
    assert_eq!(ran.outputs["check"]["exit-code"], "0", "{log}");
    assert!(ran.uses.is_empty(), "no cache, no upload: {:?}", ran.uses);
    assert!(log.contains("\"schema_version\""), "--format json: {log}");
}

#[test]
fn the_github_recipe_uses_only_declared_inputs() {
    let action = action();
    let recipe = crate::ci::recipe("github-actions");
    let file = tempdir();
    let path = file.path().join("workflow.yaml");
    fs::write(&path, &recipe).expect("write");
    let json = run_ok(
        Command::new(tools().join("python"))
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(&path),
        "read the recipe",
    );
    let workflow: Value = serde_json::from_str(&json).expect("recipe as JSON");
    let steps = workflow["jobs"]["image-imports"]["steps"]
        .as_array()
        .expect("steps");
    let ours: Vec<&Value> = steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("importgate/importgate@"))
        })
        .collect();
    assert_eq!(ours.len(), 1, "{recipe}");
    for key in ours[0]["with"].as_object().expect("with").keys() {
        assert!(
            action["inputs"].get(key).is_some(),
            "the recipe passes `{key}`, which action.yml does not declare"
        );
    }
}
