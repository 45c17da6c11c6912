use proptest::prelude::*;

use super::*;

fn pats(lines: &[&str]) -> Vec<Pattern> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| new_pattern(l, i + 1).expect("valid pattern"))
        .collect()
}

fn matcher(lines: &[&str]) -> Matcher {
    Matcher::new(&pats(lines), Flavor::Current).expect("compiles")
}

/// The walk's evaluation of `file`, with the results of each parent directory computed first,
/// as `TestMatches/MatchesUsingParentResults` does.
fn walk_eval(m: &Matcher, file: &str) -> bool {
    let mut info = MatchInfo::default();
    let parts: Vec<&str> = file.split('/').collect();
    for n in 1..parts.len() {
        let dir = parts[..n].join("/");
        if dir.is_empty() {
            continue;
        }
        info = m.matches_using_parent(&dir, &info).2;
    }
    m.matches_using_parent(file, &info).0
}

/// (pattern lines, path, excluded): anchored at the root, parent directories count, `**` spans
/// directories, `*` and `?` stay inside one, the last matching line decides.
const CASES: &[(&[&str], &str, bool)] = &[
    (&["secrets"], "secrets", true),
    (&["secrets"], "secrets/key.pem", true),
    (&["secrets"], "app/secrets", false),
    (&["*.pyc"], "main.pyc", true),
    (&["*.pyc"], "app/main.pyc", false),
    (&["*/*.pyc"], "app/main.pyc", true),
    (&["**/*.pyc"], "main.pyc", true),
    (&["**/*.pyc"], "a/b/c/main.pyc", true),
    (&["**/__pycache__"], "app/core/__pycache__/x.pyc", true),
    (&["app/**"], "app/core/x.py", true),
    (&["app/**"], "application.py", false),
    (&["app/**/test_*.py"], "app/test_a.py", true),
    (&["app/**/test_*.py"], "app/x/y/test_a.py", true),
    (&["app/**/test_*.py"], "app/x/y/a_test.py", false),
    (&["?.py"], "a.py", true),
    (&["?.py"], "ab.py", false),
    (&["?.py"], "/.py", false),
    (&["[ab].py"], "b.py", true),
    (&["[^ab].py"], "b.py", false),
    (&["[^ab].py"], "c.py", true),
    (&["[a-c]*.txt"], "bee.txt", true),
    (&["[a-c]*.txt"], "dee.txt", false),
    (&["\\*.py"], "*.py", true),
    (&["\\*.py"], "a.py", false),
    (&["docs/./../docs/*.md"], "docs/a.md", true),
    (&["*", "!app"], "app/main.py", false),
    (&["*", "!app"], "README.md", true),
    (&["app", "!app/main.py"], "app/main.py", false),
    (&["app", "!app/main.py"], "app/other.py", true),
    (&["!app/main.py", "app"], "app/main.py", true),
    (
        &["app/*.py", "!app/keep.py", "app/keep*"],
        "app/keep.py",
        true,
    ),
    (&["**", "!**/*.py"], "a/b/c.py", false),
    (&["**", "!**/*.py"], "a/b/c.txt", true),
];

#[test]
fn pattern_cases() {
    for (lines, text, excluded) in CASES {
        let m = matcher(lines);
        assert_eq!(
            m.matches_or_parent_matches(text).0,
            *excluded,
            "{lines:?} {text:?}"
        );
        assert_eq!(walk_eval(&m, text), *excluded, "walk {lines:?} {text:?}");
    }
}

#[test]
fn malformed_patterns_are_rejected() {
    for bad in ["[", "a[", "[a-", "a\\"] {
        assert!(new_pattern(bad, 1).is_err(), "{bad:?} must be rejected");
    }
    for good in ["a", "[a]", "*", "**/x"] {
        assert!(new_pattern(good, 1).is_ok(), "{good:?} must be accepted");
    }
}

#[test]
fn simple_patterns_need_no_regex() {
    assert_eq!(
        translate(&clean("app/main.py"), Flavor::Current).0,
        T::Exact
    );
    assert_eq!(translate(&clean("app/**"), Flavor::Current).0, T::Prefix);
    assert_eq!(
        translate(&clean("**/main.py"), Flavor::Current).0,
        T::Suffix
    );
    assert_eq!(translate(&clean("app/*.py"), Flavor::Current).0, T::Regexp);
}

#[test]
fn read_all_follows_ignorefile() {
    let text = "\u{feff}# comment\n  # not a comment\n\n  *.pyc  \n! keep.pyc\n/abs/path/\n./x/../y\n!/z\n\t\r\n/\n";
    let got = read_all(text);
    assert_eq!(
        got,
        vec![
            (2, "# not a comment".to_string()),
            (4, "*.pyc".to_string()),
            (5, "!keep.pyc".to_string()),
            (6, "abs/path".to_string()),
            (7, "y".to_string()),
            (8, "!z".to_string()),
            (10, "/".to_string()),
        ]
    );
}

