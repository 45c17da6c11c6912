use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn paths(ctx: &BuildContext) -> Vec<&str> {
    ctx.entries().iter().map(|e| e.path.as_str()).collect()
}

/// (name, type, mode, uid, gid, link, content) of a tar entry.
type TarRow = (String, char, u32, u64, u64, String, Vec<u8>);

fn tar_listing(bytes: &[u8]) -> Vec<TarRow> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let t = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Link => 'h',
                tar::EntryType::Regular => 'f',
                _ => '?',
            };
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (
                name,
                t,
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                link,
                data,
            )
        })
        .collect()
}

#[test]
fn walk_order_exclusions_and_reinclusion() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM scratch\n");
    write(
        r,
        ".dockerignore",
        "# c\n*.pyc\ndocs\n!docs/keep.md\nnode_modules\n",
    );
    write(r, "a/x.py", "");
    write(r, "a.txt", "");
    write(r, "m.pyc", "");
    write(r, "a/m.pyc", "");
    write(r, "docs/keep.md", "");
    write(r, "docs/drop.md", "");
    write(r, "node_modules/p/index.js", "");
    let ctx = BuildContext::open(r, None).unwrap();
    assert_eq!(
        paths(&ctx),
        vec![
            ".dockerignore",
            "Dockerfile",
            "a",
            "a/m.pyc",
            "a/x.py",
            "a.txt",
            "docs/keep.md"
        ]
    );
    assert_eq!(
        ctx.excluded_by("m.pyc").map(|p| (p.line, p.text.as_str())),
        Some((2, "*.pyc"))
    );
    assert_eq!(ctx.excluded_by("docs/drop.md").map(|p| p.line), Some(3));
    assert_eq!(ctx.excluded_by("docs/keep.md"), None);
    // Below a pruned directory the directory's pattern decides.
    assert_eq!(
        ctx.excluded_by("node_modules/p/index.js").map(|p| p.line),
        Some(5)
    );
    assert_eq!(ctx.excluded_by("a/x.py"), None);
}

#[test]
fn build_files_always_sent_and_engine_removal() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM scratch\n");
    write(r, ".dockerignore", "*\n!app\n");
    write(r, "app/main.py", "");
    write(r, "other.txt", "");
    let ctx = BuildContext::open(r, None).unwrap();
    assert_eq!(
        paths(&ctx),
        vec![".dockerignore", "Dockerfile", "app", "app/main.py"]
    );
    assert_eq!(ctx.excluded_by("Dockerfile"), None);
    assert_eq!(ctx.excluded_by("other.txt").map(|p| p.line), Some(1));
    for rules in [EngineRules::Current, EngineRules::Engine2010] {
        assert_eq!(
            ctx.removed_by_engine(rules),
            vec![".dockerignore", "Dockerfile"]
        );
    }
}

#[test]
fn engine_flavours_differ_on_regex_metacharacters() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Docker+file", "FROM scratch\n");
    write(r, ".dockerignore", "Docker+file\n");
    let ctx = BuildContext::open(r, Some(&r.join("Docker+file"))).unwrap();
    assert_eq!(paths(&ctx), vec![".dockerignore", "Docker+file"]);
    assert_eq!(
        ctx.removed_by_engine(EngineRules::Current),
        vec!["Docker+file"]
    );
    // 20.10 reads `+` as a regex quantifier: `Docker+file` no longer matches itself.
    assert!(ctx.removed_by_engine(EngineRules::Engine2010).is_empty());
}

