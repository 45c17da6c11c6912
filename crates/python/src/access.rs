//! The runtime user and what it may see: `User` from the image config resolved through the
//! image's `/etc/passwd` and `/etc/group` as Docker does, and the classic Unix permission check
//! (owner, group, other; root bypasses read and search) over the modes stored in the layers.
//! CPython's `FileFinder` lists a directory (needs read and search) and stats names in it
//! (search on every directory above); a module file must be readable to be loaded.

use importgate_image::{ImageConfig, Meta, Vfs};

/// The identity the container's process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// As written in the config (`app`, `1000`, `1000:1000`); `root` when empty.
    pub spec: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups from `/etc/group`.
    pub groups: Vec<u32>,
}

impl User {
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Permission bits asked for.
pub const READ: u32 = 4;
pub const EXEC: u32 = 1;

/// Resolves `User` like Docker's `user.GetExecUser`: a name must be in `/etc/passwd`; a number
/// is taken as is (with the passwd entry's group when there is one, else gid 0); `:group` by
/// name or number overrides the primary group; supplementary groups come from `/etc/group`.
pub fn runtime_user(vfs: &Vfs, config: &ImageConfig) -> User {
    user_from_spec(vfs, &config.user)
}

/// The user the program runs as: the one `gosu`/`su-exec` switched to (`run_as`), else the
/// image's `User`.
pub fn program_user(vfs: &Vfs, config: &ImageConfig, run_as: Option<&str>) -> User {
    user_from_spec(vfs, run_as.unwrap_or(&config.user))
}

/// Resolves a `user[:group]` spec as [`runtime_user`] does.
pub fn user_from_spec(vfs: &Vfs, spec: &str) -> User {
    let spec = if spec.is_empty() {
        "root".to_string()
    } else {
        spec.to_string()
    };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec.as_str(), None),
    };
    let passwd = vfs.read_to_string("/etc/passwd").unwrap_or_default();
    let group = vfs.read_to_string("/etc/group").unwrap_or_default();
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && (f[0] == user_part || f[2] == user_part)).then_some(f)
    });
    let uid = entry
        .as_ref()
        .and_then(|f| f[2].parse().ok())
        .or_else(|| user_part.parse().ok())
        .unwrap_or(0);
    let name = entry.as_ref().map(|f| f[0].to_string());
    let mut gid = entry.as_ref().and_then(|f| f[3].parse().ok()).unwrap_or(0);
    if let Some(g) = group_part {
        gid = g.parse().ok().unwrap_or_else(|| {
            group
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g).then(|| f[2].parse().ok())?
                })
                .unwrap_or(0)
        });
    }
    let groups = name
        .map(|n| {
            group
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 4 && f[3].split(',').any(|m| m == n)).then(|| f[2].parse().ok())?
                })
                .collect()
        })
        .unwrap_or_default();
    User {
        spec,
        uid,
        gid,
        groups,
    }
}

/// Whether `user` has all of `want` (`READ`, `EXEC`, or both) on a node with `meta`. Root may
/// read anything and search any directory (`CAP_DAC_OVERRIDE`/`CAP_DAC_READ_SEARCH`).
pub fn allowed(meta: &Meta, user: &User, want: u32) -> bool {
    if user.is_root() {
        return true;
    }
    let bits = if meta.uid == user.uid {
        (meta.mode >> 6) & 7
    } else if meta.gid == user.gid || user.groups.contains(&meta.gid) {
        (meta.mode >> 3) & 7
    } else {
        meta.mode & 7
    };
    bits & want == want
}

/// Why the user cannot reach a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The directory or file that refuses.
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// What was needed: `search (x)`, `read (r)`, `list (r)`.
    pub need: &'static str,
}

impl Denied {
    pub fn describe(&self, user: &User) -> String {
        format!(
            "{} has mode {:04o}, owner {}:{}; the runtime user `{}` (uid {}, gid {}) lacks {} permission on it",
            self.path, self.mode, self.uid, self.gid, user.spec, user.uid, user.gid, self.need
        )
    }
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((p, _)) => p,
        None => "/",
    }
}

