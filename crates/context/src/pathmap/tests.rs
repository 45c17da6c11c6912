use std::fs;
use std::path::Path;

use super::*;
use crate::{Dockerfile, plan};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn map_for(root: &Path, dockerfile: &str, ignore: &str) -> PathMap {
    write(root, "Dockerfile", dockerfile);
    write(root, ".dockerignore", ignore);
    let ctx = BuildContext::open(root, None).unwrap();
    let p = plan(&Dockerfile::parse(dockerfile).unwrap(), &[], None).unwrap();
    PathMap::new(&ctx, &p)
}

fn loc(path: &str, line: usize) -> Option<ContextLocation> {
    Some(ContextLocation {
        path: path.to_string(),
        copy_line: line,
    })
}

#[test]
fn seed_layout_dir_contents_and_workdir() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "caseapp/backend/main.py", "");
    write(r, "caseapp/backend/core/aws_service.py", "");
    write(r, "caseapp/backend/utils/helpers.py", "");
    write(r, "caseapp/requirements.txt", "");
    let m = map_for(
        r,
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY caseapp/requirements.txt .\nCOPY caseapp/backend/ .\nCMD [\"python\", \"main.py\"]\n",
        "",
    );
    assert_eq!(
        m.to_context("/app/requirements.txt"),
        loc("caseapp/requirements.txt", 3)
    );
    assert_eq!(
        m.to_context("/app/core/aws_service.py"),
        loc("caseapp/backend/core/aws_service.py", 4)
    );
    assert_eq!(m.to_context("/app/core"), loc("caseapp/backend/core", 4));
    assert_eq!(m.to_context("/app"), loc("caseapp/backend", 4));
    assert_eq!(m.to_context("/etc/passwd"), None);
    assert_eq!(
        m.why_absent("/app/core/__init__.py"),
        Some(Absence::NotInContext {
            path: "caseapp/backend/core/__init__.py".to_string()
        })
    );
    assert_eq!(m.why_absent("/app/core/aws_service.py"), None);
    assert_eq!(m.why_absent("/usr/lib/x.py"), None);
}

#[test]
fn excluded_file_explained_with_pattern() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "src/app.py", "");
    write(r, "src/core/__init__.py", "");
    write(r, "src/core/secret_config.py", "");
    write(r, "src/tests/test_x.py", "");
    let m = map_for(
        r,
        "FROM scratch\nCOPY src /srv\n",
        "# ignore\n**/secret_*\nsrc/tests\n",
    );
    let want = |path: &str, text: &str, line: usize| {
        Some(Absence::Excluded {
            path: path.to_string(),
            pattern: Pattern {
                text: text.to_string(),
                line,
                exception: false,
            },
            ignore_file: ".dockerignore".to_string(),
        })
    };
    assert_eq!(m.to_context("/srv/core/secret_config.py"), None);
    assert_eq!(
        m.why_absent("/srv/core/secret_config.py"),
        want("src/core/secret_config.py", "**/secret_*", 2)
    );
    assert_eq!(
        m.why_absent("/srv/tests"),
        want("src/tests", "src/tests", 3)
    );
    assert_eq!(
        m.why_absent("/srv/tests/test_x.py"),
        want("src/tests/test_x.py", "src/tests", 3)
    );
}

