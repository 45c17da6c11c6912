//! The pre-build mode on `RUN` steps, against real builds: a corpus of small contexts generated
//! from a table of scenarios (links, directories, copies, moves, removals, modes and owners,
//! `.pth` and module files written by `echo`/`printf`, `cd`, `ARG`/`ENV` variables, zip and tar
//! archives, a venv, and steps that are not modelled: scripts, `python -c`, an installer
//! reading a lock file, Debian's `apt-get install python3-*`, loops, conditionals, `||`,
//! command substitution). Each is predicted (`check --context DIR --no-build`) and built by the
//! engine, then checked. The prediction never reports an error the built image does not have,
//! and every error of the built image is predicted as an error or as an uncertain warning.
//! Scenarios marked exact must agree error for error with nothing uncertain; the others must
//! say uncertain.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::support::*;

/// What the prediction of a scenario must say.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Every `RUN` is modelled: the errors equal the build's, none is uncertain.
    Exact,
    /// Some `RUN` is not modelled and an import depends on it: at least one finding uncertain.
    Uncertain,
}

struct Scenario {
    name: &'static str,
    /// `slim` 3.12 (the default) or Debian's python3.11 (`debian`).
    base: &'static str,
    /// Context files: `src/` is copied to `/app/`, `lib/` to `/opt/lib/`.
    files: &'static [(&'static str, &'static str)],
    /// Dockerfile lines after the copies (and before `CMD ["python3", "main.py"]`).
    body: &'static str,
    /// Host programs the steps need, copied to /usr/local/bin (the test bases carry only a
    /// few coreutils); `poetry` and `apt-get` are stand-in scripts.
    tools: &'static [&'static str],
    /// The built image's error modules: the scenario does what it says.
    built_errors: &'static [&'static str],
    expect: Expect,
}

const fn s(
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    body: &'static str,
    built_errors: &'static [&'static str],
    expect: Expect,
) -> Scenario {
    Scenario {
        name,
        base: "slim",
        files,
        body,
        tools: &[],
        built_errors,
        expect,
    }
}

const SITE: &str = "/usr/local/lib/python3.12/site-packages";

const HELPER: &[(&str, &str)] = &[
    ("src/main.py", "import helper\n"),
    ("lib/helper_impl.py", "VALUE = 1\n"),
    ("lib/pkg/__init__.py", ""),
    ("lib/pkg/mod.py", ""),
];

const PKG: &[(&str, &str)] = &[
    ("src/main.py", "import pkg.mod\n"),
    ("lib/pkg/__init__.py", ""),
    ("lib/pkg/mod.py", ""),
];

const FROM_LIB: &[(&str, &str)] = &[
    ("src/main.py", "import helper_impl\n"),
    ("lib/helper_impl.py", ""),
];

const LOCAL: &[(&str, &str)] = &[
    ("src/main.py", "import helper\nimport pkg.mod\n"),
    ("src/helper.py", ""),
    ("src/pkg/__init__.py", "NAME = 1\n"),
    ("src/pkg/mod.py", ""),
    ("src/gen_a.py", ""),
];