#[test]
fn crlf_lines_and_missing_final_newline() {
    assert_eq!(
        read_all("a\r\nb"),
        vec![(1, "a".to_string()), (2, "b".to_string())]
    );
    assert!(read_all("").is_empty());
}

#[test]
fn parse_reports_line_of_bad_pattern() {
    let err = IgnoreFile::parse(Path::new("/c/.dockerignore"), "ok\n\n[abc\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/c/.dockerignore:3: invalid pattern `[abc`: syntax error in pattern `[abc`"
    );
    let err = IgnoreFile::parse(Path::new(".dockerignore"), "!\n").unwrap_err();
    assert!(err.to_string().contains(":1:"), "{err}");
}

#[test]
fn clean_like_go() {
    for (i, o) in [
        ("", "."),
        (".", "."),
        ("a/", "a"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/./b/", "a/b"),
        ("a/../b", "b"),
        ("../a", "../a"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("/", "/"),
        ("!a/../b", "b"),
        ("!.", "!."),
    ] {
        assert_eq!(clean(i), o, "{i:?}");
    }
}

#[test]
fn last_match_wins_and_decider() {
    let m = matcher(&["*.md", "!README*.md", "README-secret.md"]);
    assert_eq!(m.matches_or_parent_matches("CHANGES.md"), (true, Some(0)));
    assert_eq!(m.matches_or_parent_matches("README.md"), (false, Some(1)));
    assert_eq!(
        m.matches_or_parent_matches("README-secret.md"),
        (true, Some(2))
    );
    assert_eq!(m.matches_or_parent_matches("x.txt"), (false, None));
}

#[test]
fn anchored_at_root_not_any_depth() {
    let m = matcher(&["*.pyc", "build"]);
    assert!(m.matches_or_parent_matches("a.pyc").0);
    assert!(!m.matches_or_parent_matches("pkg/a.pyc").0);
    assert!(m.matches_or_parent_matches("build/x/y").0);
    assert!(!m.matches_or_parent_matches("src/build").0);
    let m = matcher(&["**/*.pyc"]);
    assert!(m.matches_or_parent_matches("pkg/sub/a.pyc").0);
    assert!(m.matches_or_parent_matches("a.pyc").0);
}

#[test]
fn character_classes_and_escapes() {
    let m = matcher(&["file[0-9].txt", "x[^ab]y", "q[!]z", "lit\\*eral", "[[]b"]);
    assert!(m.matches_or_parent_matches("file3.txt").0);
    assert!(!m.matches_or_parent_matches("filea.txt").0);
    assert!(m.matches_or_parent_matches("xcy").0);
    assert!(!m.matches_or_parent_matches("xay").0);
    // Go classes negate with `^` only; `[!]` is a class holding `!`.
    assert!(m.matches_or_parent_matches("q!z").0);
    assert!(m.matches_or_parent_matches("lit*eral").0);
    assert!(!m.matches_or_parent_matches("litXeral").0);
    // `[` inside a class is literal in Go.
    assert!(m.matches_or_parent_matches("[b").0);
}

#[test]
fn suffix_quirk_of_leading_double_star() {
    // `**foo` is a suffix match upstream: it matches `barfoo` although the regular expression
    // `^(.*/)?foo$` would not.
    let m = matcher(&["**foo"]);
    assert!(m.matches_or_parent_matches("barfoo").0);
    let old = Matcher::new(&pats(&["**foo"]), Flavor::Engine2010).unwrap();
    assert!(!old.matches_or_parent_matches("barfoo").0);
}

#[test]
fn engine2010_flavour_reads_regex_metacharacters() {
    let cur = matcher(&["a+b"]);
    let old = Matcher::new(&pats(&["a+b"]), Flavor::Engine2010).unwrap();
    assert!(cur.matches_one_parent("a+b", true));
    assert!(!cur.matches_one_parent("aab", true));
    assert!(old.matches_one_parent("aab", false));
    assert!(!old.matches_one_parent("a+b", false));
}

#[test]
fn walk_reincludes_below_excluded_dir() {
    let m = matcher(&["docs", "!docs/keep.md"]);
    let (skip, decider, info) = m.matches_using_parent("docs", &MatchInfo::default());
    assert!(skip);
    assert_eq!(decider, Some(0));
    assert!(m.must_enter("docs"));
    assert!(!m.matches_using_parent("docs/keep.md", &info).0);
    assert!(m.matches_using_parent("docs/other.md", &info).0);
    // The walk's exception test is textual: `!**/keep.md` does not open `docs`.
    let m = matcher(&["docs", "!**/keep.md"]);
    assert!(!m.must_enter("docs"));
    let m = matcher(&["docs"]);
    assert!(!m.must_enter("docs"));
}

#[test]
fn one_parent_quirk() {
    // The deprecated `Matches` checks only the parent as deep as the pattern: `a` excludes
    // `a/b/c` but `*/b` against `x/a/b/c` checks `x/a` only.
    let m = matcher(&["*/b"]);
    assert!(m.matches_one_parent("a/b/c", true));
    assert!(!m.matches_one_parent("x/a/b/c", true));
    assert!(m.matches_or_parent_matches("a/b/c").0);
}

fn seg() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "ab",
        "a.py",
        "b.txt",
        ".x",
        "dir",
        "__init__.py",
    ])
    .prop_map(str::to_string)
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(seg(), 1..5).prop_map(|v| v.join("/"))
}