#[test]
fn file_dest_rules_wildcards_and_later_copy_wins() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "a.py", "");
    write(r, "b.py", "");
    write(r, "c.txt", "");
    write(r, "v2/a.py", "");
    write(r, "pkgs/one/m.py", "");
    write(r, "pkgs/two/n.py", "");
    let m = map_for(
        r,
        "FROM scratch\nCOPY a.py /x/renamed.py\nCOPY a.py /dir/\nCOPY a.py c.txt /multi\nCOPY *.py /glob/\nCOPY [ab].py /one\nCOPY pkgs/* /flat/\nCOPY v2/a.py /glob/a.py\n",
        "",
    );
    assert_eq!(m.to_context("/x/renamed.py"), loc("a.py", 2));
    assert_eq!(m.to_context("/dir/a.py"), loc("a.py", 3));
    assert_eq!(m.to_context("/multi/c.txt"), loc("c.txt", 4));
    assert_eq!(m.to_context("/glob/b.py"), loc("b.py", 5));
    assert_eq!(m.to_context("/glob/a.py"), loc("v2/a.py", 8));
    // Two matches: the destination is a directory.
    assert_eq!(m.to_context("/one/b.py"), loc("b.py", 6));
    // A wildcard matching directories copies their contents.
    assert_eq!(m.to_context("/flat/m.py"), loc("pkgs/one/m.py", 7));
    assert_eq!(m.to_context("/flat/n.py"), loc("pkgs/two/n.py", 7));
}

#[test]
fn multi_stage_traced_back_to_context() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "app/main.py", "");
    write(r, "app/core/x.py", "");
    write(r, "tools/t.py", "");
    let m = map_for(
        r,
        "FROM python:3.12 AS build\nWORKDIR /src\nCOPY app ./app\nCOPY tools /tools\n\
FROM build AS mid\n\
FROM python:3.12-slim\nCOPY --from=mid /src/app /app\nCOPY --from=mid /tools/t.py /usr/bin/\n",
        "",
    );
    assert_eq!(m.to_context("/app/core/x.py"), loc("app/core/x.py", 3));
    assert_eq!(m.to_context("/usr/bin/t.py"), loc("tools/t.py", 4));
    assert_eq!(m.to_context("/src/app/main.py"), None);
}

#[test]
fn uncopied_candidates_lists_sent_files_no_copy_brings() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "backend/core/aws_service.py", "");
    write(r, "legacy/core/aws_service.py", "");
    write(r, "backend/utils/__init__.py", "");
    let m = map_for(r, "FROM scratch\nCOPY backend/utils /app/utils\n", "");
    assert_eq!(
        m.uncopied_candidates("core/aws_service.py"),
        vec!["backend/core/aws_service.py", "legacy/core/aws_service.py"]
    );
    assert!(m.uncopied_candidates("utils/__init__.py").is_empty());
}

#[test]
fn glob_like_go() {
    for (p, s, want) in [
        ("*.py", "a.py", true),
        ("*.py", "d/a.py", false),
        ("d/*.py", "d/a.py", true),
        ("a?c", "abc", true),
        ("[a-c]x", "bx", true),
        ("[^a-c]x", "bx", false),
        ("\\*", "*", true),
        ("[", "[", false),
        ("a\\", "a", false),
        ("*", "", true),
        ("*", "a/b", false),
        ("*/b", "a/b", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbYcZ", false),
        ("a*b*c", "abcbc", true),
        ("*x*", "ab/x", false),
        ("[a-c]*[^0-9]", "b12z", true),
        ("[a-c]*[^0-9]", "b129", false),
    ] {
        assert_eq!(glob_match(p, s), want, "{p} {s}");
    }
}

#[test]
fn many_stars_stay_linear() {
    // Retrying every split after each `*` never finishes on this (minutes already at 12
    // stars); the matcher answers at once.
    let pattern = format!("{}b", "*a".repeat(40));
    let name = "a".repeat(4000);
    assert!(!glob_match(&pattern, &name));
    assert!(glob_match(&pattern, &format!("{name}b")));
}

#[test]
fn copy_whole_context_into_workdir() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "pkg/__init__.py", "");
    write(r, "run.py", "");
    std::os::unix::fs::symlink("pkg", r.join("alias")).unwrap();
    let m = map_for(
        r,
        "FROM scratch\nWORKDIR /srv\nCOPY . .\nCOPY alias /linked\n",
        "Dockerfile\n",
    );
    assert_eq!(m.to_context("/srv"), loc(".", 3));
    assert_eq!(
        m.to_context("/srv/pkg/__init__.py"),
        loc("pkg/__init__.py", 3)
    );
    assert_eq!(m.to_context("/srv/run.py"), loc("run.py", 3));
    // The link itself is copied as a link; a top-level symlink source is followed.
    assert_eq!(m.to_context("/srv/alias"), loc("alias", 3));
    assert_eq!(
        m.to_context("/linked/__init__.py"),
        loc("pkg/__init__.py", 4)
    );
    // The engine deletes the Dockerfile the ignore file names.
    assert_eq!(m.to_context("/srv/Dockerfile"), None);
    assert_eq!(m.to_context("/srv/.dockerignore"), loc(".dockerignore", 3));
}

