//! Snapshot and schema tests over one shared report, so every format is checked against the
//! same facts and a change to one renderer cannot hide behind a different fixture.

use importgate_check::{
    CheckedImport, Code, ContextRef, Finding, ImportStatus, Kind, Mode, PythonSummary, Report,
    Severity, Startup, Summary,
};
use importgate_python::{Origin, SysPathEntry};
use serde_json::Value;

use crate::{Format, HumanOptions, render, render_github, render_human, render_json};

fn entry(path: &str, origin: Origin) -> SysPathEntry {
    SysPathEntry {
        path: path.to_string(),
        origin,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Two errors (one with more notes than the short report shows), one info without a source
/// line, findings deliberately out of order, and a sys.path with every shape of origin that
/// carries data.
fn fixtures() -> Report {
    let site = "/usr/local/lib/python3.12/site-packages";
    Report {
        image: "myapp:1.2".to_string(),
        python: PythonSummary {
            version: "3.12".to_string(),
            executable: "/usr/local/bin/python3.12".to_string(),
            sys_path: vec![
                entry(
                    "/app",
                    Origin::ScriptDir {
                        script: "/app/main.py".to_string(),
                    },
                ),
                entry("/opt/lib", Origin::PythonPath),
                entry("/usr/local/lib/python312.zip", Origin::StdlibZip),
                entry("/usr/local/lib/python3.12", Origin::Stdlib),
                entry("/usr/local/lib/python3.12/lib-dynload", Origin::LibDynload),
                entry(site, Origin::SitePackages),
                entry(
                    "/opt/vendor",
                    Origin::Pth {
                        file: format!("{site}/vendor.pth"),
                        line: 2,
                    },
                ),
            ],
        },
        entrypoint: "python main.py".to_string(),
        findings: vec![
            Finding {
                id: String::new(),
                severity: Severity::Info,
                code: Code::GuardedImportMissing,
                module: "ujson".to_string(),
                file: "/app/services/case_service.py".to_string(),
                line: 10,
                column: 5,
                message: "No module named 'ujson' (caught by `except ImportError`)".to_string(),
                hint: None,
                notes: strings(&["the fallback `import json` on line 12 resolves"]),
                kind: Kind::Guarded,
                chain: Vec::new(),
                fix_path: None,
                context: None,
                config: None,
                related: Vec::new(),
                affects: Vec::new(),
                source_line: None,
                uncertain: None,
                span_len: 0,
            },
            Finding {
                id: String::new(),
                severity: Severity::Error,
                code: Code::ModuleNotFound,
                module: "core.aws_service".to_string(),
                file: "/app/services/case_service.py".to_string(),
                line: 3,
                column: 1,
                message: "No module named 'core.aws_service'".to_string(),
                hint: Some(
                    "add `/app/core/aws_service.py` to the image, or stop /opt/lib/core from \
                     shadowing /app/core"
                        .to_string(),
                ),
                notes: strings(&[
                    "`core` resolves to /opt/lib/core/__init__.py (PYTHONPATH)",
                    "/app/core is a namespace directory and loses to that regular package",
                    "/opt/lib/core has no aws_service.py, aws_service/ or extension module",
                    "searched /opt/lib/core only: a regular package's __path__ is its directory",
                    "/app/core/aws_service.py exists but is never reached",
                    "PYTHONPATH=/opt/lib comes from the image's ENV",
                ]),
                kind: Kind::Startup,
                chain: strings(&["main.py", "services.case_service", "core.aws_service"]),
                fix_path: None,
                context: None,
                config: None,
                related: Vec::new(),
                affects: Vec::new(),
                source_line: Some("from core.aws_service import upload_case\n".to_string()),
                uncertain: None,
                span_len: 40,
            },
            Finding {
                id: String::new(),
                severity: Severity::Error,
                code: Code::NameNotInModule,
                module: "services".to_string(),
                file: "/app/main.py".to_string(),
                line: 7,
                column: 5,
                message:
                    "cannot import name 'case_servcie' from 'services' (/app/services/__init__.py)"
                        .to_string(),
                hint: Some("did you mean `case_service`?".to_string()),
                notes: strings(&[
                    "`services` is the regular package /app/services",
                    "it has no submodule `case_servcie` and binds no such name",
                ]),
                kind: Kind::ModuleLevel,
                chain: Vec::new(),
                fix_path: None,
                context: None,
                config: None,
                related: Vec::new(),
                affects: Vec::new(),
                source_line: Some("    from services import case_servcie".to_string()),
                uncertain: None,
                span_len: 33,
            },
        ],
        imports: vec![
            CheckedImport {
                file: "/app/main.py".to_string(),
                line: 7,
                column: 5,
                statement: "from services import case_servcie".to_string(),
                module: "services".to_string(),
                name: Some("case_servcie".to_string()),
                package: None,
                status: ImportStatus::Error,
                finding: None,
                raised_in: None,
            },
            CheckedImport {
                file: "/app/services/case_service.py".to_string(),
                line: 2,
                column: 1,
                statement: "from . import models".to_string(),
                module: "services".to_string(),
                name: Some("models".to_string()),
                package: Some("services".to_string()),
                status: ImportStatus::Ok,
                finding: None,
                raised_in: None,
            },
            CheckedImport {
                file: "/app/services/case_service.py".to_string(),
                line: 10,
                column: 5,
                statement: "import ujson".to_string(),
                module: "ujson".to_string(),
                name: None,
                package: Some("services".to_string()),
                status: ImportStatus::Guarded,
                finding: None,
                raised_in: None,
            },
        ],
        summary: Summary {
            files: 14,
            imports: 37,
            errors: 2,
            warnings: 0,
            infos: 1,
            failing_statements: 1,
            failing_files: 1,
        },
        warnings: strings(&[
            "/usr/local/lib/python3.12/site-packages/broken.pth:3: directory /opt/missing does not exist",
        ]),
        startup: Startup {
            understood: true,
            notes: strings(&["python main.py runs /app/main.py"]),
            modules_reached: 12,
            files_parsed: 14,
            third_party_files: 0,
        },
        mode: Mode::Image,
        context_files: Default::default(),
        files: strings(&[
            "/app/main.py",
            "/app/services/case_service.py",
            "/app/util/strings.py",
        ]),
    }
}

fn human(report: &Report, color: bool, verbose: bool) -> String {
    let mut out = Vec::new();
    let opts = HumanOptions {
        color,
        verbose,
        ..HumanOptions::default()
    };
    if let Err(e) = render_human(report, &opts, &mut out) {
        panic!("rendering to a Vec cannot fail: {e}");
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("human output is UTF-8: {e}"))
}

fn json(report: &Report) -> String {
    let mut out = Vec::new();
    if let Err(e) = render_json(report, &mut out) {
        panic!("rendering to a Vec cannot fail: {e}");
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("JSON output is UTF-8: {e}"))
}

#[test]
fn human_plain() {
    insta::assert_snapshot!("human_plain", human(&fixtures(), false, false));
}

#[test]
fn human_verbose() {
    insta::assert_snapshot!("human_verbose", human(&fixtures(), false, true));
}

#[test]
fn json_document() {
    insta::assert_snapshot!("json", json(&fixtures()));
}

#[test]
fn human_colour_only_when_asked() {
    let report = fixtures();
    assert!(!human(&report, false, true).contains('\u{1b}'));
    let coloured = human(&report, true, false);
    assert!(coloured.contains('\u{1b}'));
    // Colour must not change the words, only decorate them.
    let stripped = anstream::adapter::strip_str(&coloured).to_string();
    assert_eq!(stripped, human(&report, false, false));
}

#[test]
fn human_clean_report() {
    let mut report = fixtures();
    report.findings.clear();
    report.warnings.clear();
    report.summary.errors = 0;
    report.summary.infos = 0;
    let text = human(&report, false, false);
    assert_eq!(
        text,
        "all 37 imports in 14 files resolve\n\
         image myapp:1.2 · python 3.12 (/usr/local/bin/python3.12) · entrypoint: python main.py\n"
    );
}

/// A console script of installed code (`datasette serve`): no application file, the startup
/// path it follows is what was checked.
#[test]
fn human_clean_report_without_application_files() {
    let mut report = fixtures();
    report.findings.clear();
    report.warnings.clear();
    report.imports.clear();
    report.summary = Summary::default();
    report.startup.modules_reached = 239;
    let text = human(&report, false, false);
    assert_eq!(
        text.lines().next(),
        Some("no imports in 0 files; the 239 modules the entrypoint imports at startup resolve")
    );
    report.startup.modules_reached = 0;
    let text = human(&report, false, false);
    assert_eq!(text.lines().next(), Some("no imports found in 0 files"));
}

#[test]
fn human_neutralises_escape_sequences_from_the_image() {
    let mut report = fixtures();
    report.warnings = vec!["bad \u{1b}[2J name".to_string()];
    report.python.sys_path[0].path = "/app\u{1b}[31m".to_string();
    report.findings[1].notes = vec!["note \u{1b}]8;;x\u{7}".to_string()];
    report.findings[1].hint = Some("hint \u{1b}[0m".to_string());
    assert!(!human(&report, false, true).contains('\u{1b}'));
}

#[test]
fn json_has_the_documented_shape() {
    let doc: Value = serde_json::from_str(&json(&fixtures()))
        .unwrap_or_else(|e| panic!("output is valid JSON: {e}"));

    // serde_json's default map sorts keys, so this compares the set of names; their order in
    // the document is pinned by the `json` snapshot.
    fn keys(v: &Value) -> Vec<&str> {
        match v.as_object() {
            Some(map) => map.keys().map(String::as_str).collect(),
            None => panic!("expected an object, got {v}"),
        }
    }
    fn sorted<const N: usize>(mut names: [&str; N]) -> [&str; N] {
        names.sort_unstable();
        names
    }

    assert_eq!(
        keys(&doc),
        sorted([
            "schema_version",
            "image",
            "python",
            "entrypoint",
            "findings",
            "imports",
            "summary",
            "warnings",
            "startup",
            "mode"
        ])
    );
    assert_eq!(doc["mode"], serde_json::json!({"kind": "image"}));
    assert_eq!(doc["schema_version"], 2);
    assert_eq!(
        keys(&doc["startup"]),
        sorted([
            "understood",
            "notes",
            "modules_reached",
            "files_parsed",
            "third_party_files"
        ])
    );
    assert!(doc["image"].is_string());
    assert!(doc["entrypoint"].is_string());

    let python = &doc["python"];
    assert_eq!(keys(python), sorted(["version", "executable", "sys_path"]));
    assert!(python["version"].is_string());
    assert!(python["executable"].is_string());
    let sys_path = python["sys_path"].as_array().map_or(&[][..], Vec::as_slice);
    assert_eq!(sys_path.len(), 7);
    for entry in sys_path {
        assert_eq!(keys(entry), sorted(["path", "origin", "description"]));
        assert!(entry["path"].is_string());
        assert!(entry["description"].is_string());
        assert!(entry["origin"]["kind"].is_string());
    }
    let kinds: Vec<&str> = sys_path
        .iter()
        .filter_map(|e| e["origin"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "script-dir",
            "python-path",
            "stdlib-zip",
            "stdlib",
            "lib-dynload",
            "site-packages",
            "pth"
        ]
    );
    assert_eq!(keys(&sys_path[0]["origin"]), sorted(["kind", "script"]));
    assert_eq!(
        keys(&sys_path[6]["origin"]),
        sorted(["kind", "file", "line"])
    );
    assert!(sys_path[6]["origin"]["line"].is_u64());

    let findings = doc["findings"].as_array().map_or(&[][..], Vec::as_slice);
    assert_eq!(findings.len(), 3, "info findings are always in the JSON");
    for f in findings {
        assert_eq!(
            keys(f),
            sorted([
                "id", "severity", "code", "module", "file", "line", "column", "message", "hint",
                "notes", "kind", "chain", "fix_path", "context", "config", "related", "affects"
            ])
        );
        assert!(f["kind"].is_string());
        assert!(
            f["context"].is_null(),
            "an image report has no context locations"
        );
        assert!(f["chain"].is_array());
        for field in ["severity", "code", "module", "file", "message"] {
            assert!(f[field].is_string(), "{field} is a string");
        }
        assert!(f["line"].is_u64() && f["column"].is_u64());
        assert!(f["hint"].is_string() || f["hint"].is_null());
        assert!(
            f["notes"]
                .as_array()
                .is_some_and(|n| n.iter().all(Value::is_string))
        );
    }
    // Sorted by file, line, column, code; the fixture stores them out of order.
    let order: Vec<(&str, u64)> = findings
        .iter()
        .filter_map(|f| Some((f["file"].as_str()?, f["line"].as_u64()?)))
        .collect();
    assert_eq!(
        order,
        [
            ("/app/main.py", 7),
            ("/app/services/case_service.py", 3),
            ("/app/services/case_service.py", 10)
        ]
    );
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(findings[0]["code"], "name-not-in-module");
    assert_eq!(findings[2]["severity"], "info");
    assert!(findings[2]["hint"].is_null());

    let imports = doc["imports"].as_array().map_or(&[][..], Vec::as_slice);
    assert_eq!(imports.len(), 3);
    for i in imports {
        assert_eq!(
            keys(i),
            sorted([
                "file",
                "line",
                "column",
                "statement",
                "package",
                "module",
                "name",
                "status",
                "finding"
            ])
        );
        assert!(i["line"].is_u64() && i["column"].is_u64());
        assert!(i["package"].is_string() || i["package"].is_null());
        assert!(i["name"].is_string() || i["name"].is_null());
    }
    let statuses: Vec<&str> = imports
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses, ["error", "ok", "guarded"]);

    let summary = &doc["summary"];
    assert_eq!(
        keys(summary),
        sorted([
            "files",
            "imports",
            "errors",
            "warnings",
            "infos",
            "failing_statements",
            "failing_files"
        ])
    );
    assert!(keys(summary).iter().all(|k| summary[*k].is_u64()));
    assert!(
        doc["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().all(Value::is_string))
    );
}

#[test]
fn json_ends_with_a_newline() {
    assert!(json(&fixtures()).ends_with("}\n"));
}

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(format.as_str().parse::<Format>(), Ok(format));
        assert_eq!(format.to_string(), format.as_str());
    }
    assert!("yaml".parse::<Format>().is_err());
}

