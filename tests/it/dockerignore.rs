//! `.dockerignore` against the real Docker CLI and engine: for each ignore file below, the
//! context is built with `DOCKER_BUILDKIT=0 docker build` (`FROM scratch` + `COPY . /ctx/`) and
//! the files that land in the image must equal the files of importgate's context tar, minus
//! what the engine itself deletes from the received context (the Dockerfile and `.dockerignore`
//! when `.dockerignore` matches them). Files are compared by type, permission bits, content and
//! link target; directories must be those of the tar plus the parents the engine creates for
//! files re-included below an excluded directory. A second test holds `PathMap` (image path →
//! context path through COPY/ADD) to what the classic builder copies.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use importgate_context::{BuildContext, EngineRules, IgnoreLookup};

use crate::support::*;

const DOCKERFILE: &str = "FROM scratch\nCOPY . /ctx/\n";

/// One observed file: kind (`f`, `l`, `d`), permission bits (files only) and content or target.
type Listing = BTreeMap<String, (char, u32, Vec<u8>)>;

struct Case<'a> {
    name: &'static str,
    ignore: &'a str,
    /// Extra files (path, content) beside the common tree.
    extra: &'static [(&'static str, &'static str)],
    /// Dockerfile path relative to the case directory (the context is `ctx/`).
    dockerfile: &'static str,
}

const CASES: &[Case<'static>] = &[
    Case {
        name: "basic",
        ignore: "# build outputs\n*.pyc\nbuild\n\n   secret.txt   \n  # a pattern, not a comment\n",
        extra: &[("# a pattern, not a comment", "x")],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "double-star",
        ignore: "**/*.pyc\n**/__pycache__\ndocs/**\n**/tmp*\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "last-match-wins",
        ignore: "*.md\n!README*.md\nREADME-secret.md\napp/*.py\n!app/keep*.py\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "reinclude-under-excluded-dir",
        ignore: "lib\n!lib/keep\n!lib/also.py\nvendor\n!**/vendor/keep.py\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "build-files-excluded",
        ignore: "Dockerfile\n.dockerignore\n*.txt\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "everything-but-app",
        ignore: "*\n!app\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "question-mark-classes-leading-slash",
        ignore: "file?.txt\ndata[0-9].csv\nx[^ab].py\n/top.txt\n./rel/../other.txt\n/app/./nested/\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "escapes-and-metacharacters",
        ignore: "a\\*b\nweird+name.txt\n(paren).txt\nwith space.txt\n! weird+name.txt\r\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "symlinks",
        ignore: "links/excluded-link\nreal/hidden.py\n",
        extra: &[],
        dockerfile: "ctx/Dockerfile",
    },
    Case {
        name: "dockerfile-in-excluded-subdir",
        ignore: "docker\n*.pyc\n",
        extra: &[("docker/Dockerfile", DOCKERFILE), ("docker/notes.md", "n")],
        dockerfile: "ctx/docker/Dockerfile",
    },
    Case {
        name: "dockerfile-outside-context",
        ignore: "*.pyc\n",
        extra: &[],
        dockerfile: "Dockerfile.outside",
    },
    Case {
        name: "dockerfile-dockerignore-ignored-by-legacy-cli",
        ignore: "*.pyc\n",
        extra: &[("Dockerfile.dockerignore", "app\nREADME.md\n")],
        dockerfile: "ctx/Dockerfile",
    },
];

