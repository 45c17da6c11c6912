//! AWS Lambda's Python base images (`public.ecr.aws/lambda/python`), on a stand-in built here:
//! no registry can be pulled from. The stand-in has the images' layout and start-up chain,
//! its scripts written from their published behaviour: the interpreter in `/var/lang`
//! (CPython 3.12), awslambdaric 4.2.2 in its site-packages (as from 3.11), a runtime-included
//! library in `/var/runtime` (jmespath; boto3 sits there up to 3.10), `ENTRYPOINT
//! ["/lambda-entrypoint.sh"]` (one argument, the handler; exit 142 otherwise; it exports
//! `_HANDLER` and execs `$RUNTIME_ENTRYPOINT`), `/var/runtime/bootstrap` (execs the
//! interpreter on `bootstrap.py`) and `bootstrap.py` (the task root and, without `PYTHONPATH`,
//! the `/opt/python` layer directories as site directories and first on `sys.path`, then
//! awslambdaric's main, which imports the handler and looks its function up). The printed
//! `sys.path` of the good image is the order AWS documents for the 3.12 image.
//!
//! The emulator the real images exec without `AWS_LAMBDA_RUNTIME_API` is not here, so the
//! stand-in sets that variable to a port nothing listens on: the runtime then imports the
//! handler and fails only when it asks for the first invocation. The truth, per image, is its
//! own start: `Failed to get next invocation` in the log = the handler loaded; a
//! `Runtime.…Error` the runtime logs, or the entrypoint's exit 142 = it did not. The judgment:
//! `importgate check` exits 0 without error findings exactly when the handler loaded, and
//! names the module the runtime's `ImportModuleError` names.

use serde_json::Value;

use crate::support::*;

/// awslambdaric and its dependencies, and the runtime-included library.
const WHEELS: &[&str] = &[
    "awslambdaric==4.2.2",
    "simplejson==4.3.0",
    "snapshot-restore-py==1.0.0",
    "jmespath==1.0.1",
];

const BASE: &str = "importgate-test/lambda-python:3.12-v2";

const ENTRYPOINT: &str = r#"#!/bin/sh
# The lambda/python images' entrypoint, as published: exactly one argument, the handler.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
"#;

