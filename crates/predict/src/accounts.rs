//! `RUN useradd`/`adduser`/`groupadd`/`addgroup` predicted on the stage's `/etc/passwd` and
//! `/etc/group`: a `USER app` after them names an account the checker can look up (its uid and
//! groups for the permission checks, its home for `pip install --user` and the user site).
//! Debian's shadow tools and Alpine's busybox applets are both understood.

use importgate_image::{Meta, NewNode};

use crate::model::put_meta;
use crate::stage::State;

fn read(state: &State, path: &str) -> String {
    state.fs.read_to_string(path).unwrap_or_default()
}

fn write(state: &mut State, path: &str, text: &str) {
    let meta = state.meta(0o644);
    put_meta(&mut state.fs, path, text.as_bytes(), meta);
}

fn ids(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
        })
        .collect()
}

/// The next free id at or above `from` (and below 60000, as `login.defs` says).
fn next_id(taken: &[(String, u32)], from: u32) -> u32 {
    let mut id = from;
    while taken.iter().any(|(_, t)| *t == id) && id < 60000 {
        id += 1;
    }
    id
}

fn add_group(state: &mut State, name: &str, gid: Option<u32>, system: bool) -> u32 {
    let mut text = read(state, "/etc/group");
    let taken = ids(&text);
    if let Some((_, g)) = taken.iter().find(|(n, _)| n == name) {
        return *g;
    }
    let gid = gid.unwrap_or_else(|| next_id(&taken, if system { 100 } else { 1000 }));
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{name}:x:{gid}:\n"));
    write(state, "/etc/group", &text);
    gid
}

fn group_id(state: &State, spec: &str) -> Option<u32> {
    spec.parse().ok().or_else(|| {
        ids(&read(state, "/etc/group"))
            .into_iter()
            .find(|(n, _)| n == spec)
            .map(|(_, g)| g)
    })
}

/// Handles one account command; false when `words` is not one.
pub fn account_command(state: &mut State, words: &[String]) -> bool {
    let Some(cmd) = words.first().map(|w| w.rsplit('/').next().unwrap_or(w)) else {
        return false;
    };
    let (opts, positional) = split(&words[1..], cmd);
    let opt = |names: &[&str]| -> Option<String> {
        opts.iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .and_then(|(_, v)| v.clone())
    };
    let flag = |names: &[&str]| opts.iter().any(|(k, _)| names.contains(&k.as_str()));
    match cmd {
        "groupadd" | "addgroup" => {
            // `addgroup USER GROUP` (busybox/Debian) adds a member; not modelled.
            if positional.len() != 1 {
                return true;
            }
            let gid = opt(&["-g", "--gid"]).and_then(|g| g.parse().ok());
            add_group(state, &positional[0], gid, flag(&["-r", "--system", "-S"]));
            true
        }
        "useradd" | "adduser" => {
            let Some(name) = positional.first().cloned() else {
                return true;
            };
            let passwd = read(state, "/etc/passwd");
            if ids(&passwd).iter().any(|(n, _)| *n == name) {
                return true;
            }
            let system = flag(&["-r", "--system", "-S"]);
            let uid = opt(&["-u", "--uid"])
                .and_then(|u| u.parse().ok())
                .unwrap_or_else(|| next_id(&ids(&passwd), if system { 100 } else { 1000 }));
            let gid = match opt(&["-g", "--gid", "-G", "--ingroup"]) {
                Some(g) => group_id(state, &g).unwrap_or(uid),
                None if system && cmd == "adduser" => group_id(state, "nogroup").unwrap_or(65534),
                None => add_group(state, &name, Some(uid), system),
            };
            let home = opt(&["-d", "--home", "--home-dir", "-h"]).unwrap_or_else(|| {
                if system && cmd == "useradd" {
                    "/nonexistent".to_string()
                } else {
                    format!("/home/{name}")
                }
            });
            let shell = opt(&["-s", "--shell"]).unwrap_or_else(|| "/bin/sh".to_string());
            let mut text = passwd;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{name}:x:{uid}:{gid}::{home}:{shell}\n"));
            write(state, "/etc/passwd", &text);
            // useradd makes the home only with -m; adduser always, unless told not to.
            let make_home = if cmd == "useradd" {
                flag(&["-m", "--create-home"])
            } else {
                !flag(&["-H", "--no-create-home"]) && (!system || flag(&["-h", "--home"]))
            };
            if make_home && !state.fs.exists(&home) {
                let meta = Meta {
                    mode: 0o755,
                    uid,
                    gid,
                    layer: state.layer,
                };
                if let Err(e) = state.fs.insert(&home, NewNode::Dir, meta) {
                    tracing::debug!("{home}: {e}");
                }
            }
            true
        }
        _ => false,
    }
}

