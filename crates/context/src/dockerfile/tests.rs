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