#[test]
fn symlinks_kept_and_tar_headers() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM scratch\n");
    write(r, "pkg/mod.py", "print(1)\n");
    fs::set_permissions(r.join("pkg/mod.py"), fs::Permissions::from_mode(0o4751)).unwrap();
    symlink("pkg", r.join("link")).unwrap();
    symlink("/etc/passwd", r.join("abs")).unwrap();
    fs::hard_link(r.join("pkg/mod.py"), r.join("pkg/twin.py")).unwrap();
    let ctx = BuildContext::open(r, None).unwrap();
    assert_eq!(
        ctx.entry("link").unwrap().kind,
        EntryKind::Symlink {
            target: "pkg".to_string()
        }
    );
    let mut buf = Vec::new();
    assert_eq!(ctx.write_tar(&mut buf).unwrap(), "Dockerfile");
    let listing = tar_listing(&buf);
    let names: Vec<(&str, char)> = listing.iter().map(|l| (l.0.as_str(), l.1)).collect();
    assert_eq!(
        names,
        vec![
            ("Dockerfile", 'f'),
            ("abs", 'l'),
            ("link", 'l'),
            ("pkg/", 'd'),
            ("pkg/mod.py", 'f'),
            ("pkg/twin.py", 'h'),
        ]
    );
    for l in &listing {
        assert_eq!((l.3, l.4), (0, 0));
    }
    let m = listing.iter().find(|l| l.0 == "pkg/mod.py").unwrap();
    assert_eq!(m.2, 0o4751);
    assert_eq!(m.6, b"print(1)\n");
    assert_eq!(
        listing.iter().find(|l| l.0 == "abs").unwrap().5,
        "/etc/passwd"
    );
    assert_eq!(
        listing.iter().find(|l| l.0 == "pkg/twin.py").unwrap().5,
        "pkg/mod.py"
    );
    // Reading follows links inside the context only.
    assert_eq!(ctx.read("link/mod.py").unwrap(), b"print(1)\n");
    assert_eq!(ctx.read("abs").unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(
        ctx.read("../x").unwrap_err().kind(),
        io::ErrorKind::PermissionDenied
    );
}

#[test]
fn dockerfile_outside_root() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("ctx");
    write(&r, "app.py", "");
    write(d.path(), "build/Dockerfile", "FROM scratch\nCOPY . /\n");
    let ctx = BuildContext::open(&r, Some(&d.path().join("build/Dockerfile"))).unwrap();
    assert_eq!(ctx.dockerfile_rel(), None);
    let mut buf = Vec::new();
    let name = ctx.write_tar(&mut buf).unwrap();
    assert!(
        name.starts_with(".dockerfile.") && name.len() == ".dockerfile.".len() + 20,
        "{name}"
    );
    let listing = tar_listing(&buf);
    let names: Vec<&str> = listing.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(names, vec!["app.py", name.as_str(), ".dockerignore"]);
    let di = listing.iter().find(|l| l.0 == ".dockerignore").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&di.6),
        format!(".dockerignore\n{name}\n")
    );
    assert_eq!(listing[1].6, b"FROM scratch\nCOPY . /\n");
    assert_eq!(listing[1].2, 0o600);
}

#[test]
fn dockerfile_dockerignore_preferred_unless_root_only() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "app.Dockerfile", "FROM scratch\n");
    write(r, "app.Dockerfile.dockerignore", "secret\n");
    write(r, ".dockerignore", "other\n");
    write(r, "secret", "");
    write(r, "other", "");
    let ctx = BuildContext::open(r, Some(&r.join("app.Dockerfile"))).unwrap();
    assert_eq!(ctx.ignore_display(), "app.Dockerfile.dockerignore");
    assert!(ctx.entry("secret").is_none());
    assert!(ctx.entry("other").is_some());
    let legacy =
        BuildContext::open_with(r, Some(&r.join("app.Dockerfile")), IgnoreLookup::RootOnly)
            .unwrap();
    assert_eq!(legacy.ignore_display(), ".dockerignore");
    assert!(legacy.entry("secret").is_some());
    assert!(legacy.entry("other").is_none());
}

#[test]
fn lowercase_dockerfile_fallback_and_missing_dockerfile() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let err = BuildContext::open(r, None).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot locate Dockerfile: "),
        "{err}"
    );
    write(r, "dockerfile", "FROM scratch\n");
    let ctx = BuildContext::open(r, None).unwrap();
    assert_eq!(ctx.dockerfile_rel(), Some("dockerfile"));
}

#[test]
fn exception_prefix_opens_dir_but_not_double_star() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM scratch\n");
    write(r, ".dockerignore", "lib\n!**/keep.py\n");
    write(r, "lib/keep.py", "");
    write(r, "keep.py", "");
    let ctx = BuildContext::open(r, None).unwrap();
    // `!**/keep.py` would re-include `lib/keep.py`, but the walk never enters `lib`.
    assert!(ctx.entry("lib/keep.py").is_none());
    assert_eq!(ctx.excluded_by("lib/keep.py").map(|p| p.line), Some(1));
    assert!(ctx.entry("keep.py").is_some());
}