fn scenarios() -> Vec<Scenario> {
    use Expect::*;
    let mut v = vec![
        s(
            "ln-s-file",
            HELPER,
            "RUN ln -s /opt/lib/helper_impl.py /app/helper.py",
            &[],
            Exact,
        ),
        s(
            "ln-s-dangling",
            HELPER,
            "RUN ln -s /opt/nowhere.py /app/helper.py",
            &["helper"],
            Exact,
        ),
        s(
            "ln-sf-relative",
            &[
                ("src/main.py", "from helper import VALUE\n"),
                ("src/helper.py", ""),
                ("lib/helper_impl.py", "VALUE = 1\n"),
            ],
            "RUN ln -sf /opt/lib/helper_impl.py helper.py",
            &[],
            Exact,
        ),
        s(
            "ln-s-into-dir",
            PKG,
            "RUN ln -s /opt/lib/pkg /app/",
            &[],
            Exact,
        ),
        s(
            "mkdir-touch-namespace",
            &[("src/main.py", "import ns.sub.mod\n")],
            "RUN mkdir -p /app/ns/sub && touch /app/ns/sub/mod.py",
            &[],
            Exact,
        ),
        s(
            "mkdir-shadows-namespace",
            &[
                ("src/main.py", "import core.aws\n"),
                ("src/core/aws.py", ""),
            ],
            "RUN mkdir -p /usr/local/lib/python3.12/site-packages/core && touch /usr/local/lib/python3.12/site-packages/core/__init__.py",
            &["core.aws"],
            Exact,
        ),
        s(
            "cp-r-package",
            &[
                ("src/main.py", "import pkg2.mod\n"),
                ("lib/pkg/__init__.py", ""),
                ("lib/pkg/mod.py", ""),
            ],
            "RUN cp -r /opt/lib/pkg /app/pkg2",
            &[],
            Exact,
        ),
        s(
            "cp-file-into-dir",
            &[
                ("src/main.py", "import helper_impl\n"),
                ("lib/helper_impl.py", ""),
            ],
            "RUN mkdir -p /srv/code && cp /opt/lib/helper_impl.py /srv/code/ && cp /srv/code/helper_impl.py /app/",
            &[],
            Exact,
        ),
        s(
            "cp-a-glob",
            &[
                ("src/main.py", "import a_mod\nimport b_mod\nimport c_mod\n"),
                ("lib/a_mod.py", ""),
                ("lib/b_mod.py", ""),
                ("lib/c_mod.txt", ""),
            ],
            "RUN cp -a /opt/lib/*.py /app/",
            &["c_mod"],
            Exact,
        ),
        s(
            "cp-a-dir-contents",
            &[
                (
                    "src/main.py",
                    "import pkg.mod\nimport vendor.pkg.mod\nimport vendor.mod\n",
                ),
                ("lib/pkg/__init__.py", ""),
                ("lib/pkg/mod.py", ""),
            ],
            "RUN mkdir -p /app/x && cp -a /opt/lib/. /app/ && cp -r /opt/lib/. /app/vendor",
            &["vendor.mod"],
            Exact,
        ),
        s(
            "mv-into-place",
            HELPER,
            "RUN mv /opt/lib/helper_impl.py /app/helper.py",
            &[],
            Exact,
        ),
        s(
            "mv-away",
            LOCAL,
            "RUN mv helper.py helper_old.py",
            &["helper"],
            Exact,
        ),
        s(
            "rm-f-module",
            LOCAL,
            "RUN rm -f /app/helper.py /app/missing.py",
            &["helper"],
            Exact,
        ),
        s(
            "rm-rf-package",
            LOCAL,
            "RUN rm -rf /app/pkg",
            &["pkg"],
            Exact,
        ),
        s(
            "rm-init-leaves-namespace",
            &[
                ("src/main.py", "import pkg.mod\nfrom pkg import NAME\n"),
                ("src/pkg/__init__.py", "NAME = 1\n"),
                ("src/pkg/mod.py", ""),
            ],
            "RUN rm /app/pkg/__init__.py",
            &["pkg"],
            Exact,
        ),
        s(
            "rm-glob",
            &[
                ("src/main.py", "import gen_a\nimport keep\n"),
                ("src/gen_a.py", ""),
                ("src/gen_b.py", ""),
                ("src/keep.py", ""),
            ],
            "RUN rm gen_*.py",
            &["gen_a"],
            Exact,
        ),
        s(
            "echo-pth",
            FROM_LIB,
            "RUN echo /opt/lib > /usr/local/lib/python3.12/site-packages/extra.pth",
            &[],
            Exact,
        ),
        s(
            "printf-pth-append",
            FROM_LIB,
            "RUN printf '%s\\n' /opt/elsewhere > /usr/local/lib/python3.12/site-packages/extra.pth && printf '%s\\n' /opt/lib >> /usr/local/lib/python3.12/site-packages/extra.pth",
            &[],
            Exact,
        ),
        s(
            "echo-pth-wrong-dir",
            FROM_LIB,
            "RUN echo /opt/nolib > /usr/local/lib/python3.12/site-packages/extra.pth",
            &["helper_impl"],
            Exact,
        ),
        s(
            "echo-module-contents",
            &[(
                "src/main.py",
                "from settings import VALUE\nfrom settings import OTHER\n",
            )],
            "RUN echo 'VALUE = 1' > /app/settings.py",
            &["settings"],
            Exact,
        ),
        s(
            "cd-then-relative",
            HELPER,
            "RUN cd /opt/lib && cp helper_impl.py /app/helper.py && cd pkg && touch extra.py",
            &[],
            Exact,
        ),
        s(
            "arg-and-env-expand",
            HELPER,
            "ARG DEST=/app\nENV LIBDIR=/opt/lib\nRUN ln -s $LIBDIR/helper_impl.py ${DEST}/helper.py",
            &[],
            Exact,
        ),
        s(
            "chmod-modes",
            LOCAL,
            "RUN chmod -R 755 /app && chmod u+x,go-w /app/main.py && chmod 0644 /app/helper.py",
            &[],
            Exact,
        ),
        s(
            "cat-into-module",
            &[
                ("src/main.py", "from joined import A, B\n"),
                ("lib/a.py", "A = 1\n"),
                ("lib/b.py", "B = 2\n"),
            ],
            "RUN cat /opt/lib/a.py /opt/lib/b.py > /app/joined.py",
            &[],
            Exact,
        ),
        s(
            "venv-with-linked-module",
            HELPER,
            "RUN python3 -m venv --without-pip /opt/venv && ln -s /opt/lib/helper_impl.py /opt/venv/lib/python3.12/site-packages/helper.py\nENV PATH=/opt/venv/bin:$PATH",
            &[],
            Exact,
        ),
        s(
            "unmodelled-elsewhere-still-fails",
            &[
                ("src/main.py", "import never_copied\n"),
                ("lib/gen.sh", "echo hi > /tmp/out.txt\n"),
            ],
            "WORKDIR /tmp\nRUN sh /opt/lib/gen.sh\nWORKDIR /app",
            &["never_copied"],
            Exact,
        ),
        s(
            "unmodelled-elsewhere-shadow-stays",
            &[
                ("src/main.py", "import core.aws\n"),
                ("src/core/aws.py", ""),
                ("lib/gen.sh", "echo hi > /tmp/out.txt\n"),
            ],
            "COPY lib/core/ /usr/local/lib/python3.12/site-packages/core/\nRUN cd /tmp && sh /opt/lib/gen.sh",
            &["core.aws"],
            Exact,
        ),
        s(
            "script-generates-module",
            &[
                ("src/main.py", "import generated\n"),
                ("src/gen.sh", "echo 'X = 1' > generated.py\n"),
            ],
            "RUN sh gen.sh",
            &[],
            Uncertain,
        ),
        s(
            "builder-script-output-copied",
            &[
                ("src/main.py", "import generated\n"),
                (
                    "src/gen.sh",
                    "mkdir -p out && echo 'X = 1' > out/generated.py\n",
                ),
            ],
            "RUN sh gen.sh\nFROM importgate-test/python:3.12-slim\nWORKDIR /app\nCOPY --from=0 /app/main.py /app/out/ /app/",
            &[],
            Uncertain,
        ),
        s(
            "python-writes-site-packages",
            &[("src/main.py", "import made_by_python\n")],
            "RUN python3 -c \"open('/usr/local/lib/python3.12/site-packages/made_by_python.py', 'w').close()\"",
            &[],
            Uncertain,
        ),
        s(
            "loop-copies",
            &[
                ("src/main.py", "import a\nimport b\n"),
                ("lib/a.py", ""),
                ("lib/b.py", ""),
            ],
            "RUN for f in a b; do cp /opt/lib/$f.py /app/; done",
            &[],
            Uncertain,
        ),
        s(
            "conditional-link",
            HELPER,
            "RUN if [ -d /opt/lib ]; then ln -s /opt/lib/helper_impl.py /app/helper.py; fi",
            &[],
            Uncertain,
        ),
        s(
            "or-fallback",
            HELPER,
            "RUN cp /opt/missing.py /app/helper.py 2>/dev/null || cp /opt/lib/helper_impl.py /app/helper.py",
            &[],
            Uncertain,
        ),
        s(
            "command-substitution",
            HELPER,
            "RUN ln -s $(ls /opt/lib/helper_impl.py) /app/helper.py",
            &[],
            Uncertain,
        ),
        s(
            "unknown-variable",
            HELPER,
            "RUN ln -s /opt/lib/helper_impl.py $UNSET_DIR/app/helper.py",
            &[],
            Uncertain,
        ),
    ];
    v.push(Scenario {
        tools: &["tar", "gzip"],
        ..s(
            "tar-xzf",
            &[("src/main.py", "import vendored.mod\nimport absent\n")],
            "COPY vendor.tgz /tmp/\nRUN mkdir -p /opt/vendor && tar -xzf /tmp/vendor.tgz -C /opt/vendor && rm /tmp/vendor.tgz && echo /opt/vendor > /usr/local/lib/python3.12/site-packages/vendor.pth",
            &["absent"],
            Exact,
        )
    });
    v.push(Scenario {
        tools: &["unzip"],
        ..s(
            "unzip-d",
            &[("src/main.py", "import vendored.mod\n")],
            "COPY vendor.zip /tmp/\nRUN mkdir -p /opt && unzip -q /tmp/vendor.zip -d /opt/vendor && echo /opt/vendor >> /usr/local/lib/python3.12/site-packages/vendor.pth",
            &[],
            Exact,
        )
    });
    v.push(Scenario {
        tools: &["chown"],
        ..s(
            "chown-recursive",
            LOCAL,
            "RUN chown -R 1000:1000 /app && chown root /app/helper.py",
            &[],
            Exact,
        )
    });
    v.push(Scenario {
        tools: &["poetry"],
        ..s(
            "poetry-install",
            &[("src/main.py", "import fromlock\n")],
            "RUN poetry install --no-root",
            &[],
            Uncertain,
        )
    });
    v.push(Scenario {
        base: "debian",
        tools: &["apt-get"],
        ..s(
            "apt-get-python3-package",
            &[("src/main.py", "import yaml\n")],
            "RUN apt-get install -y python3-yaml",
            &[],
            Uncertain,
        )
    });
    v.push(Scenario {
        base: "debian",
        ..s(
            "debian-ln-into-dist-packages",
            FROM_LIB,
            "RUN ln -s /opt/lib/helper_impl.py /usr/lib/python3/dist-packages/helper_impl.py",
            &[],
            Exact,
        )
    });
    v
}

