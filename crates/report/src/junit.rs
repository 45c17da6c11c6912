//! JUnit XML for CI test reporters (GitLab, Jenkins, Azure): one test case per application file
//! that has imports or findings, failing when the file has an error. A reporter then shows
//! "services/case_service.py failed" next to the unit tests, with the diagnostics as its text.

use std::collections::BTreeMap;
use std::io::{self, Write};

use importgate_check::{Finding, Report, Severity};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

fn describe(f: &Finding) -> String {
    let mut s = format!(
        "{}:{}:{}: {}[{}]: {}",
        f.file,
        f.line,
        f.column,
        f.severity.as_str(),
        f.code.as_str(),
        f.message
    );
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
                "{} import error{}: {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                first.message
            ));
            status.set_type(first.code.as_str());
            status.set_description(
                findings
                    .iter()
                    .map(|f| describe(f))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            status
        };
        let mut case = TestCase::new(file, status);
        case.set_classname("importgate.imports");
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("importgate");
    junit.add_test_suite(suite);
    junit
        .serialize(&mut *out)
        .map_err(|e| io::Error::other(e.to_string()))
}
