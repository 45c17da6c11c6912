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
        args: Vec::new(),
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
        cmd_line: None,
        entrypoint_line: None,
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

// --- Fuzz-style robustness of the input-facing parsers: arbitrary and near-valid input never
// panics, and hostile archives cannot make the reader allocate what they claim. ---

mod fuzz {
    use std::io::{Cursor, Write};

    use importgate_context::Step;
    use importgate_image::Keep;
    use proptest::prelude::*;

    use crate::requirements::{parse_pip_install, parse_pyproject, parse_requirements, parse_spec};
    use crate::wheel::{Wheel, members_with, wheel_file_name};

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("-r".to_string()),
            Just("--requirement".to_string()),
            Just("-e".to_string()),
            Just("--editable=".to_string()),
            Just("-t".to_string()),
            Just("--target=".to_string()),
            Just("--prefix".to_string()),
            Just("--user".to_string()),
            Just("-i".to_string()),
            Just("=".to_string()),
            Just("@".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(";".to_string()),
            Just("#".to_string()),
            Just(" #".to_string()),
            Just("#egg=".to_string()),
            Just("://".to_string()),
            Just("git+".to_string()),
            Just("file:".to_string()),
            Just("$(".to_string()),
            Just("$".to_string()),
            Just("`".to_string()),
            Just("\\".to_string()),
            Just("\\\n".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just(".".to_string()),
            Just("..".to_string()),
            Just("/".to_string()),
            Just("../../etc/passwd".to_string()),
            Just(".whl".to_string()),
            Just("é".to_string()),
            Just("\u{2003}".to_string()),
            Just("&&".to_string()),
            Just("||".to_string()),
            Just("|".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            "[a-zA-Z0-9_.-]{1,6}",
            "[a-zA-Z0-9_.-]{1,6}",
            any::<char>().prop_map(|c| c.to_string()),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..30).prop_map(|v| v.concat())
    }

    fn toml_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("[project]".to_string()),
            Just("[project.optional-dependencies]".to_string()),
            Just("[project.scripts]".to_string()),
            Just("[[project]]".to_string()),
            Just("[project".to_string()),
            text().prop_map(|t| format!("name = {t:?}")),
            Just("name = 1".to_string()),
            Just("dependencies = 1".to_string()),
            Just("dependencies = [1, \"a\", [\"b\"], {x=1}]".to_string()),
            text().prop_map(|t| format!("dependencies = [{t:?}]")),
            text().prop_map(|t| format!("dev = [{t:?}]")),
            Just("dynamic = [\"dependencies\"]".to_string()),
            Just("dynamic = \"dependencies\"".to_string()),
            text().prop_map(|t| format!("x = {t:?}")),
            text().prop_map(|t| format!("x = \"{t}")),
            Just("project = 1".to_string()),
            Just("a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_string()),
            Just("a = 99999999999999999999999999".to_string()),
            Just("a = \"\\uD800\"".to_string()),
            Just("a = '''".to_string()),
            text(),
        ];
        prop::collection::vec(line, 0..10).prop_map(|v| v.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn requirements_files_never_panic(t in text()) {
            let _ = parse_requirements(&t);
            let _ = parse_spec(&t, false);
            let _ = parse_spec(&t, true);
        }

        #[test]
        fn arbitrary_unicode_requirements_never_panic(t in "\\PC{0,80}") {
            let _ = parse_requirements(&t);
            let _ = parse_spec(&t, false);
            let _ = crate::shell::commands(&t);
        }

        #[test]
        fn pip_command_lines_never_panic(words in prop::collection::vec(text(), 0..8)) {
            let p = parse_pip_install(&words);
            prop_assert!(p.items.len() <= words.len());
            let line = words.join(" ");
            for cmd in crate::shell::commands(&line) {
                let _ = parse_pip_install(&cmd);
            }
        }

        #[test]
        fn shell_lines_never_panic(t in text()) {
            let _ = crate::shell::commands(&t);
        }

        #[test]
        fn garbage_pyproject_never_panics(t in toml_text(), extras in prop::collection::vec(text(), 0..3)) {
            let _ = parse_pyproject(&t, &extras);
        }

        #[test]
        fn wheel_names_and_arbitrary_bytes_never_panic(
            name in text(),
            data in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = wheel_file_name(&name);
            let _ = Wheel::read("a-1-py3-none-any.whl", &data);
            let _ = members_with(&data, &|_, _| Keep::Contents);
        }

        #[test]
        fn corrupted_wheels_never_panic(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
            extras in prop::collection::vec(text(), 0..2),
        ) {
            let mut data = sample_wheel();
            for (at, b) in &flips {
                let i = at.index(data.len());
                data[i] = *b;
            }
            if truncate {
                data.truncate(cut.index(data.len()));
            }
            if let Some(w) = Wheel::read("pkg-1.0-py3-none-any.whl", &data) {
                let _ = w.dependencies(&extras, Some(12));
                let _ = w.dependencies(&extras, None);
                let _ = w.text("METADATA");
            }
            for (_, _, bytes) in members_with(&data, &|_, _| Keep::Contents) {
                if let Some(b) = bytes {
                    prop_assert!(b.capacity() <= 16 << 20);
                }
            }
        }

        #[test]
        fn requires_dist_markers_never_panic(lines in prop::collection::vec(text(), 0..6), extras in prop::collection::vec(text(), 0..2), minor in any::<Option<u8>>()) {
            let w = Wheel { requires: lines, ..Wheel::default() };
            let _ = w.dependencies(&extras, minor);
        }
    }

    fn run_word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("pip".to_string()),
            Just("pip3".to_string()),
            Just("python".to_string()),
            Just("python3 -m pip".to_string()),
            Just("python -m venv".to_string()),
            Just("/opt/venv/bin/pip".to_string()),
            Just("install".to_string()),
            Just("uninstall -y".to_string()),
            Just("-r r.txt".to_string()),
            Just("-r /".to_string()),
            Just("-r".to_string()),
            Just("-e .".to_string()),
            Just(".".to_string()),
            Just("./pkg".to_string()),
            Just("pkg-1.0-py3-none-any.whl".to_string()),
            Just("--user".to_string()),
            Just("--target".to_string()),
            Just("-t/".to_string()),
            Just("--prefix=".to_string()),
            Just("useradd -m -u 99999999999 app".to_string()),
            Just("adduser -D -G".to_string()),
            Just("groupadd -g -1".to_string()),
            Just("addgroup".to_string()),
            Just("&&".to_string()),
            Just(";".to_string()),
            Just("|".to_string()),
            text(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// RUN lines made of pip, venv and account commands, with odd arguments, predicted
        /// against a context holding a wheel, a project and requirements files.
        #[test]
        fn arbitrary_run_lines_predict_or_fail_with_one_line(
            runs in prop::collection::vec(prop::collection::vec(run_word(), 1..8), 1..4),
            req in text(),
            pyproject in toml_text(),
        ) {
            let dir = tempfile::tempdir().expect("tmp");
            let root = dir.path();
            super::write(root, "Dockerfile", "FROM python:3.12-slim\n");
            super::write(root, "r.txt", &format!("{req}\n-r r.txt\n"));
            super::write(root, "pkg/pyproject.toml", &pyproject);
            super::write(root, "pyproject.toml", &pyproject);
            super::write_bytes(root, "pkg-1.0-py3-none-any.whl", &sample_wheel());
            let mut steps = vec![super::copy(&["."], "/app/", 2), Step::Workdir { path: "/app".into(), line: 3 }];
            for (i, words) in runs.iter().enumerate() {
                steps.push(super::run(&words.join(" "), 4 + i));
            }
            match super::predict(root, vec![super::stage(super::base(), steps, &[])]) {
                Ok(_) => {}
                Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }

    fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            zip.start_file(*name, options).expect("zip member");
            zip.write_all(data).expect("write");
        }
        zip.finish().expect("zip").into_inner()
    }

    fn sample_wheel() -> Vec<u8> {
        zip_of(
            &[
                ("pkg/__init__.py", b"import os\n"),
                (
                    "pkg-1.0.dist-info/METADATA",
                    b"Name: pkg\nRequires-Dist: a ; extra == 'x' and python_version >= \"3.8\"\nRequires-Dist: b (>=1) ; (sys_platform != 'win32') or os_name == \"nt\"\n\nbody\n",
                ),
                ("pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n"),
                ("pkg-1.0.dist-info/top_level.txt", b"pkg\n"),
                ("x.pth", b"import pkg\n"),
            ],
            zip::CompressionMethod::Deflated,
        )
    }

    /// Sets the uncompressed size of every member, in the local headers and the central
    /// directory, to `size`.
    fn claim_size(data: &mut [u8], size: u32) {
        let mut i = 0;
        while i + 46 <= data.len() {
            match data[i..i + 4] {
                [0x50, 0x4b, 0x03, 0x04] => {
                    data[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
                    i += 30;
                }
                [0x50, 0x4b, 0x01, 0x02] => {
                    data[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                    i += 46;
                }
                _ => i += 1,
            }
        }
    }

    /// Many tiny members that each claim just under the per-member cap: reading them must not
    /// reserve what they claim (all members' bytes are alive at once in `members_with`).
    #[test]
    fn members_claiming_a_huge_size_do_not_allocate_it() {
        let names: Vec<String> = (0..64).map(|i| format!("pkg/m{i}.py")).collect();
        let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        for method in [
            zip::CompressionMethod::Stored,
            zip::CompressionMethod::Deflated,
        ] {
            let mut data = zip_of(&members, method);
            claim_size(&mut data, (16 << 20) - 1);
            let reserved: usize = members_with(&data, &|_, _| Keep::Contents)
                .iter()
                .filter_map(|(_, _, b)| b.as_ref().map(Vec::capacity))
                .sum();
            assert!(reserved < 8 << 20, "{method:?}: reserved {reserved} bytes");
            let _ = Wheel::read("pkg-1.0-py3-none-any.whl", &data);
        }
    }

    /// A member that claims a tiny size but inflates to far more is cut at the claim (or the
    /// cap), never read in full.
    #[test]
    fn a_member_inflating_past_its_claim_is_not_read_in_full() {
        let big = vec![0u8; 32 << 20];
        let mut data = zip_of(
            &[("pkg-1.0.dist-info/METADATA", &big[..])],
            zip::CompressionMethod::Deflated,
        );
        assert!(data.len() < 1 << 20);
        claim_size(&mut data, 10);
        for (_, _, bytes) in members_with(&data, &|_, _| Keep::Contents) {
            if let Some(b) = bytes {
                assert!(b.len() <= 10, "read {} bytes past a claim of 10", b.len());
            }
        }
        if let Some(w) = Wheel::read("pkg-1.0-py3-none-any.whl", &data) {
            assert!(w.texts.iter().all(|(_, t)| t.len() <= 16 << 20));
        }
    }

    #[test]
    fn huge_requirement_lines_and_deep_continuations() {
        let huge = format!("{}==1\n", "a".repeat(1 << 20));
        assert_eq!(parse_requirements(&huge).len(), 1);
        let cont = "x \\\n".repeat(50_000);
        let _ = parse_requirements(&cont);
        let _ = parse_requirements(&"-r\n".repeat(10_000));
        let _ = parse_pip_install(&["-r".to_string()]);
        let _ = parse_pip_install(&["--target".to_string()]);
        let _ = parse_pip_install(&["-e".to_string(), "".to_string()]);
        let _ = crate::shell::commands(&"$(".repeat(100_000));
        let _ = crate::shell::commands(&"\"$(".repeat(10_000));
    }
}

/// `-r` cycles (a includes b includes a, a includes itself) stop; `-r` paths leaving the
/// context name image files, never host files.
#[test]
fn requirement_include_cycles_and_escapes_terminate() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, "a.txt", "-r b.txt\n-r a.txt\nflask\n");
    write(root, "b.txt", "-r ./a.txt\nrequests\n");
    write(
        root,
        "c.txt",
        "-r ../../../../etc/shadow\n-r /proc/self/environ\nhttpx\n",
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
                copy(&["a.txt", "b.txt", "c.txt"], "./", 3),
                run("pip install -r a.txt", 4),
                run(
                    "pip install -r c.txt -r ../../../../../proc/self/environ",
                    5,
                ),
            ],
            &[],
        )],
    )
    .expect("predicts");
    let site = "/usr/local/lib/python3.12/site-packages";
    assert!(p.image.fs.is_file(&format!("{site}/httpx/__init__.py")));
    assert!(
        p.image
            .warnings
            .iter()
            .any(|w| w.contains("/proc/self/environ")),
        "{:?}",
        p.image.warnings
    );
}