/// `ln -s /etc escape`: inside the context an absolute link target starts at the context root,
/// so `COPY escape/passwd /x` finds nothing, and nothing outside the root is ever read.
#[test]
fn a_symlink_to_an_outside_directory_cannot_read_outside_files() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM x\nCOPY escape/passwd /x\n");
    symlink("/etc", r.join("escape")).unwrap();
    symlink("../../../../../../../../etc", r.join("up")).unwrap();
    symlink("/etc/passwd", r.join("pw")).unwrap();
    let ctx = BuildContext::open(r, None).unwrap();
    for rel in [
        "escape/passwd",
        "escape/../escape/passwd",
        "up/passwd",
        "pw",
        "../etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "a/../../etc/passwd",
        "",
        ".",
        "..",
    ] {
        match ctx.read(rel) {
            Ok(bytes) => panic!("{rel}: read {} bytes", bytes.len()),
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
}

#[test]
fn reading_odd_relative_paths_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM x\n");
    write(r, "a/b.txt", "b");
    symlink("a", r.join("loop1")).unwrap();
    symlink("loop2", r.join("loop3")).unwrap();
    symlink("loop3", r.join("loop2")).unwrap();
    symlink("self", r.join("self")).unwrap();
    let ctx = BuildContext::open(r, None).unwrap();
    let long = "a/".repeat(2048);
    for rel in [
        "loop1/b.txt",
        "loop2",
        "self/x",
        "//a//b.txt",
        "a/./b.txt/",
        "a/b.txt/..",
        long.as_str(),
        "\0",
        "a\\b.txt",
    ] {
        let _ = ctx.read(rel);
    }
    assert_eq!(ctx.read("loop1/b.txt").unwrap(), b"b");
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn ignore_line() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("Dockerfile".to_string()),
            Just(".dockerignore".to_string()),
            Just("*".to_string()),
            Just("**".to_string()),
            Just("?".to_string()),
            Just("[".to_string()),
            Just("[^a]".to_string()),
            Just("\\".to_string()),
            Just("!".to_string()),
            Just("/".to_string()),
            Just("..".to_string()),
            Just(".".to_string()),
            Just("#".to_string()),
            Just(" ".to_string()),
        ];
        prop::collection::vec(atom, 0..6).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The walk, the engine rules, the tar and `read` with arbitrary ignore files: a clean
        /// result or a one-line error.
        #[test]
        fn arbitrary_ignore_files_walk_tar_and_read(lines in prop::collection::vec(ignore_line(), 0..6)) {
            let d = tempfile::tempdir().unwrap();
            let r = d.path();
            write(r, "Dockerfile", "FROM x\nCOPY . /app\n");
            write(r, "a/b/c.txt", "c");
            write(r, "a/x", "x");
            write(r, "b/a", "a");
            symlink("/etc", r.join("a/escape")).unwrap();
            symlink("../..", r.join("b/up")).unwrap();
            write(r, ".dockerignore", &lines.join("\n"));
            match BuildContext::open(r, None) {
                Ok(ctx) => {
                    let _ = ctx.removed_by_engine(EngineRules::Current);
                    let _ = ctx.removed_by_engine(EngineRules::Engine2010);
                    let mut buf = Vec::new();
                    if let Err(e) = ctx.write_tar(&mut buf) {
                        prop_assert!(!e.to_string().contains('\n'), "{e}");
                    }
                    if let Ok(bytes) = ctx.read("a/b/c.txt") {
                        prop_assert_eq!(bytes, b"c".to_vec());
                    }
                    for rel in ["a/escape/passwd", "b/up/etc/passwd", "b/up", "a/escape"] {
                        let _ = ctx.excluded_by(rel);
                        prop_assert!(ctx.read(rel).is_err(), "{}", rel);
                    }
                    let df = crate::Dockerfile::parse(ctx.dockerfile_text()).unwrap();
                    let p = crate::plan(&df, &[], None).unwrap();
                    let m = crate::PathMap::new(&ctx, &p);
                    let _ = m.why_absent("/app/a/b/c.txt");
                    let _ = m.uncopied_candidates("a/b/c");
                }
                Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }
}
