//! GitHub Actions workflow commands: each finding becomes an annotation on the pull request
//! (`::error file=…,line=…,col=…,title=…::message`). Data is escaped as the runner requires, so
//! a hostile module name cannot inject another command.

use std::io::{self, Write};

use importgate_check::{Report, Severity};

/// `%`, CR and LF in the message; also `:` and `,` in properties.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render_github(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in crate::human::sorted_findings(report) {
        let kind = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut message = f.message.clone();
        if report.mode.is_prediction() {
            message.push_str(" (prediction)");
        }
        if let Some(hint) = &f.hint {
            message.push_str("\nhelp: ");
            message.push_str(hint);
        }
        writeln!(
            out,
            "::{kind} file={},line={},col={},title={}::{}",
            escape_property(report.shown_path(f).trim_start_matches('/')),
            report.shown_line(f),
            f.column,
            escape_property(&format!("importgate {}", f.code.as_str())),
            escape_data(&message)
        )?;
    }
    Ok(())
}
