//! JUnit XML for CI test reporters (GitLab, Jenkins, Azure): one test case per application file
//! checked (and per other file with a finding), failing when the file has an error. A reporter then shows
//! "services/case_service.py failed" next to the unit tests, with the diagnostics as its text.

use std::collections::BTreeMap;
use std::io::{self, Write};

use importgate_check::{Finding, Report, Severity};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

fn describe(report: &Report, f: &Finding) -> String {
    let mut s = format!(
        "{}:{}:{}: {}[{}]: {}",
        report.shown_path(f),
        report.shown_line(f),
        f.column,
        f.severity.as_str(),
        f.code.as_str(),
        f.message
    );
    if f.context.is_some() {
        s.push_str("\n  note: in the image at ");
        s.push_str(&f.file);
    }
    for note in &f.notes {
        s.push_str("\n  note: ");
        s.push_str(note);
    }
    if let Some(hint) = &f.hint {
        s.push_str("\n  help: ");
        s.push_str(hint);
    }
    s
}

pub fn render_junit(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut files: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.files {
        files.entry(f.as_str()).or_default();
    }
    for i in &report.imports {
        files.entry(i.file.as_str()).or_default();
    }
    for f in crate::human::sorted_findings(report) {
        files.entry(f.file.as_str()).or_default().push(f);
    }
    let mut suite = TestSuite::new(format!("importgate {}", report.image));
    for (file, findings) in files {
        let errors: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        let status = if errors.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = errors[0];
            status.set_message(format!(
                "{}{} import error{}: {}",
                if report.mode.is_prediction() {
                    "prediction: "
                } else {
                    ""
                },
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                first.message
            ));
            status.set_type(first.code.as_str());
            status.set_description(
                findings
                    .iter()
                    .map(|f| describe(report, f))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            status
        };
        let shown = report.shown_file(file);
        let mut case = TestCase::new(shown.as_ref(), status);
        case.set_classname("importgate.imports");
        // GitLab and Jenkins link a test case to its file through this attribute.
        case.extra.insert("file".into(), shown.as_ref().into());
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("importgate");
    junit.add_test_suite(suite);
    junit
        .serialize(&mut *out)
        .map_err(|e| io::Error::other(e.to_string()))
}
