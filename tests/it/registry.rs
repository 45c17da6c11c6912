//! Images read straight from a registry: Debian's `docker-registry` (distribution 2.8) started on
//! loopback by each test (plain HTTP without auth, or TLS with a self-signed certificate and
//! htpasswd basic auth), images pushed to it with skopeo from images the suite builds. The
//! registry verdict must equal the daemon verdict; faults must be one line and exit 2; no
//! credential may appear in any output.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const USER: &str = "release-bot";
const PASSWORD: &str = "Pw-7f3c9e1d-not-in-output";

/// True when the engine, `docker-registry` and `skopeo` are there; otherwise prints why and
/// returns false, or panics under `IMPORTGATE_REQUIRE_DOCKER=1`.
pub(crate) fn tools() -> bool {
    if !require_docker() {
        return false;
    }
    let missing: Vec<&str> = ["docker-registry", "skopeo", "htpasswd", "openssl", "curl"]
        .into_iter()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("IMPORTGATE_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("IMPORTGATE_REQUIRE_DOCKER=1 but {missing:?} missing (.ci/run installs them)");
    }
    eprintln!("skipped: {missing:?} not installed");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `docker-registry serve` process on loopback, killed when dropped.
pub(crate) struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    tls: bool,
}

impl Registry {
    pub(crate) fn start(tls_and_auth: bool) -> Registry {
        let dir = tempdir();
        let port = free_port();
        let d = dir.path();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            d.join("storage").display()
        );
        if tls_and_auth {
            // A private CA and a server certificate it signed, as a company registry has.
            let openssl = |args: &[&str], what: &str| {
                run_ok(Command::new("openssl").args(args).current_dir(d), what);
            };
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=importgate-test-ca",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
                "openssl req (CA)",
            );
            openssl(
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-keyout",
                    "key.pem",
                    "-out",
                    "server.csr",
                ],
                "openssl req (server)",
            );
            fs::write(
                d.join("server.ext"),
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            openssl(
                &[
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    "server.ext",
                    "-out",
                    "cert.pem",
                ],
                "openssl x509 (sign)",
            );
            let htpasswd = run_ok(
                Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]),
                "htpasswd",
            );
            fs::write(d.join("htpasswd"), htpasswd).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: importgate-test\n    path: {}\n",
                d.join("cert.pem").display(),
                d.join("key.pem").display(),
                d.join("htpasswd").display()
            ));
        }
        fs::write(d.join("config.yml"), config).unwrap();
        let log = fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let reg = Registry {
            child,
            dir,
            port,
            tls: tls_and_auth,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}:\n{}",
                fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        reg
    }

    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// skopeo's options for this registry (it cannot know the self-signed CA otherwise).
    fn skopeo_opts(&self, dest: bool) -> Vec<String> {
        let p = if dest { "--dest" } else { "--src" };
        let mut v = vec![format!("{p}-tls-verify=false")];
        if self.tls {
            v.push(format!("{p}-creds={USER}:{PASSWORD}"));
        }
        v
    }

    /// `skopeo copy SRC docker://HOST/DEST` with extra options; returns the pushed manifest's
    /// digest.
    pub(crate) fn push(&self, src: &str, dest: &str, extra: &[&str]) -> String {
        let dir = tempdir();
        let digest_file = dir.path().join("digest");
        run_ok(
            Command::new("skopeo")
                .args(["copy", "-q"])
                .args(self.skopeo_opts(true))
                .args(extra)
                .arg("--digestfile")
                .arg(&digest_file)
                .arg(src)
                .arg(format!("docker://{}/{dest}", self.host())),
            &format!("skopeo copy {src} {dest}"),
        );
        fs::read_to_string(&digest_file).unwrap().trim().to_string()
    }

    /// The raw manifest at `reference`.
    fn raw_manifest(&self, reference: &str) -> Value {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--raw", "--tls-verify=false"]);
        if self.tls {
            cmd.arg(format!("--creds={USER}:{PASSWORD}"));
        }
        let out = run_ok(
            cmd.arg(format!("docker://{}/{reference}", self.host())),
            "skopeo inspect --raw",
        );
        serde_json::from_str(&out).unwrap()
    }

    /// The file holding a blob in the registry's storage.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The report without what names the source: the verdict must not depend on it.
fn verdict(mut report: Value) -> Value {
    if let Some(obj) = report.as_object_mut() {
        obj.remove("image");
        obj.remove("mode");
    }
    report
}