fn pattern() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "a", "b", "*", "?", "**", "*.py", "[ab]", "[^a]*", "dir", ".x", "a*", "\\a",
    ]);
    (
        prop::collection::vec(atom, 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(parts, bang, lead)| {
            let mut s = parts.join("/");
            if lead {
                s.insert(0, '/');
            }
            if bang {
                s.insert(0, '!');
            }
            s
        })
}

proptest! {
    /// With a parent chain computed step by step (as the walk does), the walk's evaluation
    /// agrees with `MatchesOrParentMatches` whenever no exception pattern exists.
    #[test]
    fn walk_agrees_without_exceptions(pats_ in prop::collection::vec(pattern(), 1..5), p in path()) {
        let lines: Vec<String> = pats_.into_iter().map(|s| s.trim_start_matches('!').to_string()).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let texts: Vec<String> = read_all(&refs.join("\n")).into_iter().map(|(_, t)| t).collect();
        let trefs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let m = matcher(&trefs);
        prop_assert_eq!(walk_eval(&m, &p), m.matches_or_parent_matches(&p).0);
    }

    /// The decider of an exclusion is an exclusion pattern that matches the path or a parent.
    #[test]
    fn decider_matches(pats_ in prop::collection::vec(pattern(), 1..5), p in path()) {
        let text = pats_.join("\n");
        let texts: Vec<String> = read_all(&text).into_iter().map(|(_, t)| t).collect();
        let trefs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let m = matcher(&trefs);
        let ps = pats(&trefs);
        if let (true, Some(i)) = m.matches_or_parent_matches(&p) {
            prop_assert!(!ps[i].exception);
            let single = Matcher::new(&[Pattern { exception: false, ..ps[i].clone() }], Flavor::Current).unwrap();
            prop_assert!(single.matches_or_parent_matches(&p).0);
        }
    }

    /// Cleaning is idempotent, as Go's is.
    #[test]
    fn clean_idempotent(p in "[a./]{0,12}") {
        let once = clean(&p);
        prop_assert_eq!(clean(&once), once.clone());
    }
}

// --- Fuzz-style robustness: arbitrary and near-valid `.dockerignore` text never panics. ---

fn ignore_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("*".to_string()),
        Just("**".to_string()),
        Just("?".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("[^".to_string()),
        Just("[!a-".to_string()),
        Just("[[:alpha:]]".to_string()),
        Just("[[:".to_string()),
        Just("\\".to_string()),
        Just("!".to_string()),
        Just("/".to_string()),
        Just("//".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("{".to_string()),
        Just("(".to_string()),
        Just("$".to_string()),
        Just("^".to_string()),
        Just("|".to_string()),
        Just("#".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\r".to_string()),
        Just("\n".to_string()),
        Just("é".to_string()),
        Just("\u{feff}".to_string()),
        Just("\u{0}".to_string()),
        "[a-c]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(atom, 0..24).prop_map(|v| v.concat())
}

fn odd_path() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("/".to_string()),
        Just("//".to_string()),
        Just("".to_string()),
        Just("é".to_string()),
        Just("[".to_string()),
        Just("\\".to_string()),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(atom, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_ignore_files_parse_or_fail_with_one_line(text in ignore_text(), paths in prop::collection::vec(odd_path(), 0..6)) {
        match IgnoreFile::parse(Path::new(".dockerignore"), &text) {
            Ok(f) => {
                for p in &paths {
                    let _ = f.excluded_by(p);
                }
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }

    #[test]
    fn arbitrary_unicode_ignore_files_never_panic(text in "\\PC{0,60}", path in "\\PC{0,30}") {
        if let Ok(f) = IgnoreFile::parse(Path::new(".dockerignore"), &text) {
            let _ = f.excluded_by(&path);
        }
    }
}

#[test]
fn very_long_patterns_and_paths_do_not_panic() {
    let text = format!(
        "{}\n!{}\n{}\n",
        "*/".repeat(5000),
        "a/".repeat(5000),
        "[a".repeat(2000)
    );
    if let Ok(f) = IgnoreFile::parse(Path::new(".dockerignore"), &text) {
        let _ = f.excluded_by(&"a/".repeat(5000));
        let _ = f.excluded_by("");
        let _ = f.excluded_by("//..//");
    }
}
