//! `RUN` steps that install Python distributions, predicted instead of run: `pip install` (also
//! `python -m pip`, `uv pip`) with requirements files, `pyproject.toml` projects, names, wheels,
//! `--user`, `--prefix`, `--target`, and `python -m venv`. A distribution whose wheel is in the
//! build context is unpacked from it (its real files, dependencies followed); any other is a
//! stand-in package with a `dist-info`, named through [`crate::names`].

use std::collections::BTreeSet;
use std::sync::Arc;

use importgate_image::{FileData, Keep, NewNode};
use importgate_python::runtime::abspath;

use crate::model::{file, install_stub_distribution, put_meta};
use crate::names::import_names;
use crate::requirements::{
    Item, Requirement, normalize, parse_pip_install, parse_pyproject, parse_requirements,
};
use crate::shell;
use crate::stage::{Predictor, State};
use crate::wheel::{Wheel, wheel_file_name};

/// Where one `pip install` puts things.
struct Dest {
    site: String,
    /// Console scripts directory.
    bin: Option<String>,
    /// The interpreter scripts' shebangs name.
    python: String,
    minor: Option<u8>,
}

/// Commands that change nothing the checker reads (files, config): a `RUN` made only of them
/// and installs is fully predicted.
const HARMLESS: &[&str] = &[
    "echo", "printf", "true", ":", "set", "cd", "export", "cat", "ls", "test", "[", "sleep",
    "which", "id", "whoami", "pwd", "env", "date",
];

/// What a system package manager writes: libraries, programs, and Debian's Python packages
/// (`python3-*` land in `/usr/lib/python3/dist-packages`).
const SYSTEM_DIRS: &[&str] = &[
    "/usr/lib",
    "/lib",
    "/usr/lib64",
    "/lib64",
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
    "/usr/share",
    "/etc",
];

/// The system package managers.
fn is_package_manager(word: &str) -> bool {
    matches!(
        basename(word),
        "apt-get"
            | "apt"
            | "aptitude"
            | "apk"
            | "yum"
            | "dnf"
            | "microdnf"
            | "zypper"
            | "dpkg"
            | "rpm"
    )
}

/// `apt-get install`, `apk add`, `dnf install`... and the like.
fn is_system_installer(w: &[String]) -> bool {
    let Some(first) = w.first() else {
        return false;
    };
    let sub = w
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    match basename(first) {
        "apt-get" | "apt" | "aptitude" => {
            matches!(
                sub,
                Some("install" | "remove" | "purge" | "upgrade" | "dist-upgrade" | "autoremove")
            )
        }
        "apk" => matches!(sub, Some("add" | "del" | "upgrade")),
        "yum" | "dnf" | "microdnf" | "zypper" => {
            matches!(
                sub,
                Some("install" | "remove" | "update" | "upgrade" | "erase")
            )
        }
        "dpkg" | "rpm" => true,
        _ => false,
    }
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn dirname(p: &str) -> String {
    match p.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((d, _)) => d.to_string(),
    }
}