/// The seed app built on the slim base, with the daemon's verdict: (image, exit code, report).
fn seed_image(tag: &str, example: &str) -> (Image, i32, Value) {
    ensure_base("slim", "3.12");
    // skopeo's docker-daemon: transport wants an explicit tag.
    let image = build_image(
        &format!("{tag}:test"),
        &repo_root().join("examples").join(example),
    );
    let (run, report) = check_json(&image.tag);
    assert!(run.code == 0 || run.code == 1, "daemon: {run:?}");
    (image, run.code, report)
}

/// `importgate check --format json ARGS`, with the password on stdin when asked.
fn check_registry(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_importgate"));
    cmd.args(["check", "--format", "json"])
        .args(args)
        .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
        .env("IMPORTGATE_NO_RESULT_CACHE", "1")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run importgate");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_secret(&run);
    run
}

/// No spelling of the password may reach stdout or stderr.
fn assert_no_secret(run: &Run) {
    let basic = base64(&format!("{USER}:{PASSWORD}"));
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(PASSWORD), "password in {name}:\n{text}");
        assert!(
            !text.contains(&basic),
            "basic credentials in {name}:\n{text}"
        );
    }
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Exit 2 with exactly one line on stderr, containing every `needle`.
fn assert_one_line_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "not one line: {run:?}");
    assert!(lines[0].starts_with("error: "), "{run:?}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` missing from: {}", lines[0]);
    }
}

#[test]
fn plain_http_registry_by_tag_digest_and_zstd_matches_the_daemon() {
    if !tools() {
        return;
    }
    let (image, code, daemon) = seed_image("importgate-test/registry-seed", "seed-app");
    let reg = Registry::start(false);
    let src = format!("docker-daemon:{}", image.tag);
    let digest = reg.push(&src, "team/seed:1", &[]);
    // The zstd variant goes to a registry of its own: skopeo would reuse the gzip blobs it
    // has just pushed to the first one.
    let reg_zstd = Registry::start(false);
    let zstd_digest = reg_zstd.push(
        &src,
        "team/seed:zstd",
        &[
            "--format",
            "oci",
            "--dest-compress",
            "--dest-compress-format",
            "zstd",
        ],
    );
    // The zstd variant really is zstd.
    let zm = reg_zstd.raw_manifest("team/seed:zstd");
    assert!(
        zm["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"].as_str().unwrap().ends_with("+zstd")),
        "{zm:#}"
    );
    let host = reg.host();
    for (reference, want_digest) in [
        (format!("registry:{host}/team/seed:1"), &digest),
        (format!("registry:{host}/team/seed@{digest}"), &digest),
        (format!("docker://{host}/team/seed:1"), &digest),
        (
            format!("registry:{}/team/seed:zstd", reg_zstd.host()),
            &zstd_digest,
        ),
    ] {
        let run = check_registry(&[&reference], &[], None);
        assert_eq!(run.code, code, "{reference}: {run:?}");
        let report = run.json();
        assert_eq!(report["mode"]["kind"], "registry", "{reference}");
        assert_eq!(report["mode"]["manifest_digest"], want_digest.as_str());
        assert_eq!(report["mode"]["platform"], "linux/amd64");
        let repo = reference
            .trim_start_matches("registry:")
            .trim_start_matches("docker://")
            .split(['@', ':'])
            .take(2)
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            report["mode"]["pinned"],
            format!("{repo}@{want_digest}").as_str()
        );
        assert_eq!(
            verdict(report),
            verdict(daemon.clone()),
            "{reference}: verdict differs from the daemon's"
        );
    }
    // A tag that is not there.
    let run = check_registry(&[&format!("registry:{host}/team/seed:nope")], &[], None);
    assert_one_line_error(&run, &["team/seed:nope", "not found", "404"]);
    // A host nobody listens on: refused, one line.
    let run = check_registry(
        &[&format!("registry:127.0.0.1:{}/team/seed:1", free_port())],
        &[],
        None,
    );
    assert_one_line_error(&run, &["cannot connect to registry"]);
    // An unknown host.
    let run = check_registry(
        &["registry:no-such-host.importgate.invalid/team/seed:1"],
        &[],
        None,
    );
    assert_one_line_error(&run, &["no-such-host.importgate.invalid"]);
}

