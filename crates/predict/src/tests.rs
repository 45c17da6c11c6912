//! Predictions of small contexts with hand-written plans on the bundled model: COPY rules,
//! `.dockerignore`, pip installs from requirements files and wheels, multi-stage copies.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use importgate_check::{CheckOptions, Severity};
use importgate_context::{Base, BuildContext, BuildPlan, Command, CopyFrom, CopyStep, Stage, Step};
use importgate_image::Platform;

use crate::stage::{LoadedBase, Predictor};
use crate::{PredictError, PredictOptions, Prediction, model};

fn write(root: &Path, rel: &str, text: &str) {
    write_bytes(root, rel, text.as_bytes());
}

fn write_bytes(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, data).expect("write");
}

fn copy(sources: &[&str], dest: &str, line: usize) -> Step {
    Step::Copy(CopyStep {
        add: false,
        from: CopyFrom::Context,
        sources: sources.iter().map(|s| s.to_string()).collect(),
        dest: dest.to_string(),
        chown: None,
        chmod: None,
        line,
    })
}

fn run(cmd: &str, line: usize) -> Step {
    Step::Run {
        command: Command::Shell(cmd.to_string()),
        line,
    }
}

fn stage(base: Base, steps: Vec<Step>, cmd: &[&str]) -> Stage {
    Stage {
        name: None,
        line: 1,
        base,
        platform: None,
        steps,
        env: Vec::new(),
        workdir: None,
        user: None,
        cmd: (!cmd.is_empty()).then(|| Command::Exec(cmd.iter().map(|s| s.to_string()).collect())),
        entrypoint: None,
        shell: Vec::new(),
    }
}

fn opts() -> PredictOptions {
    PredictOptions {
        platform: Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        },
        capture: importgate_check::capture_policy(),
        context_name: "ctx".into(),
        dockerfile_name: "ctx/Dockerfile".into(),
    }
}

const BASE: &str = "python:3.12-slim";

fn predict(root: &Path, stages: Vec<Stage>) -> Result<Prediction, PredictError> {
    let ctx = BuildContext::open(root, None).expect("context");
    let target = stages.len() - 1;
    let plan = BuildPlan { stages, target };
    let o = opts();
    let official = model::parse_official(BASE).expect("modelled");
    let mut bases = HashMap::new();
    bases.insert(
        BASE.to_string(),
        LoadedBase {
            image: model::synthesize(&official, &o.platform),
            origin: format!("bundled model of {BASE}"),
            modelled: true,
        },
    );
    Predictor::new(&ctx, &plan, &o, bases).run()
}

fn errors(p: &Prediction) -> Vec<(String, String)> {
    let report = importgate_check::check(&p.image, &CheckOptions::default()).expect("check");
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.module.clone(), f.file.clone()))
        .collect()
}

fn base() -> Base {
    Base::Image(BASE.to_string())
}

#[test]
fn copy_follows_the_builders_rules_and_the_ignore_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, ".dockerignore", "**/secret.py\n");
    write(root, "src/app/__init__.py", "");
    write(
        root,
        "src/app/main.py",
        "import json\nfrom app import util\n",
    );
    write(root, "src/app/util.py", "");
    write(root, "src/app/secret.py", "");
    write(root, "run.py", "import app.main\n");
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                Step::Workdir {
                    path: "/srv".into(),
                    line: 2,
                },
                copy(&["src/"], "/srv/", 3),
                copy(&["run.py"], "/srv/", 4),
                copy(&["*.py"], "/opt/all/", 5),
            ],
            &["python", "run.py"],
        )],
    )
    .expect("predicts");
    let fs = &p.image.fs;
    assert!(fs.is_file("/srv/app/main.py"));
    assert!(fs.is_file("/srv/run.py"));
    assert!(fs.is_file("/opt/all/run.py"));
    assert!(!fs.exists("/srv/app/secret.py"), "ignored by .dockerignore");
    assert!(
        !fs.exists("/srv/src"),
        "a directory source copies its contents"
    );
    assert_eq!(
        fs.read_to_string("/srv/run.py").as_deref(),
        Some("import app.main\n")
    );
    assert_eq!(p.image.config.working_dir, "/srv");
    assert_eq!(
        p.image.config.cmd,
        Some(vec!["python".into(), "run.py".into()])
    );
    assert_eq!(
        p.image
            .config
            .env_var("PYTHON_VERSION")
            .map(|v| v.starts_with("3.12")),
        Some(true)
    );
    assert_eq!(errors(&p), vec![]);

    // A source the ignore file drops fails the build; so does the prediction.
    let err = predict(
        root,
        vec![stage(
            base(),
            vec![copy(&["src/app/secret.py"], "/x.py", 7)],
            &[],
        )],
    )
    .err()
    .expect("fails");
    let msg = err.to_string();
    assert!(msg.contains("ctx/Dockerfile:7"), "{msg}");
    assert!(msg.contains("**/secret.py"), "{msg}");
}