/// Every directory from `/` down to `dir` (its real path) must be searchable.
pub fn check_search(vfs: &Vfs, user: &User, dir: &str) -> Result<(), Denied> {
    if user.is_root() {
        return Ok(());
    }
    let real = vfs.realpath(dir).unwrap_or_else(|| dir.to_string());
    let mut cur = String::new();
    for part in std::iter::once("").chain(real.split('/').filter(|p| !p.is_empty())) {
        if !part.is_empty() {
            cur.push('/');
            cur.push_str(part);
        }
        let path = if cur.is_empty() { "/" } else { cur.as_str() };
        let Some(st) = vfs.stat(path) else {
            return Ok(());
        };
        if !allowed(&st.meta, user, EXEC) {
            return Err(Denied {
                path: path.to_string(),
                mode: st.meta.mode,
                uid: st.meta.uid,
                gid: st.meta.gid,
                need: "search (x)",
            });
        }
    }
    Ok(())
}

/// What `FileFinder` needs to find `found_path` (a module file or a package directory) in the
/// directory `listed`: search down to it, and read on `listed` to list it.
pub fn check_find(vfs: &Vfs, user: &User, listed: &str) -> Result<(), Denied> {
    check_search(vfs, user, listed)?;
    if user.is_root() {
        return Ok(());
    }
    if let Some(st) = vfs.stat(listed)
        && !allowed(&st.meta, user, READ)
    {
        return Err(Denied {
            path: listed.to_string(),
            mode: st.meta.mode,
            uid: st.meta.uid,
            gid: st.meta.gid,
            need: "list (r)",
        });
    }
    Ok(())
}

/// Whether the module file can be opened for reading (after it was found).
pub fn check_read(vfs: &Vfs, user: &User, file: &str) -> Result<(), Denied> {
    check_search(vfs, user, parent(file))?;
    if user.is_root() {
        return Ok(());
    }
    if let Some(st) = vfs.stat(file)
        && !allowed(&st.meta, user, READ)
    {
        return Err(Denied {
            path: file.to_string(),
            mode: st.meta.mode,
            uid: st.meta.uid,
            gid: st.meta.gid,
            need: "read (r)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use importgate_image::NewNode;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nstaff:x:50:app\n";

    fn vfs() -> Vfs {
        Vfs::from_files(&[("etc/passwd", PASSWD), ("etc/group", GROUP)])
    }

    fn user(spec: &str) -> User {
        runtime_user(
            &vfs(),
            &ImageConfig {
                user: spec.into(),
                ..ImageConfig::default()
            },
        )
    }

    #[test]
    fn users_resolve_by_name_number_and_group() {
        assert!(user("").is_root());
        let app = user("app");
        assert_eq!(
            (app.uid, app.gid, app.groups.clone()),
            (1000, 1000, vec![50])
        );
        assert_eq!((user("1000").uid, user("1000").gid), (1000, 1000));
        let nobody = user("4242");
        assert_eq!((nobody.uid, nobody.gid), (4242, 0));
        assert_eq!(user("app:staff").gid, 50);
        assert_eq!(user("1000:7").gid, 7);
    }

    #[test]
    fn permission_bits_owner_group_other_and_root() {
        let m = |mode, uid, gid| Meta {
            mode,
            uid,
            gid,
            layer: 0,
        };
        let app = user("app");
        assert!(!allowed(&m(0o700, 0, 0), &app, READ));
        assert!(allowed(&m(0o700, 1000, 0), &app, READ | EXEC));
        assert!(allowed(&m(0o750, 0, 50), &app, READ | EXEC));
        assert!(!allowed(&m(0o705, 0, 1000), &app, READ));
        assert!(allowed(&m(0o604, 0, 0), &app, READ));
        assert!(!allowed(&m(0o600, 0, 0), &app, READ));
        assert!(allowed(&m(0o000, 5, 5), &user("root"), READ | EXEC));
    }

    #[test]
    fn a_closed_directory_hides_what_is_below() {
        let mut v = vfs();
        v.insert("app", NewNode::Dir, Meta::dir_default()).unwrap();
        v.insert(
            "app/priv",
            NewNode::Dir,
            Meta {
                mode: 0o700,
                ..Meta::default()
            },
        )
        .unwrap();
        v.insert("app/priv/m.py", NewNode::Dir, Meta::dir_default())
            .unwrap();
        let app = user("1000");
        assert!(check_find(&v, &app, "/app").is_ok());
        let d = check_find(&v, &app, "/app/priv").unwrap_err();
        assert_eq!(
            (d.path.as_str(), d.mode, d.need),
            ("/app/priv", 0o700, "search (x)")
        );
        assert!(check_read(&v, &app, "/app/priv/m.py").is_err());
        assert!(check_find(&v, &user("root"), "/app/priv").is_ok());
    }
}