/// Stand-ins for installers that are not in the test bases: they write what the real ones
/// would (a distribution from a lock file, Debian's python3-yaml).
fn tool_script(name: &str) -> Option<String> {
    match name {
        "poetry" => Some(format!(
            "#!/bin/sh\nmkdir -p {SITE}/fromlock && touch {SITE}/fromlock/__init__.py\n"
        )),
        "apt-get" => Some(
            "#!/bin/sh\nmkdir -p /usr/lib/python3/dist-packages/yaml && touch /usr/lib/python3/dist-packages/yaml/__init__.py\n"
                .to_string(),
        ),
        _ => None,
    }
}

fn write_context(dir: &Path, sc: &Scenario) -> String {
    let base = match sc.base {
        "debian" => "importgate-test/debian-python3:3.11",
        _ => "importgate-test/python:3.12-slim",
    };
    let mut df = format!("FROM {base}\nWORKDIR /app\n");
    for (rel, text) in sc.files {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    }
    if sc.files.iter().any(|(r, _)| r.starts_with("lib/")) {
        df.push_str("COPY lib/ /opt/lib/\n");
    }
    df.push_str("COPY src/ /app/\n");
    if !sc.tools.is_empty() {
        let tools = dir.join("tools");
        fs::create_dir_all(&tools).unwrap();
        for t in sc.tools {
            let dest = tools.join(t);
            match tool_script(t) {
                Some(text) => fs::write(&dest, text).unwrap(),
                None => {
                    let host = Path::new("/usr/bin").join(t);
                    fs::copy(&host, &dest).unwrap_or_else(|e| panic!("{t} from the host: {e}"));
                }
            }
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
        }
        df.push_str("COPY tools/ /usr/local/bin/\n");
    }
    if sc.name.starts_with("tar-") || sc.name.starts_with("unzip-") {
        let tree = tempfile::tempdir().unwrap();
        let pkg = tree.path().join("vendored");
        fs::create_dir_all(&pkg).unwrap();
        fs::write(pkg.join("__init__.py"), "").unwrap();
        fs::write(pkg.join("mod.py"), "").unwrap();
        if sc.name.starts_with("tar-") {
            let file = fs::File::create(dir.join("vendor.tgz")).unwrap();
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            let mut tar = tar::Builder::new(gz);
            tar.append_dir_all("vendored", &pkg).unwrap();
            tar.into_inner().unwrap().finish().unwrap();
        } else {
            run_ok(
                Command::new("python3")
                    .current_dir(tree.path())
                    .args(["-m", "zipfile", "-c"])
                    .arg(dir.join("vendor.zip"))
                    .arg("vendored/"),
                "python3 -m zipfile -c",
            );
        }
    }
    if sc.name == "unmodelled-elsewhere-shadow-stays" {
        fs::create_dir_all(dir.join("lib/core")).unwrap();
        fs::write(dir.join("lib/core/__init__.py"), "").unwrap();
    }
    df.push_str(sc.body);
    df.push_str("\nCMD [\"python3\", \"main.py\"]\n");
    fs::write(dir.join("Dockerfile"), &df).unwrap();
    df
}