// --- Fuzz-style robustness: PathMap queries with odd paths and odd COPY lines never panic. ---

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn odd_path() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("app".to_string()),
            Just("core".to_string()),
            Just("x.py".to_string()),
            Just("..".to_string()),
            Just(".".to_string()),
            Just("/".to_string()),
            Just("//".to_string()),
            Just(String::new()),
            Just("*".to_string()),
            Just("?".to_string()),
            Just("[".to_string()),
            Just("[^a-".to_string()),
            Just("\\".to_string()),
            Just("é".to_string()),
            any::<char>().prop_map(|c| c.to_string()),
        ];
        prop::collection::vec(atom, 0..10).prop_map(|v| v.concat())
    }

    fn fixture() -> (tempfile::TempDir, BuildContext) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "Dockerfile", "FROM x\n");
        write(r, ".dockerignore", "app/secret*\n");
        write(r, "app/main.py", "");
        write(r, "app/core/x.py", "");
        write(r, "app/secret.txt", "");
        std::os::unix::fs::symlink("/etc", r.join("escape")).unwrap();
        std::os::unix::fs::symlink("../..", r.join("app/up")).unwrap();
        let ctx = BuildContext::open(r, None).unwrap();
        (d, ctx)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn odd_copy_sources_and_queries_never_panic(
            srcs in prop::collection::vec(odd_path(), 1..4),
            dests in prop::collection::vec(odd_path(), 1..4),
            queries in prop::collection::vec(odd_path(), 1..6),
        ) {
            let (_d, ctx) = fixture();
            let mut text = String::from("FROM python:3.12 AS a\nWORKDIR /app\n");
            for (s, d) in srcs.iter().zip(dests.iter().cycle()) {
                text.push_str(&format!("COPY {s} {d}\n"));
                text.push_str(&format!("ADD {s} {d}\n"));
            }
            text.push_str("FROM a\nCOPY --from=a / /\nCOPY --from=0 /app /\n");
            let Ok(df) = Dockerfile::parse(&text) else { return Ok(()) };
            let Ok(p) = plan(&df, &[], None) else { return Ok(()) };
            let m = PathMap::new(&ctx, &p);
            let _ = m.mapped_files();
            for q in &queries {
                let _ = m.to_context(q);
                let _ = m.why_absent(q);
                let _ = m.uncopied_candidates(q);
            }
        }
    }

    #[test]
    fn very_long_and_empty_queries() {
        let (_d, ctx) = fixture();
        let df = Dockerfile::parse("FROM x\nCOPY . /app\nCOPY app/* /w/\n").unwrap();
        let m = PathMap::new(&ctx, &plan(&df, &[], None).unwrap());
        // PATH_MAX (4096) characters; the queries are quadratic in the number of components.
        let long = "a/".repeat(2048);
        for q in [
            "",
            "/",
            "//",
            "..",
            "/..",
            "/../../etc/passwd",
            "/app//main.py",
            &long,
        ] {
            let _ = m.to_context(q);
            let _ = m.why_absent(q);
            let _ = m.uncopied_candidates(q);
        }
        assert_eq!(m.to_context("/app/escape/passwd"), None);
    }
}
