//! What the user wants reported and how loudly: severities per [`Kind`], `select`/`ignore` by
//! code, module patterns to ignore, and `# importgate: ignore[code]` comments. Read from
//! `[tool.importgate]` in a `pyproject.toml` or from an `importgate.toml`, then overridden by
//! command-line flags (see docs/configuration.md).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Code, Finding, Kind, Severity};

/// A severity or `off` (the finding is dropped).
pub type Level = Option<Severity>;

/// The decided policy. [`Policy::default`] is what a CI gate should use without configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Severity for each kind of finding; `None` drops the kind.
    pub severities: BTreeMap<Kind, Level>,
    /// When non-empty, only these codes are reported.
    pub select: Vec<Code>,
    /// Codes never reported.
    pub ignore: Vec<Code>,
    /// Dotted module patterns whose failures are not reported: `name` matches the module and its
    /// submodules, `*` matches within one component (`optional_*`, `vendor.*.compat`).
    pub ignore_modules: Vec<String>,
    /// Globs of extra application files and of files to leave out.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            severities: Kind::ALL
                .into_iter()
                .map(|k| (k, Some(default_severity(k))))
                .collect(),
            select: Vec::new(),
            ignore: Vec::new(),
            ignore_modules: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// Startup and module-level failures raise as soon as the module is imported: errors. A lazy or
/// dynamic import only raises when its function runs, and is often deliberately optional
/// (plugins, backends chosen by configuration): a warning, visible but not failing the gate.
/// Guarded failures are correct code; undecidable ones cannot be acted on: info.
pub fn default_severity(kind: Kind) -> Severity {
    match kind {
        Kind::Startup | Kind::ModuleLevel => Severity::Error,
        Kind::Lazy | Kind::Dynamic => Severity::Warning,
        Kind::Guarded | Kind::Undecidable => Severity::Info,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid configuration in {file}: {message}")]
    Toml { file: String, message: String },
    #[error("unknown finding code `{0}` (see docs/rules/README.md)")]
    UnknownCode(String),
    #[error(
        "unknown finding kind `{0}` (startup, module-level, lazy, dynamic, guarded, undecidable)"
    )]
    UnknownKind(String),
    #[error("unknown severity `{0}` (error, warning, info, off)")]
    UnknownSeverity(String),
}

/// The `[tool.importgate]` table, or the top level of `importgate.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub ignore_modules: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `kind = "error" | "warning" | "info" | "off"`.
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct Pyproject {
    #[serde(default)]
    tool: PyprojectTool,
}

#[derive(Debug, Default, Deserialize)]
struct PyprojectTool {
    importgate: Option<toml::Value>,
}

/// Parses a configuration file: `pyproject.toml` (only `[tool.importgate]`; `None` when the
/// table is absent) or anything else as an `importgate.toml`.
pub fn parse_config(file: &str, text: &str) -> Result<Option<ConfigFile>, PolicyError> {
    let err = |message: String| PolicyError::Toml {
        file: file.to_string(),
        message: message.trim().replace('\n', " "),
    };
    if file.rsplit('/').next() == Some("pyproject.toml") {
        let doc: Pyproject = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        return match doc.tool.importgate {
            Some(v) => v.try_into().map(Some).map_err(|e| err(e.to_string())),
            None => Ok(None),
        };
    }
    toml::from_str(text)
        .map(Some)
        .map_err(|e| err(e.to_string()))
}

pub fn parse_level(s: &str) -> Result<Level, PolicyError> {
    match s {
        "error" => Ok(Some(Severity::Error)),
        "warning" => Ok(Some(Severity::Warning)),
        "info" => Ok(Some(Severity::Info)),
        "off" => Ok(None),
        other => Err(PolicyError::UnknownSeverity(other.to_string())),
    }
}

fn codes(names: &[String]) -> Result<Vec<Code>, PolicyError> {
    names
        .iter()
        .map(|n| Code::parse(n).ok_or_else(|| PolicyError::UnknownCode(n.clone())))
        .collect()
}

impl Policy {
    /// Applies a configuration file on top of `self` (lists replace, severities merge).
    pub fn apply(&mut self, cfg: &ConfigFile) -> Result<(), PolicyError> {
        if !cfg.select.is_empty() {
            self.select = codes(&cfg.select)?;
        }
        if !cfg.ignore.is_empty() {
            self.ignore = codes(&cfg.ignore)?;
        }
        if !cfg.ignore_modules.is_empty() {
            self.ignore_modules = cfg.ignore_modules.clone();
        }
        if !cfg.include.is_empty() {
            self.include = cfg.include.clone();
        }
        if !cfg.exclude.is_empty() {
            self.exclude = cfg.exclude.clone();
        }
        for (kind, level) in &cfg.severity {
            self.set_severity(kind, level)?;
        }
        Ok(())
    }

    /// `kind=level` as given to `--severity`.
    pub fn set_severity(&mut self, kind: &str, level: &str) -> Result<(), PolicyError> {
        let k = Kind::parse(kind).ok_or_else(|| PolicyError::UnknownKind(kind.to_string()))?;
        self.severities.insert(k, parse_level(level)?);
        Ok(())
    }