#[test]
fn a_two_platform_index_gives_the_platform_asked_for() {
    if !tools() {
        return;
    }
    let (image, code, daemon) = seed_image("importgate-test/registry-multi", "seed-app");
    let reg = Registry::start(false);
    let host = reg.host();
    let amd = reg.push(&format!("docker-daemon:{}", image.tag), "multi:amd64", &[]);
    // An arm64 variant: the same layers under a config that says arm64 (and another Cmd, so
    // that taking the wrong one shows).
    let dir = tempdir();
    let copy = dir.path().join("img");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("docker-daemon:{}", image.tag))
            .arg(format!("dir:{}", copy.display())),
        "skopeo copy to dir:",
    );
    let mut manifest: Value =
        serde_json::from_slice(&fs::read(copy.join("manifest.json")).unwrap()).unwrap();
    let config_hex = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let mut config: Value =
        serde_json::from_slice(&fs::read(copy.join(&config_hex)).unwrap()).unwrap();
    config["architecture"] = "arm64".into();
    config["config"]["Cmd"] = serde_json::json!(["python", "-m", "arm_only_module"]);
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let new_config = copy.join("new-config.json");
    fs::write(&new_config, &config_bytes).unwrap();
    let new_digest = run_ok(Command::new("sha256sum").arg(&new_config), "sha256sum")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    fs::rename(&new_config, copy.join(&new_digest)).unwrap();
    fs::remove_file(copy.join(&config_hex)).unwrap();
    manifest["config"]["digest"] = format!("sha256:{new_digest}").into();
    manifest["config"]["size"] = config_bytes.len().into();
    fs::write(
        copy.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let arm = reg.push(&format!("dir:{}", copy.display()), "multi:arm64", &[]);
    assert_ne!(amd, arm);
    // The index, as `docker manifest push` writes it.
    let entry = |digest: &str, arch: &str| {
        let raw = run_ok(
            Command::new("curl").args([
                "-fsS",
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
                &format!("http://{host}/v2/multi/manifests/{digest}"),
            ]),
            "curl manifest",
        );
        serde_json::json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest,
            "size": raw.len(),
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [entry(&amd, "amd64"), entry(&arm, "arm64")],
    });
    let index_file = dir.path().join("index.json");
    fs::write(&index_file, serde_json::to_vec(&index).unwrap()).unwrap();
    run_ok(
        Command::new("curl")
            .args([
                "-fsS",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/vnd.docker.distribution.manifest.list.v2+json",
                "--data-binary",
            ])
            .arg(format!("@{}", index_file.display()))
            .arg(format!("http://{host}/v2/multi/manifests/1")),
        "curl PUT index",
    );
    let index_digest = format!(
        "sha256:{}",
        run_ok(Command::new("sha256sum").arg(&index_file), "sha256sum")
            .split_whitespace()
            .next()
            .unwrap()
    );
    let reference = format!("registry:{host}/multi:1");

    let run = check_registry(&[&reference, "--platform", "linux/amd64"], &[], None);
    assert_eq!(run.code, code, "{run:?}");
    let report = run.json();
    assert_eq!(report["mode"]["manifest_digest"], amd.as_str());
    assert_eq!(report["mode"]["index_digest"], index_digest.as_str());
    assert_eq!(report["mode"]["platform"], "linux/amd64");
    assert_eq!(verdict(report), verdict(daemon.clone()));

    let run = check_registry(&[&reference, "--platform", "linux/arm64"], &[], None);
    let report = run.json();
    assert_eq!(report["mode"]["manifest_digest"], arm.as_str(), "{run:?}");
    assert_eq!(report["mode"]["platform"], "linux/arm64");
    assert!(
        run.stdout.contains("arm_only_module"),
        "the arm64 config's Cmd was not the one checked: {run:?}"
    );

    let run = check_registry(&[&reference, "--platform", "linux/s390x"], &[], None);
    assert_one_line_error(&run, &["linux/s390x", "linux/amd64", "linux/arm64"]);
}

