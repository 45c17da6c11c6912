//! What a `pip install` would install, read without running it: the arguments of the command,
//! requirements files (nested `-r`, comments, options, markers ignored, extras, `name @ url`),
//! and `[project] dependencies` of a `pyproject.toml`.

/// One distribution asked for by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// As written (`PyYAML`); compare with [`normalize`].
    pub name: String,
    pub extras: Vec<String>,
}

/// One item of a requirements file or of a `pip install` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Req(Requirement),
    /// `-r FILE`: another requirements file, relative to the including file.
    Include(String),
    /// A local project directory, archive or wheel (`.`, `./lib`, `dist/x.whl`); `editable`
    /// for `-e`. Extras as in `.[dev]`.
    Local {
        path: String,
        editable: bool,
        extras: Vec<String>,
    },
    /// Something whose distribution cannot be read before the build (a URL without `#egg=`,
    /// a command substitution, a variable).
    Unreadable(String),
}

/// PEP 503 normalisation: lower case, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn looks_local(spec: &str) -> bool {
    spec == "."
        || spec == ".."
        || spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('/')
        || spec.starts_with("file:")
        || spec.ends_with(".whl")
        || spec.ends_with(".tar.gz")
        || spec.ends_with(".zip")
}

/// Splits `path[extra1,extra2]` into the path and the extras.
fn split_extras(spec: &str) -> (String, Vec<String>) {
    if let Some(open) = spec.find('[')
        && let Some(close) = spec[open..].find(']')
    {
        let extras = spec[open + 1..open + close]
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        let mut path = spec[..open].to_string();
        path.push_str(&spec[open + close + 1..]);
        return (path.trim().to_string(), extras);
    }
    (spec.trim().to_string(), Vec::new())
}

/// One requirement specifier (PEP 508, or pip's URL and path forms).
pub fn parse_spec(spec: &str, editable: bool) -> Item {
    let spec = spec.trim().trim_matches(|c| c == '"' || c == '\'');
    if spec.contains("$(") || spec.contains('`') || spec.contains('$') {
        return Item::Unreadable(spec.to_string());
    }
    // The marker never decides here: what a build installs on its own platform is assumed.
    let spec = spec.split(';').next().unwrap_or(spec).trim();
    // PEP 508 direct reference: `name[extras] @ url`.
    if let Some((head, _)) = spec.split_once('@')
        && !head.contains("://")
        && !head.trim().is_empty()
        && head
            .trim()
            .chars()
            .all(|c| is_name_char(c) || matches!(c, '[' | ']' | ',' | ' '))
    {
        return parse_spec(head, false);
    }
    if spec.contains("://") || spec.starts_with("git+") {
        if let Some(egg) = spec.split("#egg=").nth(1) {
            let name: String = egg.chars().take_while(|c| is_name_char(*c)).collect();
            if !name.is_empty() {
                return Item::Req(Requirement {
                    name,
                    extras: Vec::new(),
                });
            }
        }
        return Item::Unreadable(spec.to_string());
    }
    let (path, extras) = split_extras(spec);
    if editable || looks_local(&path) {
        let path = path.strip_prefix("file:").unwrap_or(&path).to_string();
        return Item::Local {
            path,
            editable,
            extras,
        };
    }
    let name: String = spec.chars().take_while(|c| is_name_char(*c)).collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Item::Unreadable(spec.to_string());
    }
    let rest = spec[name.len()..].trim_start();
    let extras = if rest.starts_with('[') {
        split_extras(rest).1
    } else {
        Vec::new()
    };
    Item::Req(Requirement { name, extras })
}

/// Options of requirements files and of `pip install` that take a value.
const VALUE_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "-c",
    "--constraint",
    "--hash",
    "--cache-dir",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--log",
    "--timeout",
    "--retries",
    "--src",
    "--upgrade-strategy",
    "--no-binary",
    "--only-binary",
    "-C",
    "--config-settings",
    "--global-option",
    "--install-option",
    "--report",
    "--root-user-action",
    "--root",
    "--python",
    "--proxy",
    "--cert",
    "--client-cert",
    "--exists-action",
    "--use-feature",
    "--use-deprecated",
];