    /// Codes by name, for flags.
    pub fn parse_codes(names: &[String]) -> Result<Vec<Code>, PolicyError> {
        codes(names)
    }

    /// The severity for `kind`, `None` when the kind is turned off.
    pub fn severity(&self, kind: Kind) -> Level {
        self.severities
            .get(&kind)
            .copied()
            .unwrap_or(Some(default_severity(kind)))
    }

    /// Whether the finding survives `select`/`ignore`, module patterns and an ignore comment on
    /// its source line.
    pub fn keeps(&self, f: &Finding) -> bool {
        if !self.select.is_empty() && !self.select.contains(&f.code) {
            return false;
        }
        if self.ignore.contains(&f.code) {
            return false;
        }
        if !f.module.is_empty()
            && self
                .ignore_modules
                .iter()
                .any(|p| module_matches(p, &f.module))
        {
            return false;
        }
        if let Some(line) = &f.source_line
            && let Some(codes) = ignore_comment(line)
            && (codes.is_empty() || codes.iter().any(|c| c == f.code.as_str()))
        {
            return false;
        }
        true
    }
}

/// `pattern` matches `module` or one of its parents: `boto3` matches `boto3.s3`, `optional_*`
/// matches `optional_fast.x`. `*` stays within one dotted component.
pub fn module_matches(pattern: &str, module: &str) -> bool {
    let pat: Vec<&str> = pattern.split('.').collect();
    let parts: Vec<&str> = module.split('.').collect();
    if pat.last() == Some(&"*") && pat.len() == parts.len() + 1 {
        // `pkg.*` also covers `pkg` itself failing.
        return pat[..pat.len() - 1]
            .iter()
            .zip(&parts)
            .all(|(p, m)| component_matches(p, m));
    }
    pat.len() <= parts.len() && pat.iter().zip(&parts).all(|(p, m)| component_matches(p, m))
}

fn component_matches(pattern: &str, s: &str) -> bool {
    wild(pattern.as_bytes(), s.as_bytes())
}

/// `*` matches any run of bytes; everything else matches itself.
fn wild(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wild(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && wild(rest, &s[1..]),
    }
}

/// `# importgate: ignore` (every code, `Some(vec![])`) or `# importgate: ignore[a, b]` in a
/// comment on the line; `None` when there is no such comment.
pub fn ignore_comment(line: &str) -> Option<Vec<String>> {
    let hash = line.find('#')?;
    let comment = &line[hash..];
    let at = comment.find("importgate:")?;
    let rest = comment[at + "importgate:".len()..].trim_start();
    let rest = rest.strip_prefix("ignore")?;
    match rest.strip_prefix('[') {
        Some(list) => {
            let list = list.split(']').next().unwrap_or_default();
            Some(
                list.split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            )
        }
        None if rest.is_empty() || rest.starts_with(char::is_whitespace) => Some(Vec::new()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_patterns() {
        assert!(module_matches("boto3", "boto3"));
        assert!(module_matches("boto3", "boto3.s3.inject"));
        assert!(!module_matches("boto3", "boto3x"));
        assert!(module_matches("optional_*", "optional_fast"));
        assert!(module_matches("optional_*", "optional_fast.sub"));
        assert!(module_matches("pkg.*", "pkg"));
        assert!(module_matches("pkg.*", "pkg.a"));
        assert!(!module_matches("pkg.*.x", "pkg.a.y"));
        assert!(module_matches("*_compat", "six_compat"));
        assert!(!module_matches("*_compat", "compat"));
    }

    #[test]
    fn ignore_comments() {
        assert_eq!(
            ignore_comment("import a  # importgate: ignore"),
            Some(vec![])
        );
        assert_eq!(
            ignore_comment(
                "import a  # noqa  importgate: ignore[module-not-found, lazy-import-missing]"
            ),
            Some(vec![
                "module-not-found".into(),
                "lazy-import-missing".into()
            ])
        );
        assert_eq!(ignore_comment("import a  # importgate: ignored"), None);
        assert_eq!(ignore_comment("import a"), None);
    }

    #[test]
    fn pyproject_table() {
        let text = r#"
[project]
name = "svc"
[tool.importgate]
ignore = ["lazy-import-missing"]
ignore-modules = ["optional_*"]
[tool.importgate.severity]
dynamic = "error"
lazy = "off"
"#;
        let cfg = parse_config("/app/pyproject.toml", text).unwrap().unwrap();
        let mut p = Policy::default();
        p.apply(&cfg).unwrap();
        assert_eq!(p.ignore, vec![Code::LazyImportMissing]);
        assert_eq!(p.severity(Kind::Dynamic), Some(Severity::Error));
        assert_eq!(p.severity(Kind::Lazy), None);
        assert_eq!(p.severity(Kind::Startup), Some(Severity::Error));
        assert!(
            parse_config("/app/pyproject.toml", "[project]\n")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_config("importgate.toml", "bogus = 1"),
            Err(PolicyError::Toml { .. })
        ));
        let bad = parse_config("importgate.toml", "ignore = [\"nope\"]")
            .unwrap()
            .unwrap();
        assert_eq!(
            Policy::default().apply(&bad),
            Err(PolicyError::UnknownCode("nope".into()))
        );
    }
}