/// The tree every case starts from.
fn populate(ctx: &Path) {
    let files: &[(&str, &str)] = &[
        ("README.md", "readme"),
        ("README-dev.md", "dev"),
        ("README-secret.md", "secret"),
        ("CHANGES.md", "changes"),
        ("secret.txt", "s"),
        ("top.txt", "top"),
        ("other.txt", "other"),
        ("file1.txt", "1"),
        ("file10.txt", "10"),
        ("data3.csv", "3"),
        ("datax.csv", "x"),
        ("xay.py", ""),
        ("xcy.py", ""),
        ("a*b", "star"),
        ("aab", "aab"),
        ("weird+name.txt", "w"),
        ("weirdname.txt", "w2"),
        ("(paren).txt", "p"),
        ("with space.txt", "sp"),
        ("m.pyc", ""),
        ("app/main.py", "print('main')\n"),
        ("app/keep_me.py", ""),
        ("app/drop.py", ""),
        ("app/m.pyc", ""),
        ("app/__pycache__/main.cpython-312.pyc", ""),
        ("app/nested/deep.py", ""),
        ("app/tmp_cache", ""),
        ("build/out.bin", "bin"),
        ("docs/index.md", ""),
        ("docs/api/ref.md", ""),
        ("lib/keep/a.py", ""),
        ("lib/keep/sub/b.py", ""),
        ("lib/also.py", ""),
        ("lib/gone.py", ""),
        ("vendor/keep.py", ""),
        ("pkg/vendor/keep.py", ""),
        ("real/mod.py", "mod"),
        ("real/hidden.py", ""),
        ("rel/x", ""),
    ];
    write_files(ctx, files);
    fs::set_permissions(ctx.join("app/main.py"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(ctx.join("secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(ctx.join("lib/keep"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::create_dir_all(ctx.join("links")).unwrap();
    symlink("../real", ctx.join("links/to-dir")).unwrap();
    symlink("../real/mod.py", ctx.join("links/to-file")).unwrap();
    symlink("/etc/hostname", ctx.join("links/absolute")).unwrap();
    symlink("nowhere", ctx.join("links/dangling")).unwrap();
    symlink("../real", ctx.join("links/excluded-link")).unwrap();
}

/// Files and links of our tar, as they land under `/ctx/`, with the directories the engine
/// creates: those of the tar and every parent of an entry.
fn expected(ctx: &BuildContext, removed: &[String], outside: bool) -> Listing {
    let mut buf = Vec::new();
    ctx.write_tar(&mut buf).unwrap();
    let mut out = listing_of_tar(&buf, "");
    // The engine extracts the whole tar (creating parents of re-included files), then deletes
    // the build files: their parent directories stay.
    let parents: BTreeSet<String> = out
        .keys()
        .flat_map(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .collect();
    for d in parents {
        out.entry(d).or_insert(('d', 0, Vec::new()));
    }
    out.retain(|p, _| !removed.contains(p) && !p.starts_with(".dockerfile."));
    // The CLI names its own random Dockerfile name in `.dockerignore`; ours differs.
    if outside && let Some(e) = out.get_mut(".dockerignore") {
        e.2.clear();
    }
    out
}

/// Entries of a tar below `prefix` (which is stripped): files with mode and content, links with
/// target, directories with neither.
fn listing_of_tar(bytes: &[u8], prefix: &str) -> Listing {
    let mut out = Listing::new();
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let Some(rel) = name.strip_prefix(prefix) else {
            continue;
        };
        let rel = rel.trim_end_matches('/').to_string();
        if rel.is_empty() {
            continue;
        }
        let h = e.header().clone();
        let entry = match h.entry_type() {
            tar::EntryType::Directory => ('d', 0, Vec::new()),
            tar::EntryType::Symlink => (
                'l',
                0,
                e.link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .as_bytes()
                    .to_vec(),
            ),
            tar::EntryType::Regular | tar::EntryType::Link => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                ('f', h.mode().unwrap() & 0o7777, data)
            }
            other => panic!("{name}: unexpected tar entry type {other:?}"),
        };
        out.insert(rel, entry);
    }
    out
}

/// What `docker build` put under `prefix` (`ctx/`, or `` for everything): the image saved with
/// `docker save`, its layers read in order.
fn image_listing(tag: &str, dir: &Path, prefix: &str) -> Listing {
    let save = dir.join("image.tar");
    docker_save(tag, &save);
    let bytes = fs::read(&save).unwrap();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut a = tar::Archive::new(bytes.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mut out = Listing::new();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        out.extend(listing_of_tar(&files[layer.as_str().unwrap()], prefix));
    }
    out
}

fn server_version() -> String {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .expect("docker version");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `DOCKER_BUILDKIT=0 docker build -f DOCKERFILE CASE/ctx`, without the build cache: cases
/// built in parallel may produce identical layers, and one case removing its image must not pull
/// a cached layer from under another.
fn cli_build(tag: &str, case_dir: &Path, dockerfile: &str) {
    run_ok(
        docker()
            .args([
                "build",
                "-q",
                "--no-cache",
                "--network",
                "none",
                "-t",
                tag,
                "-f",
            ])
            .arg(case_dir.join(dockerfile))
            .arg(case_dir.join("ctx")),
        &format!("docker build {tag}"),
    );
}

/// Builds one case with the Docker CLI and compares; `Some(description)` on a difference.
fn run_case(tmp: &Path, i: usize, case: &Case<'_>, rules: EngineRules) -> Option<String> {
    let case_dir = tmp.join(format!("case-{i}"));
    let ctx_dir = case_dir.join("ctx");
    fs::create_dir_all(&ctx_dir).unwrap();
    populate(&ctx_dir);
    fs::write(ctx_dir.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(case_dir.join("Dockerfile.outside"), DOCKERFILE).unwrap();
    fs::write(ctx_dir.join(".dockerignore"), case.ignore).unwrap();
    write_files(&ctx_dir, case.extra);

    let tag = format!(
        "importgate-test/dockerignore-{}-{i}:latest",
        std::process::id()
    );
    let _image = tagged(&tag);
    cli_build(&tag, &case_dir, case.dockerfile);
    let mut got = image_listing(&tag, &case_dir, "ctx/");

    // The legacy CLI reads `<root>/.dockerignore` only.
    let ctx = BuildContext::open_with(
        &ctx_dir,
        Some(&case_dir.join(case.dockerfile)),
        IgnoreLookup::RootOnly,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let outside = ctx.dockerfile_rel().is_none();
    let mut want = expected(&ctx, &ctx.removed_by_engine(rules), outside);
    if outside && let Some(e) = got.get_mut(".dockerignore") {
        e.2.clear();
    }
    // Directory modes are not compared: parents the engine creates get its defaults.
    for l in [&mut want, &mut got] {
        for v in l.values_mut() {
            if v.0 == 'd' {
                v.1 = 0;
            }
        }
    }
    if want == got {
        return None;
    }
    let w: BTreeSet<_> = want.iter().collect();
    let g: BTreeSet<_> = got.iter().collect();
    Some(format!(
        "{} ({:?}):\n  only in importgate's tar: {:?}\n  only in the image: {:?}",
        case.name,
        case.ignore,
        w.difference(&g).collect::<Vec<_>>(),
        g.difference(&w).collect::<Vec<_>>()
    ))
}

#[test]
fn dockerignore_matches_docker_cli_and_engine() {
    if !require_docker() {
        return;
    }
    let rules = EngineRules::for_version(&server_version());
    let tmp = tempdir();
    let failures: Vec<String> = CASES
        .iter()
        .enumerate()
        .filter_map(|(i, case)| run_case(tmp.path(), i, case, rules))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ignore files drawn from a fixed vocabulary (exceptions, `**`, classes, `?`, leading `/`,
/// names of the common tree) by a seeded generator: the same every run, and each one checked
/// against the Docker CLI and engine like the hand-written cases.
#[test]
fn generated_dockerignore_files_match_docker() {
    if !require_docker() {
        return;
    }
    const ATOMS: &[&str] = &[
        "app",
        "lib",
        "docs",
        "keep",
        "*.py",
        "*.md",
        "*",
        "**",
        "m.pyc",
        "*.pyc",
        "README*",
        "[a-c]*",
        "?.cfg",
        "file?.txt",
        "links",
        "to-dir",
        "real",
        "sub",
        "__pycache__",
        "a[^x]b",
        "vendor",
        "nested",
        "Dockerfile",
        ".dockerignore",
    ];
    let rules = EngineRules::for_version(&server_version());
    let tmp = tempdir();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut failures = Vec::new();
    for i in 0..40 {
        let mut lines = Vec::new();
        for _ in 0..1 + next(5) {
            let depth = if next(3) == 0 { 2 } else { 1 };
            let mut parts: Vec<&str> = (0..depth).map(|_| ATOMS[next(ATOMS.len())]).collect();
            if next(4) == 0 {
                parts.insert(0, "**");
            }
            let mut line = parts.join("/");
            if next(5) == 0 {
                line.insert(0, '/');
            }
            if next(3) == 0 {
                line.insert(0, '!');
            }
            lines.push(line);
        }
        let text = lines.join("\n") + "\n";
        let case = Case {
            name: "generated",
            ignore: &text,
            extra: &[],
            dockerfile: "ctx/Dockerfile",
        };
        failures.extend(run_case(tmp.path(), 100 + i, &case, rules));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every file the classic builder copies from the context, through `WORKDIR`, wildcards, a
/// symlinked source, `--from` stages and `FROM <stage>`, is where `PathMap` says and has the
/// content of the context file it names; and `PathMap` names no file the image lacks.
#[test]
fn path_map_matches_classic_builder_copies() {
    if !require_docker() {
        return;
    }
    let tmp = tempdir();
    let ctx_dir = tmp.path().join("ctx");
    let files: &[(&str, &str)] = &[
        ("app/main.py", "main"),
        ("app/core/x.py", "x"),
        ("app/core/secret_key.py", "secret"),
        ("tools/t.py", "tool"),
        ("a.cfg", "a"),
        ("b.cfg", "b"),
        ("requirements.txt", "req"),
        ("pkgs/one/m.py", "m"),
        ("pkgs/two/n.py", "n"),
        ("single.py", "single"),
        ("real/inner.py", "inner"),
    ];
    write_files(&ctx_dir, files);
    symlink("real", ctx_dir.join("link-to-dir")).unwrap();
    fs::write(ctx_dir.join(".dockerignore"), "**/secret_*\n").unwrap();
    let dockerfile = "FROM scratch AS build\nWORKDIR /src\nCOPY app ./app\nCOPY tools/t.py /tools/\n\
COPY *.cfg /cfg/\n\
FROM build AS mid\n\
FROM scratch\nWORKDIR /w\nCOPY --from=mid /src/app /app\nCOPY --from=mid /tools/t.py /usr/bin/tool\n\
COPY requirements.txt .\nCOPY pkgs/* /flat/\nCOPY single.py /renamed.py\nCOPY link-to-dir /via-link\n\
COPY --from=build /cfg /etc/cfg\n";
    fs::write(ctx_dir.join("Dockerfile"), dockerfile).unwrap();

    let tag = format!("importgate-test/pathmap-{}:latest", std::process::id());
    let _image = tagged(&tag);
    cli_build(&tag, tmp.path(), "ctx/Dockerfile");
    let image = image_listing(&tag, tmp.path(), "");

    let ctx = BuildContext::open(&ctx_dir, None).unwrap();
    let plan = importgate_context::plan(
        &importgate_context::Dockerfile::parse(ctx.dockerfile_text()).unwrap(),
        &[],
        None,
    )
    .unwrap();
    let map = importgate_context::PathMap::new(&ctx, &plan);
    let mapped = map.mapped_files();
    let image_files: BTreeSet<String> = image
        .iter()
        .filter(|(_, v)| v.0 != 'd')
        .map(|(k, _)| format!("/{k}"))
        .collect();
    let mapped_paths: BTreeSet<String> = mapped.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(mapped_paths, image_files);
    for (image_path, loc) in &mapped {
        let (kind, _, data) = &image[image_path.trim_start_matches('/')];
        if *kind == 'f' {
            assert_eq!(
                data,
                &fs::read(ctx_dir.join(&loc.path)).unwrap(),
                "{image_path} <- {}",
                loc.path
            );
        }
    }
    let at = |p: &str| map.to_context(p).map(|l| (l.path, l.copy_line));
    assert_eq!(at("/app/core/x.py"), Some(("app/core/x.py".to_string(), 3)));
    assert_eq!(at("/flat/m.py"), Some(("pkgs/one/m.py".to_string(), 12)));
    assert_eq!(
        at("/w/requirements.txt"),
        Some(("requirements.txt".to_string(), 11))
    );
    assert!(matches!(
        map.why_absent("/app/core/secret_key.py"),
        Some(importgate_context::Absence::Excluded { ref path, ref pattern, .. })
            if path == "app/core/secret_key.py" && pattern.line == 1
    ));
}
