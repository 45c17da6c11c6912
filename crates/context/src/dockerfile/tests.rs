use super::*;

fn plan_of(
    text: &str,
    args: &[(&str, &str)],
    target: Option<&str>,
) -> Result<BuildPlan, ContextError> {
    let df = Dockerfile::parse(text)?;
    let args: Vec<(String, String)> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    plan(&df, &args, target)
}

fn copies(s: &Stage) -> Vec<&CopyStep> {
    s.steps
        .iter()
        .filter_map(|st| match st {
            Step::Copy(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn args_env_workdir_and_copy() {
    let p = plan_of(
        r#"ARG PY=3.12
ARG VARIANT
FROM python:${PY}-${VARIANT:-slim} AS base
ARG PY
ARG APP=/srv/app
ENV APP_HOME=$APP \
    OTHER="a b"
ENV A=1
ENV A=2 B=$A
WORKDIR $APP_HOME
WORKDIR sub
COPY --chown=app:app requirements.txt ./
COPY ["src", "lib dir/", "pkg/"]
COPY *.py ${PY}/
USER app
CMD ["python", "-m", "app"]
"#,
        &[("APP", "/opt/x")],
        None,
    )
    .unwrap();
    let s = &p.stages[0];
    assert_eq!(s.base, Base::Image("python:3.12-slim".to_string()));
    assert_eq!(s.line, 3);
    assert_eq!(s.workdir.as_deref(), Some("/opt/x/sub"));
    assert_eq!(
        s.env,
        vec![
            ("APP_HOME".to_string(), "/opt/x".to_string()),
            ("OTHER".to_string(), "a b".to_string()),
            ("A".to_string(), "2".to_string()),
            ("B".to_string(), "1".to_string()),
        ]
    );
    let c = copies(s);
    assert_eq!(c[0].dest, "/opt/x/sub/");
    assert_eq!(c[0].chown.as_deref(), Some("app:app"));
    assert_eq!(c[0].line, 12);
    assert_eq!(c[1].sources, vec!["src", "lib dir/"]);
    assert_eq!(c[1].dest, "/opt/x/sub/pkg/");
    assert_eq!(c[2].dest, "/opt/x/sub/3.12/");
    assert_eq!(s.user.as_deref(), Some("app"));
    assert_eq!(
        s.cmd,
        Some(Command::Exec(vec![
            "python".into(),
            "-m".into(),
            "app".into()
        ]))
    );
}

#[test]
fn global_args_only_in_from_unless_redeclared() {
    let p = plan_of(
        "ARG V=1\nFROM scratch\nCOPY a /$V/\nARG V\nCOPY a /$V/\n",
        &[],
        None,
    )
    .unwrap();
    let c = copies(&p.stages[0]);
    assert_eq!(c[0].dest, "/");
    assert_eq!(c[1].dest, "/1/");
    let p = plan_of(
        "ARG V=1\nFROM scratch\nARG V\nCOPY a /$V/\n",
        &[("V", "9")],
        None,
    )
    .unwrap();
    assert_eq!(copies(&p.stages[0])[0].dest, "/9/");
}

#[test]
fn env_wins_over_arg() {
    let p = plan_of(
        "FROM scratch\nARG X=arg\nENV X=env\nCOPY a /$X\n",
        &[("X", "cli")],
        None,
    )
    .unwrap();
    assert_eq!(copies(&p.stages[0])[0].dest, "/env");
}

#[test]
fn stages_from_and_target() {
    let text = "FROM python:3.12 AS Build\nWORKDIR /w\nENV K=v\nENTRYPOINT [\"x\"]\nRUN pip install \\\n    -r requirements.txt\n\
FROM build AS test\nCOPY --from=BUILD /w/out /o\nCOPY --from=0 /a /b\nCOPY --from=alpine:3 /etc/x /x\n\
FROM scratch AS final\nCOPY --from=test /o /o\n";
    let p = plan_of(text, &[], None).unwrap();
    assert_eq!(p.target, 2);
    assert_eq!(p.stages[0].name.as_deref(), Some("build"));
    assert_eq!(p.stages[1].base, Base::Stage(0));
    assert_eq!(p.stages[1].workdir.as_deref(), Some("/w"));
    assert_eq!(p.stages[1].env, vec![("K".to_string(), "v".to_string())]);
    assert_eq!(
        p.stages[1].entrypoint,
        Some(Command::Exec(vec!["x".into()]))
    );
    let c = copies(&p.stages[1]);
    assert_eq!(c[0].from, CopyFrom::Stage(0));
    assert_eq!(c[1].from, CopyFrom::Stage(0));
    assert_eq!(c[2].from, CopyFrom::Image("alpine:3".to_string()));
    assert_eq!(p.stages[2].base, Base::Scratch);
    match &p.stages[0].steps[2] {
        Step::Run {
            command: Command::Shell(s),
            line,
            ..
        } => {
            assert_eq!(s, "pip install     -r requirements.txt");
            assert_eq!(*line, 5);
        }
        other => panic!("{other:?}"),
    }
    let p = plan_of(text, &[], Some("TEST")).unwrap();
    assert_eq!(p.target, 1);
    let err = plan_of(text, &[], Some("nope")).unwrap_err();
    assert_eq!(err.to_string(), "target stage `nope` could not be found");
}

#[test]
fn errors_are_one_line_with_line_number() {
    let err = plan_of("FROM scratch\nCOPPY a b\n", &[], None).unwrap_err();
    assert_eq!(err.to_string(), "Dockerfile:2: unknown instruction 'COPPY'");
    let err = plan_of("FROM scratch\nCOPY a ${X:?required}\n", &[], None).unwrap_err();
    assert_eq!(err.to_string(), "Dockerfile:2: X: required");
    let err = plan_of("FROM scratch\nENV A=1 B\n", &[], None).unwrap_err();
    assert!(
        err.to_string().starts_with("Dockerfile:2: Syntax error"),
        "{err}"
    );
    let err = plan_of("FROM scratch AS a\nCOPY --from=a x y\n", &[], None).unwrap_err();
    assert!(
        err.to_string().contains("refers to current build stage"),
        "{err}"
    );
    let err = plan_of("", &[], None).unwrap_err();
    assert!(err.to_string().starts_with("Dockerfile:1:"), "{err}");
}

#[test]
fn legacy_env_form_and_shell_and_escape_directive() {
    let p = plan_of(
        "# escape=`\nFROM scratch\nENV GREETING hello  world\nSHELL [\"/bin/bash\", \"-c\"]\nWORKDIR C:`\\x\nCOPY a .\n",
        &[],
        None,
    )
    .unwrap();
    let s = &p.stages[0];
    assert_eq!(
        s.env,
        vec![("GREETING".to_string(), "hello  world".to_string())]
    );
    assert_eq!(s.shell, vec!["/bin/bash", "-c"]);
    assert_eq!(s.workdir.as_deref(), Some("/C:\\x"));
    assert_eq!(copies(s)[0].dest, "/C:\\x/");
}

#[test]
fn entrypoint_resets_inherited_cmd() {
    let p = plan_of(
        "FROM scratch AS a\nCMD [\"c\"]\nFROM a\nENTRYPOINT [\"e\"]\nFROM a AS b\nCMD [\"c2\"]\nENTRYPOINT [\"e\"]\n",
        &[],
        None,
    )
    .unwrap();
    assert_eq!(p.stages[1].cmd, None);
    assert_eq!(p.stages[2].cmd, Some(Command::Exec(vec!["c2".into()])));
}

#[test]
fn base_config_seeds_env_for_expansion() {
    let df = Dockerfile::parse("FROM python:3.11-slim\nCOPY app /usr/lib/python$PYTHON_MAJOR/\n")
        .unwrap();
    let p = plan_with_base(&df, &[], None, &|r| {
        (r == "python:3.11-slim").then(|| BaseConfig {
            env: vec![("PYTHON_MAJOR".into(), "3.11".into())],
            ..BaseConfig::default()
        })
    })
    .unwrap();
    assert_eq!(copies(&p.stages[0])[0].dest, "/usr/lib/python3.11/");
}

// --- Fuzz-style robustness: arbitrary and near-valid Dockerfiles never panic in parse/plan. ---

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn word() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("$".to_string()),
            Just("${".to_string()),
            Just("}".to_string()),
            Just("${A".to_string()),
            Just("${A:-".to_string()),
            Just("${A:+x}".to_string()),
            Just("${A:?err}".to_string()),
            Just("${A#*}".to_string()),
            Just("${A%%x}".to_string()),
            Just("${A/x/y}".to_string()),
            Just("${#A}".to_string()),
            Just("$A".to_string()),
            Just("$B".to_string()),
            Just("${}".to_string()),
            Just("${:-}".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("`".to_string()),
            Just("=".to_string()),
            Just(" ".to_string()),
            Just("/".to_string()),
            Just("..".to_string()),
            Just("*".to_string()),
            Just("[".to_string()),
            Just("é".to_string()),
            Just("\\x".to_string()),
            Just("\\u{0}".to_string()),
            Just("\u{0}".to_string()),
            Just("0".to_string()),
            Just("99999".to_string()),
            Just("18446744073709551616".to_string()),
            Just("-1".to_string()),
            "[a-c]{1,3}",
            "[a-c]{1,3}",
            "[a-c]{1,3}",
            any::<char>()
                .prop_filter("one line", |c| !matches!(c, '\n' | '\r'))
                .prop_map(|c| c.to_string()),
        ];
        prop::collection::vec(atom, 0..6).prop_map(|v| v.concat())
    }

    fn instr() -> impl Strategy<Value = String> {
        prop_oneof![
            word().prop_map(|w| format!("FROM {w}")),
            (word(), word()).prop_map(|(w, n)| format!("FROM {w} AS {n}")),
            (0usize..6).prop_map(|n| format!("FROM s{n} AS s{}", n + 1)),
            Just("FROM python:3.12 AS s0".to_string()),
            Just("FROM".to_string()),
            Just("FROM --platform=$BUILDPLATFORM x".to_string()),
            word().prop_map(|w| format!("ARG {w}")),
            (word(), word()).prop_map(|(k, v)| format!("ARG {k}={v}")),
            Just("ARG A=$B".to_string()),
            Just("ARG B=$A".to_string()),
            Just("ARG A=${A}${A}".to_string()),
            Just("ARG".to_string()),
            word().prop_map(|w| format!("ENV {w}")),
            (word(), word()).prop_map(|(k, v)| format!("ENV {k}={v}")),
            (word(), word()).prop_map(|(k, v)| format!("ENV {k} {v}")),
            Just("ENV".to_string()),
            Just("ENV A=${A}${A}${A}${A}".to_string()),
            (word(), word()).prop_map(|(s, d)| format!("COPY {s} {d}")),
            (word(), word(), word()).prop_map(|(f, s, d)| format!("COPY --from={f} {s} {d}")),
            (word(), word()).prop_map(|(s, d)| format!("ADD {s} {d}")),
            (word(), word()).prop_map(|(c, s)| format!("COPY --chown={c} --chmod={c} {s} /d/")),
            Just("COPY".to_string()),
            Just("COPY onlyone".to_string()),
            Just("COPY --from=99999 a b".to_string()),
            Just("COPY --from=18446744073709551616 a b".to_string()),
            Just("COPY --from=-1 a b".to_string()),
            Just("COPY --from= a b".to_string()),
            Just("COPY --from a b".to_string()),
            Just("COPY [\"a\", \"b\"]".to_string()),
            Just("COPY [\"a\"".to_string()),
            Just("COPY <<EOF /x\nhi\nEOF".to_string()),
            word().prop_map(|w| format!("WORKDIR {w}")),
            Just("WORKDIR".to_string()),
            word().prop_map(|w| format!("USER {w}")),
            word().prop_map(|w| format!("RUN {w}")),
            Just("RUN <<EOF\nx\n".to_string()),
            word().prop_map(|w| format!("CMD {w}")),
            word().prop_map(|w| format!("CMD [\"{w}\"]")),
            word().prop_map(|w| format!("ENTRYPOINT [{w}")),
            word().prop_map(|w| format!("SHELL [\"{w}\"]")),
            Just("SHELL []".to_string()),
            Just("ONBUILD COPY a b".to_string()),
            Just("HEALTHCHECK NONE".to_string()),
            word().prop_map(|w| format!("# {w}")),
            Just("RUN a \\\n  b".to_string()),
            Just("RUN a `\n  b".to_string()),
        ]
    }

    fn dockerfile() -> impl Strategy<Value = Vec<String>> {
        (
            prop_oneof![
                Just(String::new()),
                Just("# escape=`\n".to_string()),
                Just("# escape=\\\n".to_string()),
                Just("# escape=x\n".to_string()),
                Just("# escape=\n".to_string()),
                Just("# syntax=docker/dockerfile:1\n# escape=`\n".to_string()),
                Just("\u{feff}".to_string()),
            ],
            prop::option::weighted(0.9, word()),
            prop::collection::vec(instr(), 0..10),
            prop::option::weighted(0.1, any::<String>()),
        )
            .prop_map(|(head, from, lines, junk)| {
                let from = from
                    .map(|w| format!("FROM {w} AS s0\n"))
                    .unwrap_or_default();
                let junk = junk.unwrap_or_default();
                let mut texts = vec![format!("{head}{from}{}\n{junk}", lines.join("\n"))];
                // Each line alone, in a first stage and in a stage built on it: most of these
                // parse, so the planner sees every generated instruction.
                for l in &lines {
                    texts.push(format!(
                        "FROM b AS s0\n{l}\nFROM s0 AS s1\n{l}\nFROM s1\n{l}\n"
                    ));
                }
                texts
            })
    }

    fn check(text: &str, args: &[(String, String)], target: Option<&str>) {
        match Dockerfile::parse(text) {
            Ok(df) => {
                for r in [
                    plan(&df, args, target),
                    plan_with_base(&df, args, target, &|r: &str| {
                        Some(BaseConfig {
                            env: vec![
                                ("PATH".into(), "/usr/bin".into()),
                                ("A".into(), format!("${{{r}")),
                            ],
                            workdir: Some(r.to_string()),
                            user: Some(r.to_string()),
                            ..BaseConfig::default()
                        })
                    }),
                ] {
                    match r {
                        Ok(p) => {
                            let _ = p.final_stage();
                        }
                        Err(e) => assert!(!e.to_string().contains('\n'), "two lines: {e}"),
                    }
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "two lines: {e:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn near_valid_dockerfiles_plan_or_fail_with_one_line(
            text in dockerfile(),
            args in prop::collection::vec((word(), word()), 0..3),
            target in prop::option::of(prop_oneof![Just("s0".to_string()), Just("nope".to_string()), Just("0".to_string()), word()]),
        ) {
            for t in &text {
                check(t, &args, target.as_deref());
            }
        }

        #[test]
        fn arbitrary_text_dockerfiles_never_panic(text in "\\PC{0,80}") {
            check(&text, &[], None);
        }
    }
}

#[test]
fn deep_stage_chains_arg_loops_and_odd_from_values_plan_or_fail_cleanly() {
    let mut text = String::from("FROM python:3.12 AS s0\nENV A=1\n");
    for i in 0..500 {
        text.push_str(&format!(
            "FROM s{i} AS s{}\nENV A=${{A}}x\nCOPY --from=s{i} /a /b\n",
            i + 1
        ));
    }
    let p = plan_of(&text, &[], Some("s500")).expect("plans");
    assert_eq!(p.target, 500);
    for (text, target) in [
        (
            "ARG A=$B\nARG B=$A\nFROM x$A$B\nARG A\nARG B\nENV C=$A$B\n",
            None,
        ),
        ("FROM x\nCOPY --from=99999 a b\n", None),
        ("FROM x\nCOPY --from=18446744073709551616 a b\n", None),
        ("FROM x\nCOPY --from=-1 a b\n", None),
        ("FROM x\nCOPY --from=0 a b\n", None),
        ("FROM x\nCOPY --from= a b\n", None),
        ("FROM x\nCOPY\n", None),
        ("COPY a b\n", None),
        ("", None),
        ("FROM x\n", Some("nope")),
        ("FROM x AS a\n", Some("")),
        ("FROM ${\n", None),
        ("FROM x$\n", None),
        ("FROM x\nENV A=\"unterminated\n", None),
        ("FROM x\nENV A='unterminated\n", None),
        ("FROM x\nWORKDIR ${A:-\n", None),
        ("FROM x\nWORKDIR $\n", None),
        ("# escape=`\nFROM x\nCOPY a`\n b\n", None),
        ("# escape=\nFROM x\n", None),
        ("# escape=ab\nFROM x\n", None),
        ("FROM x\nUSER \\\n", None),
        ("FROM x\nENV A=\\\n", None),
        ("FROM x\nCOPY \\xff\\u{0} /d\n", None),
        ("\u{feff}FROM x\n\u{0}\n", None),
    ] {
        match plan_of(text, &[("A", "$B"), ("B", "${A")], target) {
            Ok(p) => {
                let _ = p.final_stage();
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{text:?}: {e}"),
        }
    }
}