/// Parses a requirements file. Blank lines, comments and options are skipped; `\` continues a
/// line.
pub fn parse_requirements(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        parse_line(&line, &mut items);
    }
    if !logical.is_empty() {
        parse_line(&logical, &mut items);
    }
    items
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => &line[..i],
        None => line,
    }
}

fn parse_line(line: &str, items: &mut Vec<Item>) {
    let line = strip_comment(line).trim();
    if line.is_empty() {
        return;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let first = words[0];
    let value = |opt: &str| -> Option<String> {
        if first == opt {
            return words.get(1).map(|s| s.to_string());
        }
        first
            .strip_prefix(opt)
            .map(|v| v.trim_start_matches('=').to_string())
            .filter(|v| !v.is_empty())
    };
    for opt in ["--requirement", "-r"] {
        if let Some(v) = value(opt) {
            items.push(Item::Include(v));
            return;
        }
    }
    for opt in ["--editable", "-e"] {
        if let Some(v) = value(opt) {
            items.push(parse_spec(&v, true));
            return;
        }
    }
    if first.starts_with('-') {
        // Any other option (`--index-url`, `--hash`, `--pre`...) carries no distribution.
        return;
    }
    // `name==1.0 --hash=sha256:...`: per-requirement options follow the specifier.
    let spec = line.split(" --").next().unwrap_or(line);
    items.push(parse_spec(spec, false));
}

/// What a `pip install` command asks for and where it installs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipInstall {
    pub items: Vec<Item>,
    pub user: bool,
    pub prefix: Option<String>,
    pub target: Option<String>,
}

/// Parses the arguments after `install`.
pub fn parse_pip_install(args: &[String]) -> PipInstall {
    let mut out = PipInstall::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (opt, inline) = match a.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
            _ => (a, None),
        };
        let take = |i: &mut usize| -> Option<String> {
            if inline.is_some() {
                return inline.clone();
            }
            *i += 1;
            args.get(*i).cloned()
        };
        match opt {
            "-r" | "--requirement" => {
                if let Some(v) = take(&mut i) {
                    out.items.push(Item::Include(v));
                }
            }
            "-e" | "--editable" => {
                if let Some(v) = take(&mut i) {
                    out.items.push(parse_spec(&v, true));
                }
            }
            "--user" => out.user = true,
            "--prefix" => out.prefix = take(&mut i),
            "-t" | "--target" => out.target = take(&mut i),
            o if VALUE_OPTIONS.contains(&o) => {
                take(&mut i);
            }
            o if o.starts_with("-r") && o.len() > 2 && !o.starts_with("--") => {
                out.items.push(Item::Include(o[2..].to_string()));
            }
            o if o.starts_with("-t") && o.len() > 2 && !o.starts_with("--") => {
                out.target = Some(o[2..].to_string());
            }
            o if o.starts_with('-') => {}
            _ => out.items.push(parse_spec(a, false)),
        }
        i += 1;
    }
    out
}

/// `[project] name`, `dependencies` and the `optional-dependencies` of the extras asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub name: Option<String>,
    pub dependencies: Vec<Item>,
    /// `[project.scripts]`: console script name -> `module:function`.
    pub scripts: Vec<(String, String)>,
    /// The build backend declares its dependencies dynamically (not readable).
    pub dynamic_dependencies: bool,
}