#[test]
fn requirements_install_stand_ins_and_undeclared_imports_fail() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(
        root,
        "requirements.txt",
        "# web\nFlask==3.1.0\n-r more.txt\n",
    );
    write(
        root,
        "more.txt",
        "PyYAML>=6 ; python_version >= '3.8'\nprotobuf\n",
    );
    write(
        root,
        "app/main.py",
        "import flask\nfrom flask.json import provider\nimport yaml\nfrom google.protobuf import message\nimport requests\n",
    );
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                Step::Workdir {
                    path: "/app".into(),
                    line: 2,
                },
                copy(&["requirements.txt", "more.txt"], "./", 3),
                run("pip install --no-cache-dir -r requirements.txt && pip install $(cat extra.txt)", 4),
                copy(&["app/"], "/app/", 5),
                run("apt-get update", 6),
            ],
            &["python", "main.py"],
        )],
    )
    .expect("predicts");
    let site = "/usr/local/lib/python3.12/site-packages";
    assert!(p.image.fs.is_file(&format!("{site}/flask/__init__.py")));
    assert!(p.image.fs.is_file(&format!("{site}/yaml/__init__.py")));
    assert!(
        p.image
            .fs
            .is_file(&format!("{site}/google/protobuf/__init__.py"))
    );
    assert!(!p.image.fs.exists(&format!("{site}/google/__init__.py")));
    assert!(
        p.image
            .fs
            .is_file(&format!("{site}/Flask-0.dist-info/RECORD"))
    );
    assert!(
        p.image
            .warnings
            .iter()
            .any(|w| w.contains("$(cat extra.txt)")),
        "{:?}",
        p.image.warnings
    );
    assert!(
        p.image.warnings.iter().any(|w| w.contains("line 6")),
        "{:?}",
        p.image.warnings
    );
    let mut p = p;
    let missing = vec!["flask.json".to_string()];
    assert!(crate::stage::add_stub_submodules(&mut p, &missing));
    assert!(
        p.image
            .fs
            .is_file(&format!("{site}/flask/json/__init__.py"))
    );
    let errs = errors(&p);
    assert_eq!(
        errs,
        vec![("requests".to_string(), "/app/main.py".to_string())]
    );
}

#[test]
fn wheels_in_the_context_install_their_real_files_and_dependencies() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    let lib = crate::wheel::tests::zip_of(&[
        ("mylib/__init__.py", "from mylib.core import run\n"),
        ("mylib/core.py", "def run(): ...\n"),
        (
            "my_lib-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: my-lib\nRequires-Dist: helper\nRequires-Dist: nope ; extra == \"x\"\n",
        ),
        (
            "my_lib-1.0.dist-info/RECORD",
            "mylib/__init__.py,,\nmylib/core.py,,\n",
        ),
        (
            "my_lib-1.0.dist-info/entry_points.txt",
            "[console_scripts]\nmylib-run = mylib.core:run\n",
        ),
    ]);
    let helper = crate::wheel::tests::zip_of(&[
        ("helper.py", "X = 1\n"),
        (
            "helper-2.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: helper\n",
        ),
        ("helper-2.0.dist-info/RECORD", "helper.py,,\n"),
    ]);
    write_bytes(root, "wheels/my_lib-1.0-py3-none-any.whl", &lib);
    write_bytes(root, "wheels/helper-2.0-py3-none-any.whl", &helper);
    write(
        root,
        "main.py",
        "import mylib\nimport helper\nimport nope\n",
    );
    let p = predict(
        root,
        vec![
            stage(
                base(),
                vec![
                    copy(&["wheels/"], "/wheels/", 2),
                    run(
                        "pip install --prefix=/install --no-index --find-links /wheels my-lib",
                        3,
                    ),
                ],
                &[],
            ),
            stage(
                base(),
                vec![
                    Step::Copy(CopyStep {
                        add: false,
                        from: CopyFrom::Stage(0),
                        sources: vec!["/install".into()],
                        dest: "/usr/local".into(),
                        chown: None,
                        chmod: None,
                        line: 5,
                    }),
                    copy(&["main.py"], "/app/", 6),
                    Step::Workdir {
                        path: "/app".into(),
                        line: 7,
                    },
                ],
                &["python", "main.py"],
            ),
        ],
    )
    .expect("predicts");
    let site = "/usr/local/lib/python3.12/site-packages";
    let fs = &p.image.fs;
    assert_eq!(
        fs.read_to_string(&format!("{site}/mylib/core.py"))
            .as_deref(),
        Some("def run(): ...\n")
    );
    assert!(
        fs.is_file(&format!("{site}/helper.py")),
        "dependency followed"
    );
    assert!(fs.is_file("/usr/local/bin/mylib-run"));
    assert!(!fs.exists("/wheels"), "the builder stage stays behind");
    assert!(p.stubs.is_empty());
    let errs = errors(&p);
    assert_eq!(errs, vec![("nope".to_string(), "/app/main.py".to_string())]);
}