fn is_python(word: &str) -> bool {
    let b = basename(word);
    b == "python"
        || b.strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn is_pip(word: &str) -> bool {
    let b = basename(word);
    b == "pip"
        || b.strip_prefix("pip")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The `dist-info` directory of an installed distribution in `site`, if any.
fn installed_dist_info(state: &State, site: &str, name: &str) -> Option<String> {
    let norm = normalize(name);
    state
        .fs
        .read_dir(site)?
        .into_iter()
        .filter_map(|n| n.strip_suffix(".dist-info"))
        .find(|stem| normalize(stem.split('-').next().unwrap_or(stem)) == norm)
        .map(|stem| format!("{site}/{stem}.dist-info"))
}

/// Removes an installed distribution's files (its RECORD) before pip reinstalls it.
fn uninstall(state: &mut State, site: &str, name: &str) {
    let Some(info) = installed_dist_info(state, site, name) else {
        return;
    };
    let record = state
        .fs
        .read_to_string(&format!("{info}/RECORD"))
        .unwrap_or_default();
    for line in record.lines() {
        let rel = line.split(',').next().unwrap_or("").trim();
        if !rel.is_empty() {
            let _ = state.fs.remove(&abspath(site, rel));
        }
    }
    let _ = state.fs.remove(&info);
}

impl Predictor<'_> {
    /// Predicts what a `RUN` line does: installs, venvs, accounts and the file operations of
    /// [`crate::fileops`]; false when some command of it is none of these nor known to change
    /// nothing the checker reads. Each such command is kept in the stage's `unmodelled` with the paths it
    /// may write. `cd DIR` changes the working directory for the rest of the line.
    pub(crate) fn run_step(
        &mut self,
        state: &mut State,
        text: &str,
        line: usize,
        args: &[(String, String)],
    ) -> bool {
        let saved_workdir = state.config.working_dir.clone();
        let commands = shell::commands_with_sep(text);
        // Inside a loop or a conditional, no command's effect is certain.
        let control = commands
            .iter()
            .any(|(_, w)| w.first().is_some_and(|f| shell::is_control(f)));
        let mut all_known = true;
        let mut cwd_known = true;
        for (sep, raw) in commands {
            let env = state.config.env.clone();
            let lookup = |name: &str| -> Option<String> {
                env.iter()
                    .rev()
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
                    .or_else(|| {
                        args.iter()
                            .rev()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone())
                    })
            };
            let mut certain = cwd_known && !control && sep != shell::Sep::Or;
            let expanded: Vec<String> = raw
                .iter()
                .map(|w| {
                    let (e, known) = shell::expand(w, &lookup);
                    certain &= known;
                    e
                })
                .collect();
            let (words, redirects) = crate::fileops::split_redirects(&expanded);
            let mut w: &[String] = &words;
            // Assignments, `exec`, `env`, `sudo` and the keywords of compound commands in
            // front of the command.
            while let Some(first) = w.first() {
                if first.contains('=') && !first.starts_with('-')
                    || matches!(first.as_str(), "exec" | "env" | "sudo" | "time" | "nohup")
                    || shell::is_control(first)
                {
                    w = &w[1..];
                } else {
                    break;
                }
            }
            let Some(first) = w.first() else {
                continue;
            };
            let known = self.run_command(state, w, &redirects, certain, line);
            if basename(first) == "cd" {
                match (certain, w.get(1)) {
                    (true, Some(dir)) if state.fs.is_dir(&abspath(&state.workdir(), dir)) => {
                        state.config.working_dir = abspath(&state.workdir(), dir);
                    }
                    (true, None) => {
                        state.config.working_dir = self.home(state);
                    }
                    _ => cwd_known = false,
                }
            }
            all_known &= known;
        }
        state.config.working_dir = saved_workdir;
        all_known
    }

    /// One simple command of a `RUN` line; false when it is not modelled (then it is kept in
    /// `unmodelled`). `certain` is false when its words or whether it runs are not known.
    fn run_command(
        &mut self,
        state: &mut State,
        w: &[String],
        redirects: &[crate::fileops::Redirect],
        certain: bool,
        line: usize,
    ) -> bool {
        let Some(first) = w.first() else {
            return true;
        };
        let cwd = state.workdir();
        let mut known = false;
        let mut installer = false;
        if is_pip(first) && w.get(1).is_some_and(|a| a == "install") {
            self.pip_install(state, first, None, &w[2..], line);
            known = true;
        } else if is_python(first) {
            let rest: Vec<&String> = w[1..]
                .iter()
                .skip_while(|a| a.starts_with('-') && *a != "-m")
                .collect();
            match rest.as_slice() {
                [m, pip, install, args @ ..]
                    if *m == "-m" && *pip == "pip" && *install == "install" =>
                {
                    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                    self.pip_install(state, first, Some(first), &args, line);
                    known = true;
                }
                [m, compile, ..]
                    if *m == "-m" && (*compile == "compileall" || *compile == "py_compile") =>
                {
                    // Writes `__pycache__` only, which no verdict reads.
                    known = true;
                }
                [m, venv, args @ ..]
                    if *m == "-m" && (*venv == "venv" || *venv == "virtualenv") =>
                {
                    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                    self.venv(state, first, &args, line);
                    known = true;
                }
                _ => installer = true,
            }
        } else if basename(first) == "virtualenv" {
            self.venv(state, "python3", &w[1..], line);
            known = true;
        } else if basename(first) == "uv"
            && w.get(1).is_some_and(|a| a == "pip")
            && w.get(2).is_some_and(|a| a == "install")
        {
            let python = w
                .iter()
                .position(|a| a == "--python" || a == "-p")
                .and_then(|i| w.get(i + 1))
                .cloned()
                .unwrap_or_else(|| "python3".to_string());
            self.pip_install(state, &python, Some(&python), &w[3..], line);
            known = true;
        } else if crate::accounts::account_command(state, w) {
            known = true;
        } else if matches!(
            basename(first),
            "poetry"
                | "pipenv"
                | "conda"
                | "mamba"
                | "micromamba"
                | "pdm"
                | "uv"
                | "pipx"
                | "easy_install"
                | "hatch"
        ) || is_pip(first)
        {
            if matches!(
                basename(first),
                "poetry" | "pipenv" | "conda" | "mamba" | "pdm"
            ) || (basename(first) == "uv" && w.get(1).is_some_and(|a| a == "sync"))
            {
                self.warn_once(format!(
                    "prediction: Dockerfile line {line}: `{}` installs what its lock file says; it is not predicted",
                    w.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
                ));
            }
            installer = true;
        } else if is_package_manager(first) {
            // Installing or removing packages writes the system's directories; the other
            // subcommands (`update`, `clean`) only its own state under /var.
            let mut paths: Vec<String> = if is_system_installer(w) {
                SYSTEM_DIRS.iter().map(|d| d.to_string()).collect()
            } else {
                vec!["/var/lib".to_string(), "/var/cache".to_string()]
            };
            paths.extend(self.path_words(&cwd, &w[1..]));
            state.unmodelled.push(crate::Unmodelled {
                line,
                command: w.join(" "),
                paths,
            });
            return false;
        } else {
            let op = if certain {
                self.file_op(state, w, redirects)
            } else if crate::fileops::is_file_command(first) {
                // Not applied: whether or how it runs is not known.
                crate::fileops::Op::Unsure(Vec::new())
            } else {
                crate::fileops::Op::NotFiles
            };
            match op {
                crate::fileops::Op::NotFiles => {}
                _ if !certain => {
                    let mut paths = self.path_words(&cwd, &w[1..]);
                    paths.extend(redirects.iter().map(|r| abspath(&cwd, &r.target)));
                    if cwd != "/" {
                        // A command run at the root would otherwise make every verdict uncertain.
                        paths.push(cwd.clone());
                    }
                    state.unmodelled.push(crate::Unmodelled {
                        line,
                        command: w.join(" "),
                        paths,
                    });
                    return false;
                }
                crate::fileops::Op::Done => return true,
                crate::fileops::Op::Unsure(paths) => {
                    state.unmodelled.push(crate::Unmodelled {
                        line,
                        command: w.join(" "),
                        paths,
                    });
                    return false;
                }
            }
            if HARMLESS.contains(&basename(first))
                || (is_python(first) || is_pip(first))
                    && w.get(1).is_some_and(|a| a == "--version" || a == "-V")
            {
                // Changes nothing the checker reads, unless its output goes into a file.
                let written: Vec<String> = redirects
                    .iter()
                    .map(|r| abspath(&cwd, &r.target))
                    .filter(|p| p != "/dev/null")
                    .collect();
                if written.is_empty() {
                    return true;
                }
                state.unmodelled.push(crate::Unmodelled {
                    line,
                    command: w.join(" "),
                    paths: written,
                });
                return false;
            }
        }
        if known && certain {
            return true;
        }
        // Not modelled: it may write its path arguments, below its working directory and,
        // when it runs Python or installs Python code, into the interpreter's site-packages.
        let mut paths = self.path_words(&cwd, &w[1..]);
        paths.extend(redirects.iter().map(|r| abspath(&cwd, &r.target)));
        if cwd != "/" {
            // A command run at the root would otherwise make every verdict uncertain.
            paths.push(cwd.clone());
        }
        if installer || known {
            let tool = if is_python(first) {
                first.as_str()
            } else {
                "python3"
            };
            if let Some(dest) = self.interpreter(state, tool, Some(tool)) {
                paths.push(dest.site);
            }
            if matches!(basename(first), "conda" | "mamba" | "micromamba") {
                paths.push("/opt/conda".to_string());
            }
            paths.push(format!("{}/.local", self.home(state)));
        }
        state.unmodelled.push(crate::Unmodelled {
            line,
            command: w.join(" "),
            paths,
        });
        known
    }

    /// Finds a command on the stage's PATH (or as a path) in the predicted filesystem.
    fn which(&self, state: &State, cmd: &str) -> Option<String> {
        if cmd.contains('/') {
            let p = abspath(&state.workdir(), cmd);
            return state.fs.is_file(&p).then_some(p);
        }
        let path = state.env("PATH").unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{cmd}", d.trim_end_matches('/')))
            .find(|p| state.fs.is_file(p))
    }

    /// The interpreter `tool` runs (a python, or a pip script's shebang) and its site dir.
    fn interpreter(&self, state: &State, tool: &str, python: Option<&str>) -> Option<Dest> {
        let tool_path = self.which(state, tool)?;
        let python_path = match python {
            Some(_) => tool_path.clone(),
            None => {
                let script = self.read_image_file(state, &tool_path)?;
                let text = String::from_utf8_lossy(&script[..script.len().min(512)]).into_owned();
                let line = text.lines().next()?.strip_prefix("#!")?.trim().to_string();
                let interp = line.split_whitespace().next()?.to_string();
                let named = if basename(&interp) == "env" {
                    self.which(state, line.split_whitespace().nth(1)?)
                } else {
                    state.fs.is_file(&interp).then_some(interp)
                };
                // A script copied from elsewhere may name an interpreter path that does not
                // exist here; pip then runs with the python next to it.
                match named {
                    Some(p) => p,
                    None => {
                        let beside = format!("{}/python3", dirname(&tool_path));
                        if state.fs.is_file(&beside) {
                            beside
                        } else {
                            self.which(state, "python3")?
                        }
                    }
                }
            }
        };
        let config = importgate_image::ImageConfig {
            entrypoint: None,
            cmd: Some(vec![python_path.clone()]),
            ..state.config.clone()
        };
        let rt = importgate_python::model(&state.fs, &config).ok()?;
        let v = rt.interpreter.version;
        let (site, bin) = match &rt.venv {
            Some(venv) => (
                format!("{venv}/lib/python{v}/site-packages"),
                format!("{venv}/bin"),
            ),
            None if rt.interpreter.debian_site => (
                format!("/usr/local/lib/python{v}/dist-packages"),
                "/usr/local/bin".to_string(),
            ),
            None => {
                let prefix = rt.interpreter.prefix.trim_end_matches('/').to_string();
                (
                    format!("{prefix}/lib/python{v}/site-packages"),
                    format!("{prefix}/bin"),
                )
            }
        };
        Some(Dest {
            site,
            bin: Some(bin),
            python: python_path,
            minor: Some(v.minor),
        })
    }

    fn home(&self, state: &State) -> String {
        if let Some(h) = state.env("HOME") {
            return h.to_string();
        }
        let user = state.config.user.split(':').next().unwrap_or("");
        if !user.is_empty()
            && user != "root"
            && user != "0"
            && let Some(passwd) = state.fs.read_to_string("/etc/passwd")
        {
            for l in passwd.lines() {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() >= 6 && (f[0] == user || f[2] == user) {
                    return f[5].to_string();
                }
            }
            return "/".to_string();
        }
        "/root".to_string()
    }

    fn pip_install(
        &mut self,
        state: &mut State,
        tool: &str,
        python: Option<&str>,
        args: &[String],
        line: usize,
    ) {
        let Some(mut dest) = self.interpreter(state, tool, python) else {
            self.warn_once(format!(
                "prediction: Dockerfile line {line}: `{tool}` is not an interpreter or pip found in the predicted image; its install is not predicted"
            ));
            return;
        };
        let p = parse_pip_install(args);
        let cwd = state.workdir();
        let version = dest.minor.map(|m| format!("3.{m}")).unwrap_or_default();
        if let Some(t) = &p.target {
            dest.site = abspath(&cwd, t);
            dest.bin = Some(format!("{}/bin", dest.site));
        } else if let Some(prefix) = &p.prefix {
            let prefix = abspath(&cwd, prefix);
            dest.site = format!("{prefix}/lib/python{version}/site-packages");
            dest.bin = Some(format!("{prefix}/bin"));
        } else if p.user {
            let base = state
                .env("PYTHONUSERBASE")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}/.local", self.home(state).trim_end_matches('/')));
            dest.site = format!("{base}/lib/python{version}/site-packages");
            dest.bin = Some(format!("{base}/bin"));
        }
        let mut installed = BTreeSet::new();
        let mut queue: Vec<(Item, String)> =
            p.items.into_iter().map(|i| (i, cwd.clone())).collect();
        queue.reverse();
        let mut steps = 0;
        while let Some((item, base)) = queue.pop() {
            steps += 1;
            if steps > 10_000 {
                break;
            }
            match item {
                Item::Include(file) => {
                    let path = abspath(&base, &file);
                    match self.read_image_file(state, &path) {
                        Some(bytes) => {
                            let text = String::from_utf8_lossy(&bytes).into_owned();
                            let dir = dirname(&path);
                            let mut items: Vec<(Item, String)> = parse_requirements(&text)
                                .into_iter()
                                .map(|i| (i, dir.clone()))
                                .collect();
                            items.reverse();
                            queue.extend(items);
                        }
                        None => self.warn_once(format!(
                            "prediction: Dockerfile line {line}: requirements file {path} is not in the image at this step; the build would fail"
                        )),
                    }
                }
                Item::Req(r) => {
                    for dep in self.install(state, &dest, &r, &mut installed, line) {
                        queue.push((dep, base.clone()));
                    }
                }
                Item::Local {
                    path,
                    editable,
                    extras,
                } => {
                    let abs = abspath(&base, &path);
                    for dep in self.install_local(state, &dest, &abs, editable, &extras, &mut installed, line) {
                        queue.push((dep, base.clone()));
                    }
                }
                Item::Unreadable(what) => self.warn_once(format!(
                    "prediction: Dockerfile line {line}: cannot tell which distribution `{what}` installs before the build; its modules are not predicted"
                )),
            }
        }
    }

    /// The context wheel of a distribution, best match for the interpreter first.
    fn find_wheel(&self, name: &str, minor: Option<u8>) -> Option<(String, Wheel)> {
        let norm = normalize(name);
        let tag = minor.map(|m| format!("cp3{m}"));
        let mut candidates: Vec<&str> = self
            .ctx
            .entries()
            .iter()
            .filter(|e| e.path.ends_with(".whl"))
            .filter(|e| wheel_file_name(&e.path).is_some_and(|(n, _)| normalize(&n) == norm))
            .map(|e| e.path.as_str())
            .collect();
        candidates.sort_by_key(|p| {
            let tags = basename(p);
            let exact = tag
                .as_ref()
                .is_some_and(|t| tags.contains(&format!("-{t}-")));
            let pure = tags.contains("-py3-") || tags.contains("-py2.py3-");
            (!exact, !pure)
        });
        let rel = candidates.first()?.to_string();
        let data = self.ctx.read(&rel).ok()?;
        Wheel::read(&rel, &data).map(|w| (rel, w))
    }

    /// Installs one distribution; returns its dependencies to install next.
    fn install(
        &mut self,
        state: &mut State,
        dest: &Dest,
        req: &Requirement,
        installed: &mut BTreeSet<String>,
        line: usize,
    ) -> Vec<Item> {
        let norm = normalize(&req.name);
        // Once per command; a distribution already in the site is "already satisfied".
        if !installed.insert(norm.clone())
            || installed_dist_info(state, &dest.site, &req.name).is_some()
        {
            return Vec::new();
        }
        if let Some((rel, wheel)) = self.find_wheel(&req.name, dest.minor) {
            return self.install_wheel(state, dest, &rel, &wheel, &req.extras, line);
        }
        let tops = import_names(&req.name);
        let meta = state.meta(0o644);
        install_stub_distribution(&mut state.fs, &dest.site, &req.name, "0", &tops, meta);
        for top in tops {
            self.stubs.entry(top).or_insert_with(|| dest.site.clone());
        }
        if let Some(bin) = &dest.bin {
            for (script, target) in crate::names::console_scripts(&req.name) {
                self.console_script(state, bin, &dest.python, script, target);
            }
        }
        Vec::new()
    }

    /// Unpacks a wheel from the context: every member at its place, contents kept as the
    /// loader's capture policy says, console scripts written like pip writes them.
    fn install_wheel(
        &mut self,
        state: &mut State,
        dest: &Dest,
        rel: &str,
        wheel: &Wheel,
        extras: &[String],
        line: usize,
    ) -> Vec<Item> {
        let data = match self.ctx.read(rel) {
            Ok(d) => d,
            Err(e) => {
                self.warn_once(format!(
                    "prediction: Dockerfile line {line}: cannot read {rel}: {e}"
                ));
                return Vec::new();
            }
        };
        let members = crate::wheel::members_with(&data, &|name: &str, size: u64| {
            let path = self.wheel_target(dest, name);
            match path {
                Some(p) => self.opts.capture.keep(&p, size),
                None => Keep::Nothing,
            }
        });
        for (name, size, bytes) in members {
            let Some(path) = self.wheel_target(dest, &name) else {
                continue;
            };
            let keep = self.opts.capture.keep(&path, size);
            let (content, elf) = crate::fileops::kept(keep, state.modelled, || bytes);
            let mode = if name.contains(".data/scripts/") || name.ends_with(".so") {
                0o755
            } else {
                0o644
            };
            let meta = state.meta(mode);
            if let Err(e) =
                state
                    .fs
                    .insert(&path, NewNode::File(FileData { size, content, elf }), meta)
            {
                tracing::debug!("wheel member {path}: {e}");
            }
        }
        if let (Some(bin), Some(eps)) = (&dest.bin, wheel.text("entry_points.txt")) {
            let mut in_scripts = false;
            for l in eps.lines() {
                let l = l.trim();
                if l.starts_with('[') {
                    in_scripts = l == "[console_scripts]";
                    continue;
                }
                if !in_scripts {
                    continue;
                }
                if let Some((name, target)) = l.split_once('=') {
                    self.console_script(state, bin, &dest.python, name.trim(), target.trim());
                }
            }
        }
        wheel.dependencies(extras, dest.minor)
    }

    /// Where pip puts a wheel member (`None` for data it puts elsewhere).
    fn wheel_target(&self, dest: &Dest, name: &str) -> Option<String> {
        let first = name.split('/').next().unwrap_or(name);
        if first.ends_with(".data") {
            let rest = &name[first.len() + 1..];
            let (kind, rest) = rest.split_once('/')?;
            return match kind {
                "purelib" | "platlib" => Some(format!("{}/{rest}", dest.site)),
                "scripts" => dest.bin.as_ref().map(|b| format!("{b}/{rest}")),
                _ => None,
            };
        }
        Some(format!("{}/{name}", dest.site))
    }

    fn console_script(&self, state: &mut State, bin: &str, python: &str, name: &str, target: &str) {
        let target = target.split_whitespace().next().unwrap_or(target);
        let (module, func) = target.split_once(':').unwrap_or((target, "main"));
        let func_top = func.split('.').next().unwrap_or(func);
        let text = format!(
            "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {func_top}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({func}())\n"
        );
        let meta = state.meta(0o755);
        put_meta(
            &mut state.fs,
            &format!("{bin}/{name}"),
            text.as_bytes(),
            meta,
        );
    }

    /// `pip install .`, `-e .`, a local wheel or project directory.
    #[allow(clippy::too_many_arguments)]
    fn install_local(
        &mut self,
        state: &mut State,
        dest: &Dest,
        path: &str,
        editable: bool,
        extras: &[String],
        installed: &mut BTreeSet<String>,
        line: usize,
    ) -> Vec<Item> {
        if path.ends_with(".whl") {
            let Some(rel) = state.origins.get(path).cloned() else {
                self.warn_once(format!(
                    "prediction: Dockerfile line {line}: wheel {path} does not come from the build context; its modules are not predicted"
                ));
                return Vec::new();
            };
            let Some(wheel) = self.ctx.read(&rel).ok().and_then(|d| Wheel::read(&rel, &d)) else {
                self.warn_once(format!(
                    "prediction: Dockerfile line {line}: {rel} is not a readable wheel"
                ));
                return Vec::new();
            };
            if !installed.insert(normalize(&wheel.name)) {
                return Vec::new();
            }
            return self.install_wheel(state, dest, &rel, &wheel, extras, line);
        }
        if !state.fs.is_dir(path) {
            self.warn_once(format!(
                "prediction: Dockerfile line {line}: {path} is not a project directory in the image at this step; the build would fail"
            ));
            return Vec::new();
        }
        let pyproject = format!("{}/pyproject.toml", path.trim_end_matches('/'));
        let project = self
            .read_image_file(state, &pyproject)
            .and_then(|b| parse_pyproject(&String::from_utf8_lossy(&b), extras));
        let Some(project) = project else {
            self.warn_once(format!(
                "prediction: Dockerfile line {line}: {path} has no readable pyproject.toml; what it installs (setup.py) is not predicted"
            ));
            return Vec::new();
        };
        if project.dynamic_dependencies {
            self.warn_once(format!(
                "prediction: Dockerfile line {line}: {pyproject} declares its dependencies as dynamic; they are not predicted"
            ));
        }
        let name = project
            .name
            .clone()
            .unwrap_or_else(|| basename(path).to_string());
        installed.insert(normalize(&name));
        // A local project is always (re)installed: pip removes the previous files first.
        uninstall(state, &dest.site, &name);
        // The project's own packages: flat or `src/` layout.
        let src = if state.fs.is_dir(&format!("{path}/src")) {
            format!("{path}/src")
        } else {
            path.to_string()
        };
        let packages: Vec<String> = state
            .fs
            .read_dir(&src)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !matches!(*n, "tests" | "test" | "docs" | "build" | "dist"))
            .filter(|n| state.fs.is_file(&format!("{src}/{n}/__init__.py")))
            .map(str::to_string)
            .collect();
        let canonical = name.replace('-', "_");
        let meta = state.meta(0o644);
        if editable {
            // A path `.pth`, as setuptools' and hatchling's editable installs write for a
            // plain layout.
            let pth = format!("{}/__editable__.{canonical}-0.pth", dest.site);
            put_meta(&mut state.fs, &pth, format!("{src}\n").as_bytes(), meta);
            install_stub_distribution(&mut state.fs, &dest.site, &name, "0", &[], meta);
        } else {
            // The packages are copied as they are (their sources are known).
            let mut writes = Vec::new();
            for pkg in &packages {
                let from = format!("{src}/{pkg}");
                for (p, id) in state.fs.walk_files(&from) {
                    if let importgate_image::NodeKind::File(d) = state.fs.kind(id) {
                        let rest = &p[src.len() + 1..];
                        writes.push((format!("{}/{rest}", dest.site), d.clone(), p.clone()));
                    }
                }
            }
            let mut record = Vec::new();
            for (target, data, from) in writes {
                let rel = target[dest.site.len() + 1..].to_string();
                let data = match (&data.content, self.read_image_file(state, &from)) {
                    (None, Some(bytes))
                        if self.opts.capture.keep(&target, data.size) == Keep::Contents =>
                    {
                        FileData {
                            size: data.size,
                            content: Some(Arc::from(bytes)),
                            elf: None,
                        }
                    }
                    _ => data,
                };
                if state.fs.insert(&target, NewNode::File(data), meta).is_ok() {
                    record.push(rel);
                }
            }
            install_stub_distribution(&mut state.fs, &dest.site, &name, "0", &[], meta);
            let record_path = format!("{}/{canonical}-0.dist-info/RECORD", dest.site);
            let mut text = state.fs.read_to_string(&record_path).unwrap_or_default();
            for r in record {
                text.push_str(&format!("{r},,\n"));
            }
            put_meta(&mut state.fs, &record_path, text.as_bytes(), meta);
        }
        if let Some(bin) = &dest.bin {
            for (script, target) in &project.scripts {
                self.console_script(state, bin, &dest.python, script, target);
            }
        }
        project.dependencies
    }

    /// `python -m venv DIR`: the layout `venv` writes (pyvenv.cfg, bin/python links, an empty
    /// site-packages with pip unless `--without-pip`).
    fn venv(&mut self, state: &mut State, python: &str, args: &[String], line: usize) {
        let Some(dir) = args.iter().find(|a| !a.starts_with('-')) else {
            return;
        };
        let without_pip = args.iter().any(|a| a == "--without-pip");
        let system_site = args.iter().any(|a| a == "--system-site-packages");
        let Some(base) = self.interpreter(state, python, Some(python)) else {
            self.warn_once(format!(
                "prediction: Dockerfile line {line}: `{python}` is not found in the predicted image; the venv is not predicted"
            ));
            return;
        };
        let Some(minor) = base.minor else {
            return;
        };
        let dir = abspath(&state.workdir(), dir);
        let real = state
            .fs
            .realpath(&base.python)
            .unwrap_or(base.python.clone());
        let cfg = format!(
            "home = {}\ninclude-system-site-packages = {system_site}\nversion = 3.{minor}\nexecutable = {real}\ncommand = {real} -m venv {dir}\n",
            dirname(&base.python)
        );
        let meta = state.meta(0o644);
        let put = |state: &mut State, path: String, node: NewNode, mode: u32| {
            let m = importgate_image::Meta { mode, ..meta };
            if let Err(e) = state.fs.insert(&path, node, m) {
                tracing::debug!("venv {path}: {e}");
            }
        };
        put(
            state,
            format!("{dir}/pyvenv.cfg"),
            file(cfg.as_bytes()),
            0o644,
        );
        put(
            state,
            format!("{dir}/bin/python"),
            NewNode::Symlink(base.python.clone()),
            0o777,
        );
        put(
            state,
            format!("{dir}/bin/python3"),
            NewNode::Symlink("python".into()),
            0o777,
        );
        put(
            state,
            format!("{dir}/bin/python3.{minor}"),
            NewNode::Symlink("python".into()),
            0o777,
        );
        let site = format!("{dir}/lib/python3.{minor}/site-packages");
        put(state, site.clone(), NewNode::Dir, 0o755);
        put(
            state,
            format!("{dir}/lib64"),
            NewNode::Symlink("lib".into()),
            0o777,
        );
        if !without_pip {
            let script = format!(
                "#!{dir}/bin/python3.{minor}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom pip._internal.cli.main import main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"
            );
            for name in [
                "pip".to_string(),
                "pip3".to_string(),
                format!("pip3.{minor}"),
            ] {
                put(
                    state,
                    format!("{dir}/bin/{name}"),
                    file(script.as_bytes()),
                    0o755,
                );
            }
            install_stub_distribution(&mut state.fs, &site, "pip", "0", &["pip".to_string()], meta);
        }
    }
}