/// `ln -s /etc escape`: `COPY escape/passwd /x` must not put the host's `/etc/passwd` into the
/// predicted image (inside the context the link points at `<root>/etc`).
#[test]
fn a_symlink_out_of_the_context_does_not_leak_host_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(
        root,
        "Dockerfile",
        "FROM python:3.12-slim\nCOPY escape/passwd /x\n",
    );
    std::os::unix::fs::symlink("/etc", root.join("escape")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).expect("symlink");
    std::os::unix::fs::symlink("../../../../../../../etc", root.join("up")).expect("symlink");
    let host = fs::read("/etc/passwd").unwrap_or_default();
    let ctx = BuildContext::open(root, None).expect("context");
    for rel in ["escape/passwd", "pw", "up/passwd"] {
        assert!(ctx.read(rel).is_err(), "{rel}");
    }
    for srcs in [
        &["escape/passwd"][..],
        &["pw"],
        &["up/passwd"],
        &["escape/"],
        &["up/"],
        &["escape"],
    ] {
        let r = predict(
            root,
            vec![stage(
                base(),
                vec![
                    copy(srcs, "/x", 2),
                    run("pip install -r /x/passwd -r /x", 3),
                ],
                &[],
            )],
        );
        match r {
            Ok(p) => {
                for path in ["/x", "/x/passwd"] {
                    if let Some(Some(data)) = p.image.fs.read(path) {
                        assert!(host.is_empty() || *data != *host, "{srcs:?}: {path}");
                    }
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
}

fn workdir(path: &str, line: usize) -> Step {
    Step::Workdir {
        path: path.into(),
        line,
    }
}

fn report_of(p: &Prediction) -> importgate_check::Report {
    let mut report = importgate_check::check(&p.image, &CheckOptions::default()).expect("check");
    crate::mark_uncertain(&mut report, &p.image.config, &p.unmodelled);
    report
}

#[test]
fn run_file_operations_are_applied_to_the_stage() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, "src/core/__init__.py", "");
    write(root, "src/core/util.py", "");
    write(root, "src/old.py", "");
    write(root, "libs/extra/__init__.py", "");
    write(
        root,
        "main.py",
        "import core.util\nimport linked\nimport copied\nimport moved\nimport extra\nimport zipped.mod\nimport tarred\nimport old\n",
    );
    // Archives built here, as the image would get them from the context.
    let mut zbuf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zbuf);
        let o = zip::write::SimpleFileOptions::default();
        z.add_directory("zipped/", o).expect("dir");
        z.start_file("zipped/__init__.py", o).expect("file");
        z.start_file("zipped/mod.py", o).expect("file");
        z.finish().expect("zip");
    }
    write_bytes(root, "vendor.zip", zbuf.get_ref());
    let mut tbuf = Vec::new();
    {
        let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
            &mut tbuf,
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "tarred.py", std::io::empty())
            .expect("tar");
        t.into_inner().expect("tar").finish().expect("gz");
    }
    write_bytes(root, "vendor.tgz", &tbuf);
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                workdir("/app", 2),
                copy(&["main.py", "vendor.zip", "vendor.tgz"], "/app/", 3),
                copy(&["src/"], "/opt/src/", 4),
                copy(&["libs/"], "/opt/libs/", 5),
                run(
                    "mkdir -p /opt/x/y && cd /opt/src && cp -r core /app/ && ln -s /opt/src/old.py /app/linked.py && cp old.py /app/copied.py && mv old.py /app/moved.py",
                    6,
                ),
                run(
                    "echo /opt/libs > /usr/local/lib/python3.12/site-packages/extra.pth && unzip -q vendor.zip -d /app && tar -xzf vendor.tgz && rm -f vendor.zip vendor.tgz && chmod -R go-w /app && touch /app/new.txt",
                    7,
                ),
            ],
            &["python", "main.py"],
        )],
    )
    .expect("predicted");
    let fs = &p.image.fs;
    assert!(fs.is_dir("/opt/x/y"));
    assert!(fs.is_file("/app/core/util.py"));
    assert!(fs.lookup("/app/linked.py", false).is_some());
    assert!(fs.is_file("/app/moved.py") && !fs.exists("/opt/src/old.py"));
    assert!(fs.is_file("/app/zipped/mod.py") && fs.is_file("/app/tarred.py"));
    assert!(!fs.exists("/app/vendor.zip") && fs.is_file("/app/new.txt"));
    assert_eq!(
        fs.read_to_string("/usr/local/lib/python3.12/site-packages/extra.pth")
            .as_deref(),
        Some("/opt/libs\n")
    );
    // `mv` took old.py away: the link now dangles, as it does in the built image.
    assert!(p.unmodelled.is_empty(), "{:?}", p.unmodelled);
    let errs = errors(&p);
    assert_eq!(
        errs.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["linked", "old"],
        "{errs:?}"
    );
}

