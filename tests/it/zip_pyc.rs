//! `from X import name` where `X` is a module inside a zip archive on `sys.path` (its member's
//! source is read, stored or deflated) or a sourceless `.pyc` (compiled in the image with
//! `python -m compileall -b`, then the `.py` removed; the names of its marshalled code objects
//! decide), on the 3.8, 3.10, 3.11, 3.12 and 3.13 bases. Every import is replayed by CPython in the image.

use crate::support::*;

const MAIN: &str = "from zmod import present\n\
from zmod import absent\n\
from zpkg import helper\n\
from zpkg import nothelper\n\
from pycmod import defined, imported_sub, func, Klass\n\
from pycmod import missing\n\
from pycpkg import inner\n\
from pycpkg import notinner\n";

const PYCMOD: &str = "from os import path as imported_sub\n\
defined = 1\n\
def func():\n    return defined\n\
class Klass:\n    attr = 2\n";

const MAKE_ZIP: &str = "RUN python3 -c \"import zipfile; z = zipfile.ZipFile('/app/lib.zip', 'w', zipfile.ZIP_DEFLATED); \
z.writestr('zmod.py', 'present = 1\\n'); \
z.writestr('zpkg/__init__.py', 'from .sub import helper\\n'); \
z.writestr('zpkg/sub.py', 'def helper():\\n    pass\\n'); z.close()\"";

fn zip_and_bytecode(version: &str) {
    let Some(base) = docker_base("slim", version) else {
        return;
    };
    let img = ImageBuilder::new(&base)
        .file("/app/main.py", MAIN)
        .file("/app/pycmod.py", PYCMOD)
        .file("/app/pycpkg/__init__.py", "from . import inner\n")
        .file("/app/pycpkg/inner.py", "x = 1\n")
        .line(MAKE_ZIP)
        .line("RUN python3 -m compileall -q -b /app/pycmod.py /app/pycpkg && rm /app/pycmod.py /app/pycpkg/__init__.py")
        .line("ENV PYTHONPATH=/app/lib.zip")
        .line("WORKDIR /app\nCMD [\"python3\", \"main.py\"]")
        .build(&format!(
            "importgate-test/zip-pyc-{}",
            version.replace('.', "")
        ));
    let report = check_exit(&img.tag, 1);
    let missing: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "name-not-in-module")
        .map(|f| {
            (
                f["module"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let modules: Vec<&str> = missing.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(modules, ["zmod", "zpkg", "pycmod", "pycpkg"], "{report:#}");
    for (_, message) in &missing {
        assert!(
            ["'absent'", "'nothelper'", "'missing'", "'notinner'"]
                .iter()
                .any(|n| message.contains(n)),
            "{message}"
        );
    }
    differential(&img.tag, &report);
}

#[test]
fn zip_and_bytecode_311() {
    zip_and_bytecode("3.11");
}

#[test]
fn zip_and_bytecode_312() {
    zip_and_bytecode("3.12");
}

#[test]
fn zip_and_bytecode_313() {
    zip_and_bytecode("3.13");
}

/// The 3.8–3.10 code object layout (`co_nlocals` still marshalled).
#[test]
fn zip_and_bytecode_38() {
    zip_and_bytecode("3.8");
}

#[test]
fn zip_and_bytecode_310() {
    zip_and_bytecode("3.10");
}