const BOOTSTRAP: &str = r#"#!/bin/sh
# The runtime's bootstrap: the interpreter on bootstrap.py, or under a wrapper script.
export AWS_EXECUTION_ENV=AWS_Lambda_python3.12
if [ -z "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
  exec /var/lang/bin/python3.12 /var/runtime/bootstrap.py
else
  wrapper="$AWS_LAMBDA_EXEC_WRAPPER"
  if [ ! -f "$wrapper" ]; then
    echo "$wrapper: does not exist"
    exit 127
  fi
  exec -- "$wrapper" /var/lang/bin/python3.12 /var/runtime/bootstrap.py
fi
"#;

const BOOTSTRAP_PY: &str = r#""""The runtime's bootstrap.py, from its documented behaviour."""
import os
import site
import sys

import awslambdaric.__main__ as awslambdaricmain


def layer_dirs():
    version = "%d.%d" % sys.version_info[:2]
    return ["/opt/python/lib/python%s/site-packages" % version, "/opt/python"]


def main():
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    layers = "PYTHONPATH" not in os.environ
    # Site directories: their .pth files are read, and they are appended.
    site.addsitedir(task_root)
    if layers:
        for d in layer_dirs():
            site.addsitedir(d)
    # From 3.11 the interpreter's site-packages comes before the runtime's directory.
    runtime_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.version_info >= (3, 11):
        sys.path.insert(sys.path.index(runtime_dir), site.getsitepackages()[0])
    for d in reversed([task_root] + (layer_dirs() if layers else [])):
        sys.path.insert(0, d)
    print("SYS.PATH", sys.path, flush=True)
    awslambdaricmain.main([task_root, os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
"#;

/// [`BASE`]: the 3.12 test base moved to `/var/lang` as the Lambda images have it, with
/// awslambdaric installed there, jmespath in `/var/runtime`, the scripts above, and the
/// images' environment.
fn lambda_base() -> String {
    let parts = WheelBase {
        wheels: wheel_files(&pinned_wheels("lambda-v1", "3.12", WHEELS)),
        libs: &["libpthread.so.0", "libgcc_s.so.1", "libstdc++.so.6"],
        rootfs: &[
            ("/lambda-entrypoint.sh", ENTRYPOINT),
            ("/var/runtime/bootstrap", BOOTSTRAP),
            ("/var/runtime/bootstrap.py", BOOTSTRAP_PY),
        ],
    };
    let pip = "/var/lang/bin/python3.12 -m pip install -q --no-index --no-compile --disable-pip-version-check --find-links /wheels";
    let dockerfile = format!(
        "RUN mkdir -p /var/lang /var/task && cp -a /usr/local/bin /usr/local/lib /var/lang/ \
         && rm -r /usr/local/bin/python3.12 /usr/local/bin/python3 /usr/local/bin/python /usr/local/lib/python3.12 \
         /usr/local/lib/libpython3.12.so.1.0 /usr/local/lib/libpython3.12.so\n\
         ENV LANG=en_US.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin \
         LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib \
         LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime AWS_LAMBDA_RUNTIME_API=127.0.0.1:9\n\
         COPY wheels/ /wheels/\n\
         RUN {pip} awslambdaric && {pip} --target /var/runtime jmespath && rm -r /wheels\n\
         COPY rootfs/ /\n\
         RUN chmod 755 /lambda-entrypoint.sh /var/runtime/bootstrap\n\
         WORKDIR /var/task\n\
         ENTRYPOINT [\"/lambda-entrypoint.sh\"]"
    );
    wheel_base(BASE, &ensure_base("slim", "3.12"), &parts, &dockerfile)
}

/// What the runtime did with the handler.
#[derive(Debug, PartialEq)]
enum Truth {
    /// It loaded and the runtime asked for the first invocation.
    Loaded,
    /// The runtime's fault (`Runtime.ImportModuleError`, …) and the module it names, if any.
    Fault(String, Option<String>),
    /// The entrypoint stopped with this status before the runtime started.
    Exited(i32),
}

fn truth(tag: &str) -> (Truth, String) {
    let s = start_container(tag, 30, &["Failed to get next invocation"]);
    let t = if s.log.contains("Failed to get next invocation") {
        Truth::Loaded
    } else if let Some((_, rest)) = s.log.split_once("[ERROR] Runtime.") {
        let kind = rest
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_string();
        let module = rest
            .split_once("No module named '")
            .and_then(|(_, m)| m.split_once('\''))
            .map(|(m, _)| m.to_string());
        Truth::Fault(kind, module)
    } else {
        match s.exit {
            Some(code) if code != 0 => Truth::Exited(code),
            _ => panic!(
                "{tag}: neither loaded nor failed (exit {:?}):\n{}",
                s.exit, s.log
            ),
        }
    };
    (t, s.log)
}

const APP: &str = r#"import jmespath
import helpers
import layer_util
import layer_pkg
import vendored_dep


def handler(event, context):
    return helpers.hello()
"#;

/// The task root's and the layers' files of the good image: the handler module imports a
/// runtime-included library, a task-root module, a module of each layer directory and one of
/// a directory a task-root `.pth` file names.
fn good_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/var/task/app.py", APP),
        ("/var/task/helpers.py", "def hello():\n    return 'hello'\n"),
        ("/var/task/extra.pth", "vendor\n"),
        ("/var/task/vendor/vendored_dep.py", ""),
        ("/opt/python/layer_util.py", ""),
        (
            "/opt/python/lib/python3.12/site-packages/layer_pkg/__init__.py",
            "",
        ),
    ]
}

struct Case {
    label: &'static str,
    files: Vec<(&'static str, &'static str)>,
    tail: &'static str,
}

#[test]
fn lambda_base_image_handlers_against_the_runtime() {
    if !require_docker() {
        return;
    }
    let base = lambda_base();
    let without = |gone: &str| -> Vec<(&'static str, &'static str)> {
        good_files()
            .into_iter()
            .filter(|(p, _)| *p != gone)
            .collect()
    };
    let mut slash = good_files();
    slash.push(("/var/task/pkg/__init__.py", ""));
    slash.push((
        "/var/task/pkg/main.py",
        "from helpers import hello\n\n\ndef handler(event, context):\n    return hello()\n",
    ));
    let mut other_name = good_files();
    other_name[0] = (
        "/var/task/app.py",
        "import helpers\n\n\ndef lambda_handler(event, context):\n    return helpers.hello()\n",
    );
    let cases = vec![
        Case {
            label: "good",
            files: good_files(),
            tail: r#"CMD ["app.handler"]"#,
        },
        Case {
            label: "missing-helper",
            files: without("/var/task/helpers.py"),
            tail: r#"CMD ["app.handler"]"#,
        },
        Case {
            label: "missing-layer",
            files: without("/opt/python/layer_util.py"),
            tail: r#"CMD ["app.handler"]"#,
        },
        Case {
            label: "no-function",
            files: other_name,
            tail: r#"CMD ["app.handler"]"#,
        },
        Case {
            label: "pythonpath",
            files: good_files(),
            tail: "ENV PYTHONPATH=/var/task/lib\nCMD [\"app.handler\"]",
        },
        Case {
            label: "slash",
            files: slash,
            tail: r#"CMD ["pkg/main.handler"]"#,
        },
        Case {
            label: "no-cmd",
            files: good_files(),
            tail: "",
        },
        Case {
            label: "two-args",
            files: good_files(),
            tail: r#"CMD ["app.handler", "extra"]"#,
        },
        Case {
            label: "malformed",
            files: good_files(),
            tail: r#"CMD ["app"]"#,
        },
    ];
    let mut problems = Vec::new();
    let mut failing = 0;
    for case in &cases {
        let entries: Vec<Entry> = case.files.iter().map(|(p, t)| file(*p, *t)).collect();
        let image = build_scenario(
            &format!("importgate-test/lambda-{}:latest", case.label),
            &base,
            &entries,
            case.tail,
        );
        let (truth, log) = truth(&image.tag);
        if case.label == "good" {
            // The scaffolding's own check: the stand-in's path is the one AWS documents.
            assert!(
                log.contains("SYS.PATH ['/var/task', '/opt/python/lib/python3.12/site-packages', '/opt/python', '/var/lang/lib/python3.12/site-packages', '/var/runtime', '/var/lang/lib/python312.zip'"),
                "{log}"
            );
        }
        let (run, report) = check_json(&image.tag);
        let errors = error_findings(&report);
        let shown = errors
            .iter()
            .map(|f| {
                format!(
                    "{} `{}`",
                    f["code"].as_str().unwrap_or("?"),
                    f["module"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!(
            "lambda {}: runtime {truth:?}; importgate exit {} [{shown}]",
            case.label, run.code
        );
        let agrees = match &truth {
            Truth::Loaded => run.code == 0 && errors.is_empty(),
            Truth::Fault(_, Some(module)) => {
                run.code == 1 && errors.iter().any(|f| f["module"] == module.as_str())
            }
            Truth::Fault(_, None) | Truth::Exited(_) => run.code == 1 && !errors.is_empty(),
        };
        if truth != Truth::Loaded {
            failing += 1;
        }
        if !agrees {
            problems.push(format!(
                "{}: runtime {truth:?}, importgate exit {} [{shown}]; entrypoint {}, sys.path {}",
                case.label,
                run.code,
                report["entrypoint"],
                report["python"]["sys_path"]
                    .as_array()
                    .map(|a| a.iter().map(|e| e["path"].clone()).collect::<Vec<Value>>())
                    .unwrap_or_default()
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    // The scaffolding again: both verdicts occur.
    assert!(
        failing > 0 && failing < cases.len(),
        "{failing} of {} fail",
        cases.len()
    );
    assert!(
        problems.is_empty(),
        "importgate disagrees with the Lambda runtime:\n  {}",
        problems.join("\n  ")
    );
}