#[test]
fn unmodelled_steps_make_only_the_findings_they_could_change_uncertain() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, "gen.sh", "");
    write(root, "main.py", "import generated\nimport never_copied\n");
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                workdir("/app", 2),
                copy(&["main.py", "gen.sh"], "/app/", 3),
                run("./gen.sh --out /app/generated.py", 4),
                run("for f in a b; do cp $f /srv/; done", 5),
            ],
            &["python", "main.py"],
        )],
    )
    .expect("predicted");
    let report = report_of(&p);
    let find = |m: &str| {
        report
            .findings
            .iter()
            .find(|f| f.module == m)
            .unwrap_or_else(|| panic!("{m}: {:#?}", report.findings))
    };
    let generated = find("generated");
    assert_eq!(generated.severity, Severity::Warning);
    assert!(
        generated
            .uncertain
            .as_deref()
            .is_some_and(|u| u.contains("line 4")),
        "{generated:?}"
    );
    // Nothing writes `never_copied` anywhere on sys.path... except the working directory the
    // script runs in, which is the script's directory: it is uncertain too.
    assert!(find("never_copied").uncertain.is_some());
    assert_eq!(report.summary.errors, 0);
}

#[test]
fn an_unrelated_unmodelled_step_leaves_errors_standing() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, "app/main.py", "import never_copied\n");
    let p = predict(
        root,
        vec![stage(
            base(),
            vec![
                run(
                    "sed -i s/a/b/ /etc/motd && ./configure --prefix=/opt/tool",
                    2,
                ),
                copy(&["app/"], "/app/", 3),
                workdir("/app", 4),
                // Package managers write the system's directories, not the working directory.
                run(
                    "apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/* && python -m compileall .",
                    5,
                ),
            ],
            &["python", "/app/main.py"],
        )],
    )
    .expect("predicted");
    assert!(!p.unmodelled.is_empty());
    let report = report_of(&p);
    assert_eq!(report.summary.errors, 1, "{:#?}", report.findings);
    assert!(report.findings.iter().all(|f| f.uncertain.is_none()));
}