/// Reads a `pyproject.toml`; `None` when it is not valid TOML.
pub fn parse_pyproject(text: &str, extras: &[String]) -> Option<Project> {
    let doc: toml::Table = toml::from_str(text).ok()?;
    let mut out = Project::default();
    let Some(project) = doc.get("project").and_then(|p| p.as_table()) else {
        return Some(out);
    };
    out.name = project
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for dep in strings(project.get("dependencies")) {
        out.dependencies.push(parse_spec(&dep, false));
    }
    if let Some(optional) = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table())
    {
        for extra in extras {
            for dep in strings(optional.get(extra)) {
                out.dependencies.push(parse_spec(&dep, false));
            }
        }
    }
    out.dynamic_dependencies = strings(project.get("dynamic"))
        .iter()
        .any(|d| d == "dependencies");
    if let Some(scripts) = project.get("scripts").and_then(|s| s.as_table()) {
        for (name, target) in scripts {
            if let Some(t) = target.as_str() {
                out.scripts.push((name.clone(), t.to_string()));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> Item {
        Item::Req(Requirement {
            name: name.into(),
            extras: vec![],
        })
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(normalize("PyYAML"), "pyyaml");
        assert_eq!(normalize("python_dateutil"), "python-dateutil");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a--_b"), "a-b");
    }

    #[test]
    fn requirements_files_are_read_like_pip_reads_them() {
        let text = "# deps\n\
            flask==3.1.0  # web\n\
            PyYAML>=6 ; python_version >= '3.8'\n\
            requests[socks,security]~=2.31\n\
            -r base.txt\n\
            --requirement=more.txt\n\
            -c constraints.txt\n\
            --index-url https://example.invalid/simple\n\
            -e ./libs/shared\n\
            mylib @ https://example.invalid/mylib-1.0.tar.gz\n\
            https://example.invalid/x.tar.gz\n\
            git+https://example.invalid/repo.git#egg=vcs_pkg\n\
            numpy \\\n    ==1.26.0\n\
            attrs==23.1 --hash=sha256:abc\n\
            ./wheels/local-1.0-py3-none-any.whl\n";
        let items = parse_requirements(text);
        assert_eq!(
            items,
            vec![
                req("flask"),
                req("PyYAML"),
                Item::Req(Requirement {
                    name: "requests".into(),
                    extras: vec!["socks".into(), "security".into()]
                }),
                Item::Include("base.txt".into()),
                Item::Include("more.txt".into()),
                Item::Local {
                    path: "./libs/shared".into(),
                    editable: true,
                    extras: vec![]
                },
                req("mylib"),
                Item::Unreadable("https://example.invalid/x.tar.gz".into()),
                req("vcs_pkg"),
                req("numpy"),
                req("attrs"),
                Item::Local {
                    path: "./wheels/local-1.0-py3-none-any.whl".into(),
                    editable: false,
                    extras: vec![]
                },
            ]
        );
    }

    #[test]
    fn pip_command_lines_give_items_and_destination() {
        let args: Vec<String> = [
            "--no-cache-dir",
            "--no-index",
            "--find-links",
            "/wheels",
            "-r",
            "requirements.txt",
            "--prefix=/install",
            "uvicorn[standard]",
            "-e",
            ".[dev]",
            "$(cat extra.txt)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = parse_pip_install(&args);
        assert_eq!(p.prefix.as_deref(), Some("/install"));
        assert!(!p.user);
        assert_eq!(
            p.items,
            vec![
                Item::Include("requirements.txt".into()),
                Item::Req(Requirement {
                    name: "uvicorn".into(),
                    extras: vec!["standard".into()]
                }),
                Item::Local {
                    path: ".".into(),
                    editable: true,
                    extras: vec!["dev".into()]
                },
                Item::Unreadable("$(cat extra.txt)".into()),
            ]
        );
        let p = parse_pip_install(&["--user".into(), "-t".into(), "/deps".into(), "x".into()]);
        assert!(p.user);
        assert_eq!(p.target.as_deref(), Some("/deps"));
    }

    #[test]
    fn pyproject_dependencies_and_extras() {
        let text = r#"
[project]
name = "svc"
dependencies = ["fastapi>=0.110", "python-dotenv"]
[project.optional-dependencies]
dev = ["pytest"]
[project.scripts]
svc = "svc.cli:main"
"#;
        let p = parse_pyproject(text, &["dev".into()]).expect("toml");
        assert_eq!(p.name.as_deref(), Some("svc"));
        assert_eq!(
            p.dependencies,
            vec![req("fastapi"), req("python-dotenv"), req("pytest")]
        );
        assert_eq!(p.scripts, vec![("svc".into(), "svc.cli:main".into())]);
        assert!(parse_pyproject("not toml [", &[]).is_none());
    }
}