/// Options (with their values) and positional arguments of an account command.
fn split(args: &[String], cmd: &str) -> (Vec<(String, Option<String>)>, Vec<String>) {
    // Options that take a value; busybox adduser's `-h DIR` is a home, shadow's is help.
    let with_value: &[&str] = match cmd {
        "adduser" => &[
            "-u",
            "--uid",
            "-g",
            "--gid",
            "-G",
            "--ingroup",
            "-h",
            "--home",
            "-s",
            "--shell",
            "--gecos",
            "-k",
            "--firstuid",
            "--lastuid",
            "--conf",
        ],
        _ => &[
            "-u",
            "--uid",
            "-g",
            "--gid",
            "-G",
            "--groups",
            "-d",
            "--home-dir",
            "-s",
            "--shell",
            "-c",
            "--comment",
            "-k",
            "--skel",
            "-K",
            "--key",
            "-e",
            "-f",
            "-p",
            "--password",
        ],
    };
    let mut opts = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some((k, v)) = a.split_once('=').filter(|_| a.starts_with("--")) {
            opts.push((k.to_string(), Some(v.to_string())));
        } else if with_value.contains(&a.as_str()) {
            opts.push((a.clone(), args.get(i + 1).cloned()));
            i += 1;
        } else if a.starts_with('-') && a.len() > 2 && !a.starts_with("--") {
            // Bundled short flags (`-DH`), or a short option with its value attached.
            let (k, rest) = a.split_at(2);
            if with_value.contains(&k) {
                opts.push((k.to_string(), Some(rest.to_string())));
            } else {
                for c in a[1..].chars() {
                    opts.push((format!("-{c}"), None));
                }
            }
        } else if a.starts_with('-') {
            opts.push((a.clone(), None));
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    (opts, positional)
}

#[cfg(test)]
mod tests {
    use super::*;
    use importgate_image::{ImageConfig, Vfs};
    use std::collections::BTreeMap;

    fn state() -> State {
        State {
            fs: Vfs::from_files(&[
                ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
                ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ]),
            config: ImageConfig::default(),
            layer: 1,
            origins: BTreeMap::new(),
            modelled: true,
            base: String::new(),
            unmodelled: Vec::new(),
        }
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn debian_and_alpine_account_commands_write_the_account_files() {
        let mut s = state();
        assert!(account_command(&mut s, &words("groupadd -g 2000 web")));
        assert!(account_command(
            &mut s,
            &words("useradd -m -u 1001 -g web app")
        ));
        assert!(account_command(
            &mut s,
            &words("adduser -D -h /srv/svc svc")
        ));
        assert!(account_command(&mut s, &words("useradd --system worker")));
        assert!(!account_command(&mut s, &words("apt-get install -y curl")));
        let passwd = s.fs.read_to_string("/etc/passwd").expect("passwd");
        assert!(
            passwd.contains("app:x:1001:2000::/home/app:/bin/sh\n"),
            "{passwd}"
        );
        assert!(
            passwd.contains("svc:x:1000:1000::/srv/svc:/bin/sh\n"),
            "{passwd}"
        );
        assert!(
            passwd.contains("worker:x:100:100::/nonexistent:/bin/sh\n"),
            "{passwd}"
        );
        let group = s.fs.read_to_string("/etc/group").expect("group");
        assert!(
            group.contains("web:x:2000:\n") && group.contains("svc:x:1000:\n"),
            "{group}"
        );
        assert_eq!(s.fs.stat("/home/app").map(|st| st.meta.uid), Some(1001));
        assert!(s.fs.is_dir("/srv/svc"));
        assert!(!s.fs.exists("/nonexistent"));
    }
}