#[test]
fn what_an_unmodelled_step_of_a_builder_may_write_follows_copy_from() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    write(root, "Dockerfile", "FROM python:3.12-slim\n");
    write(root, "build.sh", "");
    write(root, "main.py", "import generated\nimport never_built\n");
    let mut builder = stage(
        base(),
        vec![
            workdir("/src", 2),
            copy(&["build.sh"], "/src/", 3),
            run("sh build.sh --out /src/dist/generated.py", 4),
            run("sh build.sh > /tmp/log.txt", 5),
        ],
        &[],
    );
    builder.name = Some("builder".into());
    let p = predict(
        root,
        vec![
            builder,
            stage(
                base(),
                vec![
                    workdir("/app", 7),
                    copy(&["main.py"], "/app/", 8),
                    Step::Copy(CopyStep {
                        add: false,
                        from: CopyFrom::Stage(0),
                        sources: vec!["/src/dist/".into()],
                        dest: "/app/".into(),
                        chown: None,
                        chmod: None,
                        line: 9,
                    }),
                ],
                &["python", "main.py"],
            ),
        ],
    )
    .expect("predicted");
    // The builder's /src is where its script may write: the copy of /src/dist lands in /app.
    assert!(
        p.unmodelled.iter().all(|u| u
            .paths
            .iter()
            .all(|p| p == "/app" || p == "/app/generated.py")),
        "{:?}",
        p.unmodelled
    );
    let report = report_of(&p);
    assert_eq!(report.summary.errors, 0, "{:#?}", report.findings);
    assert!(report.findings.iter().all(|f| f.uncertain.is_some()));
}