#[test]
fn tls_registry_with_basic_auth_credentials_from_every_source() {
    if !tools() {
        return;
    }
    let (image, code, daemon) = seed_image("importgate-test/registry-auth", "seed-app");
    let reg = Registry::start(true);
    let host = reg.host();
    let digest = reg.push(
        &format!("docker-daemon:{}", image.tag),
        "secure/seed:1",
        &[],
    );
    let reference = format!("registry:{host}/secure/seed@{digest}");
    let ca = reg.ca().display().to_string();
    let empty = tempdir();
    let no_config = [("DOCKER_CONFIG", path_str(empty.path()))];

    // Flags, password on stdin, the self-signed CA trusted by --registry-ca.
    let run = check_registry(
        &[
            &reference,
            "--registry-ca",
            &ca,
            "--registry-username",
            USER,
            "--registry-password-stdin",
        ],
        &no_config,
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(run.code, code, "{run:?}");
    let report = run.json();
    assert_eq!(report["mode"]["manifest_digest"], digest.as_str());
    assert_eq!(verdict(report), verdict(daemon.clone()));

    // Debug logs do not carry the secret either.
    let run = check_registry(
        &[
            &reference,
            "--registry-ca",
            &ca,
            "--registry-username",
            USER,
            "--registry-password-stdin",
        ],
        &[no_config[0], ("IMPORTGATE_LOG", "debug")],
        Some(PASSWORD),
    );
    assert_eq!(run.code, code, "{run:?}");

    // Without the CA the certificate is refused, even on loopback.
    let run = check_registry(&[&reference], &no_config, None);
    assert_one_line_error(&run, &["cannot connect to registry", &host]);

    // Anonymous: refused, saying nothing was tried.
    let run = check_registry(&[&reference, "--registry-ca", &ca], &no_config, None);
    assert_one_line_error(&run, &["refused access", "secure/seed", "anonymous"]);

    // A wrong password from the flags.
    let run = check_registry(
        &[
            &reference,
            "--registry-ca",
            &ca,
            "--registry-username",
            USER,
            "--registry-password-stdin",
        ],
        &no_config,
        Some("wrong-password"),
    );
    assert_one_line_error(&run, &["refused access", "401", "--registry-username"]);

    // config.json `auths`, right and wrong.
    let cfg = tempdir();
    let write_auths = |password: &str| {
        fs::write(
            cfg.path().join("config.json"),
            format!(
                r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
                base64(&format!("{USER}:{password}"))
            ),
        )
        .unwrap();
    };
    let with_cfg = [("DOCKER_CONFIG", path_str(cfg.path()))];
    write_auths(PASSWORD);
    let run = check_registry(&[&reference, "--registry-ca", &ca], &with_cfg, None);
    assert_eq!(run.code, code, "{run:?}");
    assert_eq!(verdict(run.json()), verdict(daemon.clone()));
    write_auths("stale-password");
    let run = check_registry(&[&reference, "--registry-ca", &ca], &with_cfg, None);
    assert_one_line_error(&run, &["refused access", "`auths` in", "config.json"]);

    // A credential helper on PATH, named by credHelpers for this host.
    let bin = tempdir();
    let asked = bin.path().join("asked");
    let helper = bin.path().join("docker-credential-test");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > '{}'\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$(cat '{}')\"\n",
            asked.display(),
            asked.display()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&helper), "chmod");
    fs::write(
        cfg.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{host}":"test"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [with_cfg[0], ("PATH", path.as_str())];
    let run = check_registry(&[&reference, "--registry-ca", &ca], &env, None);
    assert_eq!(run.code, code, "{run:?}");
    assert_eq!(verdict(run.json()), verdict(daemon.clone()));
    assert_eq!(
        fs::read_to_string(&asked).unwrap(),
        host,
        "what the helper was asked"
    );
    // The helper answering with a stale secret is named.
    fs::write(
        &helper,
        format!("#!/bin/sh\nprintf '{{\"Username\":\"{USER}\",\"Secret\":\"stale\"}}'\n"),
    )
    .unwrap();
    let run = check_registry(&[&reference, "--registry-ca", &ca], &env, None);
    assert_one_line_error(&run, &["refused access", "docker-credential-test"]);
}

