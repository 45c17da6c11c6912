//! The classic builder's message stream as typed events: its `stream` texts arrive in arbitrary
//! chunks, so they are cut into lines first, and `Step N/M : INSTRUCTION` lines start a step.

/// One thing the engine reported while building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// A Dockerfile instruction starts (`Step 3/6 : COPY backend/ /app/`).
    Step(StepHeader),
    /// One line of output: the builder's own (` ---> Running in …`) or a `RUN` command's.
    Output(String),
    /// The id of the image the build produced (`sha256:…`).
    ImageId(String),
}

/// `Step 3/6 : COPY backend/ /app/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepHeader {
    pub number: usize,
    pub total: usize,
    /// The instruction as the builder prints it (after its own expansion).
    pub instruction: String,
}

impl StepHeader {
    pub fn parse(line: &str) -> Option<StepHeader> {
        let rest = line.strip_prefix("Step ")?;
        let (counts, instruction) = rest.split_once(" : ")?;
        let (number, total) = counts.split_once('/')?;
        Some(StepHeader {
            number: number.trim().parse().ok()?,
            total: total.trim().parse().ok()?,
            instruction: instruction.trim().to_string(),
        })
    }
}

/// Cuts `stream` texts into lines; a line may span several messages, and one message may hold
/// several lines.
#[derive(Default)]
pub(crate) struct LineSplitter {
    pending: String,
}

impl LineSplitter {
    pub(crate) fn push(&mut self, text: &str) -> Vec<String> {
        self.pending.push_str(text);
        let mut lines = Vec::new();
        while let Some(i) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=i).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        lines
    }

    /// The last line, when the stream ended without a newline.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_parse() {
        assert_eq!(
            StepHeader::parse("Step 3/6 : COPY backend/ /app/"),
            Some(StepHeader {
                number: 3,
                total: 6,
                instruction: "COPY backend/ /app/".into()
            })
        );
        assert_eq!(StepHeader::parse(" ---> Running in 1234"), None);
        assert_eq!(StepHeader::parse("Step x/6 : RUN a"), None);
    }

    #[test]
    fn lines_are_joined_across_messages() {
        let mut s = LineSplitter::default();
        assert!(s.push("Step 1/2 : FR").is_empty());
        assert_eq!(
            s.push("OM base\n ---> abc\npart"),
            ["Step 1/2 : FROM base", " ---> abc"]
        );
        assert_eq!(s.finish().as_deref(), Some("part"));
        assert_eq!(s.finish(), None);
    }
}