#[test]
fn render_dispatches_on_format() {
    let report = fixtures();
    let mut out = Vec::new();
    if let Err(e) = render(&report, Format::Json, &HumanOptions::default(), &mut out) {
        panic!("rendering to a Vec cannot fail: {e}");
    }
    assert_eq!(String::from_utf8_lossy(&out), json(&report));
}

fn rendered(format: Format) -> String {
    let mut out = Vec::new();
    render(&fixtures(), format, &HumanOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn sarif_document() {
    insta::assert_snapshot!("sarif", rendered(Format::Sarif));
}

#[test]
fn sarif_results_point_at_known_rules() {
    let v: Value = serde_json::from_str(&rendered(Format::Sarif)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), fixtures().findings.len());
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(
            !loc["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with('/')
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn junit_document() {
    insta::assert_snapshot!("junit", rendered(Format::Junit));
}

#[test]
fn github_annotations() {
    insta::assert_snapshot!("github", rendered(Format::Github));
}

#[test]
fn github_escapes_newlines_and_separators() {
    let mut report = fixtures();
    report.findings.truncate(1);
    report.findings[0].message = "a\nb%c".into();
    report.findings[0].hint = None;
    report.findings[0].file = "/app/x,y:z.py".into();
    let mut out = Vec::new();
    render_github(&report, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("file=app/x%2Cy%3Az.py,"), "{text}");
    assert!(text.ends_with("::a%0Ab%25c\n"), "{text}");
}

/// The fixture as if built from `--context caseapp`: the error on case_service.py maps to the
/// context and its hint names a file to create; the info finding's file does too, `main.py`
/// does not map (copied from another stage, say).
fn built() -> Report {
    let mut report = fixtures();
    report.mode = Mode::Built {
        context: "caseapp".into(),
        dockerfile: "caseapp/Dockerfile".into(),
        image_id: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        tags: Vec::new(),
    };
    for f in &mut report.findings {
        if f.file == "/app/services/case_service.py" {
            f.context = Some(ContextRef {
                path: "backend/services/case_service.py".into(),
                copy_line: 5,
                fix_path: None,
                line: None,
            });
        }
        if f.code == Code::ModuleNotFound {
            f.fix_path = Some("/app/core/__init__.py".into());
            f.hint = Some(
                "create backend/core/__init__.py so that `core` is a regular package there".into(),
            );
            if let Some(c) = &mut f.context {
                c.fix_path = Some("backend/core/__init__.py".into());
            }
        }
    }
    report.context_files.insert(
        "/app/services/case_service.py".into(),
        "backend/services/case_service.py".into(),
    );
    report
}

fn rendered_report(report: &Report, format: Format) -> String {
    let mut out = Vec::new();
    render(report, format, &HumanOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn built_human_names_context_files() {
    let text = human(&built(), false, false);
    assert!(
        text.contains("--> caseapp/backend/services/case_service.py:3:1"),
        "{text}"
    );
    assert!(
        text.contains("in the image at /app/services/case_service.py (COPY on line 5"),
        "{text}"
    );
    // Not mapped: stays an image path.
    assert!(text.contains("--> /app/main.py:7:5"), "{text}");
    assert!(!text.contains("prediction"), "{text}");
    insta::assert_snapshot!("built_human", text);
}

#[test]
fn built_json_carries_context_and_mode() {
    let doc: Value = serde_json::from_str(&json(&built())).unwrap();
    assert_eq!(doc["mode"]["kind"], "built");
    assert_eq!(doc["mode"]["context"], "caseapp");
    assert!(
        doc["mode"]["image_id"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "module-not-found")
        .unwrap();
    assert_eq!(
        f["file"], "/app/services/case_service.py",
        "file stays the image path"
    );
    assert_eq!(f["fix_path"], "/app/core/__init__.py");
    assert_eq!(
        f["context"],
        serde_json::json!({
            "path": "backend/services/case_service.py",
            "copy_line": 5,
            "fix_path": "backend/core/__init__.py"
        })
    );
}

#[test]
fn built_sarif_uses_srcroot_for_context_files() {
    let v: Value = serde_json::from_str(&rendered_report(&built(), Format::Sarif)).unwrap();
    let locs: Vec<(String, String)> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let a = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            (
                a["uri"].as_str().unwrap().to_string(),
                a["uriBaseId"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        locs,
        [
            ("app/main.py".to_string(), "IMAGEROOT".to_string()),
            (
                "caseapp/backend/services/case_service.py".to_string(),
                "%SRCROOT%".to_string()
            ),
            (
                "caseapp/backend/services/case_service.py".to_string(),
                "%SRCROOT%".to_string()
            ),
        ]
    );
}

#[test]
fn built_github_and_junit_use_context_files() {
    let gh = rendered_report(&built(), Format::Github);
    assert!(
        gh.contains("file=caseapp/backend/services/case_service.py,line=3,"),
        "{gh}"
    );
    let junit = rendered_report(&built(), Format::Junit);
    assert!(
        junit.contains(r#"name="caseapp/backend/services/case_service.py""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"file="caseapp/backend/services/case_service.py""#),
        "{junit}"
    );
}

#[test]
fn prediction_says_so_on_every_finding_and_in_the_summary() {
    let mut report = built();
    report.mode = Mode::Prediction {
        context: "caseapp".into(),
        dockerfile: "caseapp/Dockerfile".into(),
        base: "bundled model of python:3.12-slim".into(),
    };
    let text = human(&report, false, true);
    let titles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("error[") || l.starts_with("info[") || l.starts_with("warning["))
        .collect();
    assert_eq!(titles.len(), 3, "{text}");
    assert!(titles.iter().all(|t| t.ends_with("(prediction)")), "{text}");
    assert!(
        text.contains("\nprediction: found 2 import errors"),
        "{text}"
    );
    assert!(text.contains("predicted from caseapp"), "{text}");
    let doc: Value = serde_json::from_str(&json(&report)).unwrap();
    assert_eq!(doc["mode"]["kind"], "prediction");
    assert!(rendered_report(&report, Format::Github).contains("(prediction)"));
}

#[test]
fn an_uncertain_prediction_says_why_in_text_and_json() {
    let mut report = built();
    report.mode = Mode::Prediction {
        context: "caseapp".into(),
        dockerfile: "caseapp/Dockerfile".into(),
        base: "bundled model of python:3.12-slim".into(),
    };
    let why = "Dockerfile line 7: `sh gen.sh` is not modelled and may write /app";
    report.findings[0].uncertain = Some(why.into());
    report.findings[0].severity = Severity::Warning;
    let text = human(&report, false, true);
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning[") && l.ends_with(": uncertain (prediction)")),
        "{text}"
    );
    assert!(text.contains(&format!("uncertain: {why}")), "{text}");
    let doc: Value = serde_json::from_str(&json(&report)).unwrap();
    let marked: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("uncertain").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "{doc:#}");
    assert_eq!(marked[0]["uncertain"], why);
    assert_eq!(marked[0]["severity"], "warning");
}