#[test]
fn tampered_blobs_and_cut_connections_are_one_line_errors() {
    if !tools() {
        return;
    }
    let (image, _, _) = seed_image("importgate-test/registry-faults", "seed-app");
    let reg = Registry::start(false);
    let host = reg.host();
    reg.push(
        &format!("docker-daemon:{}", image.tag),
        "faults/seed:1",
        &[],
    );
    let manifest = reg.raw_manifest("faults/seed:1");
    let biggest = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|l| l["size"].as_u64().unwrap())
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // A registry that closes the connection half-way through every big blob.
    let proxy = Proxy::start(&host, Fault::CutBlobsOver(1 << 20));
    let run = check_registry(
        &[
            "--no-cache",
            &format!("registry:127.0.0.1:{}/faults/seed:1", proxy.port),
        ],
        &[],
        None,
    );
    assert_one_line_error(&run, &["closed the connection", "blob sha256:"]);

    // 429 with a short Retry-After is waited on; one beyond the bound is an error.
    let proxy = Proxy::start(&host, Fault::TooManyRequestsOnce(1));
    let run = check_registry(
        &[&format!("registry:127.0.0.1:{}/faults/seed:1", proxy.port)],
        &[],
        None,
    );
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert!(proxy.hits.load(Ordering::SeqCst) > 1);
    let proxy = Proxy::start(&host, Fault::TooManyRequestsOnce(3600));
    let run = check_registry(
        &[&format!("registry:127.0.0.1:{}/faults/seed:1", proxy.port)],
        &[],
        None,
    );
    assert_one_line_error(&run, &["429", "3600"]);

    // A layer edited in the registry's storage: `--no-cache` fetches and verifies every
    // layer again. With the cache, a layer fetched and verified before is the layer its digest
    // names, and is not fetched again: the verdict is the one of the genuine image.
    let before = check_registry(&[&format!("registry:{host}/faults/seed:1")], &[], None);
    let file = reg.blob_file(&biggest);
    let mut bytes = fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&file, bytes).unwrap();
    let run = check_registry(
        &["--no-cache", &format!("registry:{host}/faults/seed:1")],
        &[],
        None,
    );
    assert_one_line_error(&run, &["does not match its digest", &biggest]);
    let cached = check_registry(&[&format!("registry:{host}/faults/seed:1")], &[], None);
    assert_eq!((cached.code, &cached.stdout), (before.code, &before.stdout));
}

/// What the loopback proxy does wrong.
#[derive(Clone, Copy)]
enum Fault {
    /// Sends half the body of any blob larger than this, then closes.
    CutBlobsOver(u64),
    /// Answers the first manifest request 429 with this Retry-After.
    TooManyRequestsOnce(u64),
}

/// A one-request-per-connection HTTP proxy to the registry that misbehaves as told.
struct Proxy {
    port: u16,
    /// Manifest requests seen.
    hits: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_string();
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let upstream = upstream.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &upstream, fault, &counter);
                });
            }
        });
        Proxy { port, hits }
    }
}

fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    Ok(lines)
}