type Key = (String, String, String, u64);

/// (code, module, file, line) of the findings of a report, split into errors and uncertain.
fn split(report: &Value) -> (BTreeSet<Key>, BTreeSet<Key>) {
    let mut errors = BTreeSet::new();
    let mut uncertain = BTreeSet::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        let key = (
            f["code"].as_str().unwrap_or_default().to_string(),
            f["module"].as_str().unwrap_or_default().to_string(),
            f["file"].as_str().unwrap_or_default().to_string(),
            f["line"].as_u64().unwrap_or_default(),
        );
        if f["uncertain"].is_string() {
            uncertain.insert(key.clone());
        }
        if f["severity"] == "error" {
            errors.insert(key);
        }
    }
    (errors, uncertain)
}

/// Predicts, builds and checks one scenario; `Err` says how it disagrees.
fn run_scenario(sc: &Scenario) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let df = write_context(dir.path(), sc);
    let ctx = path_str(dir.path());
    let pred = importgate(&["check", "--context", ctx, "--no-build", "--format", "json"]);
    let pjson: Value = serde_json::from_str(&pred.stdout).map_err(|e| {
        format!(
            "prediction printed no JSON ({e}), exit {}: {}",
            pred.code, pred.stderr
        )
    })?;
    let tag = format!("importgate-test/predict-run-{}", sc.name);
    let build = output_of(
        docker().args(["build", "-q", "-t", &tag]).arg(dir.path()),
        "docker build",
    );
    if !build.status.success() {
        return Err(format!(
            "docker build failed:\n{df}\n{}",
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    let (brun, bjson) = check_json(&tag);
    let (p_err, p_unc) = split(&pjson);
    let (b_err, _) = split(&bjson);
    let ctx_msg = || {
        format!(
            "Dockerfile:\n{df}\npredicted errors {p_err:?}\nuncertain {p_unc:?}\nbuilt errors {b_err:?}\nprediction warnings {}",
            pjson["warnings"]
        )
    };
    let built_modules: BTreeSet<&str> = b_err.iter().map(|k| k.1.as_str()).collect();
    let wanted: BTreeSet<&str> = sc.built_errors.iter().copied().collect();
    if built_modules != wanted {
        return Err(format!(
            "the built image's errors are not the scenario's {wanted:?}\n{}",
            ctx_msg()
        ));
    }
    if let Some(extra) = p_err.difference(&b_err).next() {
        return Err(format!(
            "predicted error {extra:?} is not in the built image\n{}",
            ctx_msg()
        ));
    }
    if let Some(missed) = b_err
        .iter()
        .find(|k| !p_err.contains(*k) && !p_unc.contains(*k))
    {
        return Err(format!(
            "built error {missed:?} is neither predicted nor uncertain\n{}",
            ctx_msg()
        ));
    }
    match sc.expect {
        Expect::Exact if !p_unc.is_empty() || p_err != b_err => {
            return Err(format!("expected an exact prediction\n{}", ctx_msg()));
        }
        Expect::Uncertain if p_unc.is_empty() => {
            return Err(format!("expected an uncertain finding\n{}", ctx_msg()));
        }
        _ => {}
    }
    let want_code = if p_err.is_empty() { 0 } else { 1 };
    if pred.code != want_code || brun.code != if b_err.is_empty() { 0 } else { 1 } {
        return Err(format!(
            "exit codes: prediction {}, build {}\n{}",
            pred.code,
            brun.code,
            ctx_msg()
        ));
    }
    Ok(())
}

#[test]
fn prediction_of_run_steps_never_cries_wolf_against_real_builds() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    ensure_base("debian", "3.11");
    let all = scenarios();
    assert!(all.len() >= 30, "{} scenarios", all.len());
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    // Two workers: the builds are small, the machine is shared.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(sc) = all.get(i) else { break };
                    if let Err(why) = run_scenario(sc) {
                        failures.lock().unwrap().push(format!("{}: {why}", sc.name));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios disagree:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
    let uncertain = all.iter().filter(|s| s.expect == Expect::Uncertain).count();
    assert!(uncertain >= 5 && all.len() - uncertain >= 20);
}