#[test]
fn user_and_target_installs_and_venvs_land_where_pip_puts_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                run("pip install --user requests && pip install -t /deps six", 2),
                run(
                    "python -m venv /opt/venv && /opt/venv/bin/pip install httpx",
                    3,
                ),
                Step::Env {
                    vars: vec![(
                        "PATH".into(),
                        "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin".into(),
                    )],
                    line: 4,
                },
                run("pip install rich", 5),
            ],
            &[],
        )],
    )
    .expect("predicts");
    let fs = &p.image.fs;
    assert!(fs.is_file("/root/.local/lib/python3.12/site-packages/requests/__init__.py"));
    assert!(fs.is_file("/deps/six/__init__.py"));
    assert!(fs.is_file("/opt/venv/pyvenv.cfg"));
    assert!(fs.is_file("/opt/venv/lib/python3.12/site-packages/httpx/__init__.py"));
    assert!(fs.is_file("/opt/venv/lib/python3.12/site-packages/rich/__init__.py"));
    assert!(p.image.warnings.is_empty(), "{:?}", p.image.warnings);
}

#[test]
fn a_project_installed_from_its_directory_brings_its_packages_and_dependencies() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(
        root,
        "pyproject.toml",
        "[project]\nname = \"svc\"\ndependencies = [\"Pillow>=10\"]\n[project.optional-dependencies]\nextra = [\"beautifulsoup4\"]\n[project.scripts]\nsvc = \"svc.cli:main\"\n",
    );
    write(root, "src/svc/__init__.py", "");
    write(
        root,
        "src/svc/cli.py",
        "import PIL\nimport bs4\n\ndef main(): ...\n",
    );
    write(root, "tests/test_x.py", "");
    let project = |install: &str| {
        predict(
            root,
            vec![stage(
                base(),
                vec![
                    Step::Workdir {
                        path: "/build".into(),
                        line: 2,
                    },
                    copy(&["."], ".", 3),
                    run(install, 4),
                ],
                &["svc"],
            )],
        )
        .expect("predicts")
    };
    let p = project("pip install --no-cache-dir '.[extra]'");
    let site = "/usr/local/lib/python3.12/site-packages";
    let fs = &p.image.fs;
    assert!(
        fs.is_file("/build/Dockerfile"),
        "COPY . copies the whole context"
    );
    assert_eq!(
        fs.read_to_string(&format!("{site}/svc/cli.py")).as_deref(),
        Some("import PIL\nimport bs4\n\ndef main(): ...\n")
    );
    assert!(fs.is_file(&format!("{site}/PIL/__init__.py")));
    assert!(fs.is_file(&format!("{site}/bs4/__init__.py")));
    assert!(fs.is_file("/usr/local/bin/svc"));
    assert!(
        fs.read_to_string(&format!("{site}/svc-0.dist-info/RECORD"))
            .is_some_and(|r| r.contains("svc/cli.py,,")),
    );
    assert_eq!(errors(&p), vec![]);

    // `-e .` afterwards replaces the copy with a path `.pth`, as pip does.
    let p = project("pip install '.[extra]' && pip install -e .");
    let fs = &p.image.fs;
    assert!(!fs.exists(&format!("{site}/svc/cli.py")));
    assert_eq!(
        fs.read_to_string(&format!("{site}/__editable__.svc-0.pth"))
            .as_deref(),
        Some("/build/src\n")
    );
    assert_eq!(errors(&p), vec![]);
}