fn serve(
    client: TcpStream,
    upstream: &str,
    fault: Fault,
    manifests: &AtomicUsize,
) -> std::io::Result<()> {
    // A TLS ClientHello (the client tries HTTPS first on loopback): plain HTTP only here.
    let mut first = [0u8; 1];
    if client.peek(&mut first)? == 1 && first[0] == 0x16 {
        return client.shutdown(Shutdown::Both);
    }
    let mut client_r = BufReader::new(client.try_clone()?);
    let mut client_w = client;
    let head = read_head(&mut client_r)?;
    let Some(request_line) = head.first().cloned() else {
        return Ok(());
    };
    let n = if request_line.contains("/manifests/") {
        manifests.fetch_add(1, Ordering::SeqCst)
    } else {
        usize::MAX
    };
    if let Fault::TooManyRequestsOnce(after) = fault
        && n == 0
    {
        write!(
            client_w,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client_w.shutdown(Shutdown::Both);
    }
    let mut up = TcpStream::connect(upstream)?;
    let mut out = format!("{request_line}\r\n");
    for h in &head[1..] {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("host:") {
            continue;
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    up.write_all(out.as_bytes())?;
    let mut up_r = BufReader::new(up);
    let resp_head = read_head(&mut up_r)?;
    let length = resp_head
        .iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let mut head_out = String::new();
    for h in &resp_head {
        head_out.push_str(h);
        head_out.push_str("\r\n");
    }
    head_out.push_str("\r\n");
    client_w.write_all(head_out.as_bytes())?;
    let cut = matches!(fault, Fault::CutBlobsOver(limit) if request_line.contains("/blobs/") && length > limit);
    if cut {
        std::io::copy(&mut (&mut up_r).take(length / 2), &mut client_w)?;
    } else {
        std::io::copy(&mut up_r, &mut client_w)?;
    }
    client_w.flush()?;
    client_w.shutdown(Shutdown::Both)
}

/// docs/ci.md's release-verification recipe, run against the loopback registry: the candidate
/// is checked by digest and promoted only when the check passes.
#[test]
fn release_verification_recipe_checks_by_digest_before_promotion() {
    if !tools() {
        return;
    }
    let doc = fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    let marker = "<!-- tested: release-verification -->";
    let start = doc.find(marker).expect("docs/ci.md has the recipe") + marker.len();
    let rest = &doc[start..];
    let open = rest.find("```").unwrap();
    let body_start = rest[open..].find('\n').unwrap() + open + 1;
    let close = rest[body_start..].find("\n```").unwrap() + body_start;
    let reg = Registry::start(false);
    let host = reg.host();
    let script = rest[body_start..=close].replace("registry.example.com", &host);
    let work = tempdir();
    // The loopback registry speaks plain HTTP, which this skopeo must be told about; the shim
    // says it on every call, and nothing else changes.
    let shims = tempdir();
    let real = run_ok(
        Command::new("sh").args(["-c", "command -v skopeo"]),
        "which skopeo",
    );
    fs::write(
        shims.path().join("skopeo"),
        format!(
            "#!/bin/sh\ncmd=$1; shift\ncase $cmd in\n  copy) exec {real} copy --src-tls-verify=false --dest-tls-verify=false \"$@\";;\n  *) exec {real} \"$cmd\" --tls-verify=false \"$@\";;\nesac\n",
            real = real.trim()
        ),
    )
    .unwrap();
    run_ok(
        Command::new("chmod")
            .arg("+x")
            .arg(shims.path().join("skopeo")),
        "chmod",
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_importgate"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        shims.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (example, tag, want) in [("seed-app-fixed", "rc-good", 0), ("seed-app", "rc-bad", 1)] {
        let (image, _, _) = seed_image(&format!("importgate-test/registry-release-{tag}"), example);
        let digest = reg.push(
            &format!("docker-daemon:{}", image.tag),
            &format!("team/api:{tag}"),
            &[],
        );
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("CI_COMMIT_SHA", tag)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(
            out.status.code(),
            Some(want),
            "{example}:\n{stdout}\n{stderr}"
        );
        let report: Value =
            serde_json::from_slice(&fs::read(work.path().join("importgate-release.json")).unwrap())
                .unwrap();
        assert_eq!(report["mode"]["manifest_digest"], digest.as_str());
        let stable = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{host}/team/api:stable"))
            .output()
            .unwrap();
        let stable_digest = stable.status.success().then(|| {
            let f = work.path().join("stable.json");
            fs::write(&f, &stable.stdout).unwrap();
            run_ok(
                Command::new("skopeo").arg("manifest-digest").arg(&f),
                "manifest-digest",
            )
            .trim()
            .to_string()
        });
        if want == 0 {
            assert!(
                stdout.contains(&digest),
                "the pinned reference is printed: {stdout}"
            );
            assert_eq!(stable_digest.as_deref(), Some(digest.as_str()), "promoted");
        } else {
            assert_ne!(
                stable_digest.as_deref(),
                Some(digest.as_str()),
                "a failing candidate was promoted"
            );
        }
    }
}

/// Reading from a registry on a terminal: the bytes of the blobs fetched against the manifest's
/// total, then the layers merged; nothing of it when stderr is a pipe.
#[test]
fn registry_progress_on_a_terminal() {
    if !tools() {
        return;
    }
    let (image, code, _) = seed_image("importgate-test/registry-progress", "seed-app");
    let reg = Registry::start(false);
    reg.push(
        &format!("docker-daemon:{}", image.tag),
        "team/progress:1",
        &[],
    );
    let layers = reg.raw_manifest("team/progress:1")["layers"]
        .as_array()
        .map_or(0, Vec::len);
    let reference = format!("registry:{}/team/progress:1", reg.host());
    let dir = tempdir();
    // Without the layer cache: other tests may have fetched these very blobs already.
    let (terminal, stdout, got) =
        crate::progress::on_a_terminal(dir.path(), &["check", "--no-cache", &reference]);
    assert_eq!(got, code, "terminal:\n{terminal}\nstdout:\n{stdout}");
    let fetching = format!("fetching {layers} layers of {reference}");
    assert!(
        terminal.contains(&fetching),
        "no `{fetching}` on the terminal:\n{terminal:?}"
    );
    // Bytes against the known total (`12.3 MiB/27.0 MiB`, or `0 B/27.0 MiB` when the fetch is
    // faster than a redraw), then the merge.
    assert!(
        terminal.contains("B/") && terminal.contains(" MiB"),
        "no byte count:\n{terminal:?}"
    );
    assert!(
        terminal.contains(&format!(
            "merging the layers of {}",
            reference.trim_start_matches("registry:")
        )),
        "no layer progress:\n{terminal:?}"
    );
    assert!(
        !stdout.contains("fetching"),
        "progress on stdout:\n{stdout}"
    );
    let run = check_registry(&[&reference], &[], None);
    assert_eq!(run.code, code);
    assert_eq!(run.stderr, "", "stderr is a pipe: no progress");
}
