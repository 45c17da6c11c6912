#!/usr/bin/env python3
"""Build a minimal Python base image from an interpreter installed on this machine.

No registry is needed: the root filesystem is assembled from host files into a tar stream and
either loaded with `docker import` or written as an OCI image archive.

Layouts
  slim    a pyenv build (``pyenv root``/versions/X.Y.*) copied to /usr/local, like the
          official python:X.Y-slim images: /usr/local/bin/pythonX.Y, python3, python,
          /usr/local/lib/libpython*, /usr/local/lib/pythonX.Y (stdlib, lib-dynload,
          site-packages with pip/setuptools only).
  debian  Debian's /usr/bin/python3.11 with /usr/lib/python3.11 and an empty
          /usr/lib/python3/dist-packages.

Both get the shared-library closure of the interpreter and of every lib-dynload extension, the
dynamic loader, /bin/sh (dash) and a few coreutils (so Dockerfiles may `RUN rm ...`),
/etc/passwd and /etc/group with root and app (1000:1000, home /home/app) and /tmp (1777).

Examples
  mkbase.py --layout slim --python 3.12          # -> importgate-test/python:3.12-slim
  mkbase.py --layout debian                      # -> importgate-test/debian-python3:3.11
  mkbase.py --layout slim --python 3.12 --oci-out target/demo/app.tar \\
      --app examples/seed-app/backend:/app --workdir /app --cmd '["python", "main.py"]'

Standard library only; Python 3.6+.
"""

import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time

EXCLUDED_DIRS = {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "__pycache__"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".a")
# What the official images keep in site-packages; anything else installed on this machine stays
# out of the image.
SITE_KEEP = re.compile(
    r"^(pip|setuptools|pkg_resources|_distutils_hack|wheel|easy_install\.py|"
    r"distutils-precedence\.pth|README\.txt)([-.].*)?$"
)
COREUTILS = ["rm", "ls", "cat", "mkdir", "ln", "cp", "mv", "chmod", "touch", "env", "id", "true"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = 1700000000  # fixed mtime for synthesized entries: stable layer digests


def log(msg):
    sys.stderr.write("mkbase: %s\n" % msg)


def die(msg):
    sys.stderr.write("mkbase: error: %s\n" % msg)
    sys.exit(2)


# --------------------------------------------------------------------------------------------
# Root filesystem assembly


class RootFs:
    """An ordered set of tar entries keyed by their path inside the image."""

    def __init__(self):
        self.entries = {}  # path (no leading /) -> (TarInfo, host path or bytes or None)

    @staticmethod
    def _key(path):
        return path.strip("/")

    def _parents(self, path):
        parts = self._key(path).split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.entries:
                self.dir("/" + d)

    def dir(self, path, mode=0o755, uid=0, gid=0):
        key = self._key(path)
        if not key:
            return
        self._parents(path)
        ti = tarfile.TarInfo(key)
        ti.type = tarfile.DIRTYPE
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = EPOCH
        self.entries[key] = (ti, None)

    def symlink(self, path, target):
        key = self._key(path)
        self._parents(path)
        ti = tarfile.TarInfo(key)
        ti.type = tarfile.SYMTYPE
        ti.linkname = target
        ti.mode = 0o777
        ti.mtime = EPOCH
        self.entries[key] = (ti, None)

    def data(self, path, content, mode=0o644, uid=0, gid=0):
        if isinstance(content, str):
            content = content.encode()
        key = self._key(path)
        self._parents(path)
        ti = tarfile.TarInfo(key)
        ti.size = len(content)
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = EPOCH
        self.entries[key] = (ti, content)

    def file(self, path, host):
        """A host file (following symlinks) at `path`."""
        st = os.stat(host)
        key = self._key(path)
        self._parents(path)
        ti = tarfile.TarInfo(key)
        ti.size = st.st_size
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.mtime = int(st.st_mtime)
        self.entries[key] = (ti, host)

    def host_tree(self, host_dir, dest, exclude_dirs=EXCLUDED_DIRS, top_filter=None):
        """Copy a host directory tree, keeping symlinks as symlinks."""
        self.dir(dest)
        for root, dirs, files in os.walk(host_dir):
            rel = os.path.relpath(root, host_dir)
            top = rel == "."
            dirs[:] = sorted(
                d for d in dirs
                if d not in exclude_dirs and (not top or top_filter is None or top_filter(d))
            )
            target_root = dest if top else os.path.join(dest, rel)
            for d in dirs:
                hp = os.path.join(root, d)
                if os.path.islink(hp):
                    self.symlink(os.path.join(target_root, d), os.readlink(hp))
                else:
                    self.dir(os.path.join(target_root, d))
            for f in sorted(files):
                if f.endswith(EXCLUDED_SUFFIXES):
                    continue
                if top and top_filter is not None and not top_filter(f):
                    continue
                hp = os.path.join(root, f)
                if os.path.islink(hp):
                    self.symlink(os.path.join(target_root, f), os.readlink(hp))
                else:
                    self.file(os.path.join(target_root, f), hp)

    def host_lib(self, host_path):
        """A shared library at the path the host loader knows it by, with the symlink chain
        (and merged-/usr directory links) reproduced."""
        real = os.path.realpath(host_path)
        self.file(real, real)
        # Path of the name itself with directory symlinks resolved, e.g.
        # /lib/x86_64-linux-gnu/libc.so.6 -> /usr/lib/x86_64-linux-gnu/libc.so.6
        name = os.path.join(os.path.realpath(os.path.dirname(host_path)), os.path.basename(host_path))
        if name != real:
            self.symlink(name, os.path.relpath(real, os.path.dirname(name)))

    def write_tar(self, fileobj):
        with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for key in sorted(self.entries):
                ti, src = self.entries[key]
                ti.uname = ti.gname = ""
                if ti.type == tarfile.DIRTYPE or ti.type == tarfile.SYMTYPE:
                    tar.addfile(ti)
                elif isinstance(src, bytes):
                    tar.addfile(ti, io.BytesIO(src))
                else:
                    with open(src, "rb") as fh:
                        tar.addfile(ti, fh)


def ldd_closure(paths):
    """Every library the host loader resolves for `paths`, plus the loader itself."""
    libs = set()
    for p in paths:
        try:
            out = subprocess.run(
                ["ldd", p], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
            ).stdout.decode()
        except OSError as exc:
            die("cannot run ldd: %s" % exc)
        for line in out.splitlines():
            line = line.strip()
            m = re.match(r"^\S+ => (/\S+) \(0x[0-9a-f]+\)$", line)
            if m:
                libs.add(m.group(1))
                continue
            m = re.match(r"^(/\S+) \(0x[0-9a-f]+\)$", line)
            if m:
                libs.add(m.group(1))
            elif "=> not found" in line:
                log("warning: %s: %s" % (p, line))
    return libs


def base_rootfs(rootfs):
    # merged /usr, as on Debian 12
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "usr/local/lib",
              "etc", "root", "var", "run", "proc", "sys", "dev"):
        rootfs.dir("/" + d, mode=0o700 if d == "root" else 0o755)
    for link in ("bin", "sbin", "lib", "lib64"):
        rootfs.symlink("/" + link, "usr/" + link)
    rootfs.dir("/tmp", mode=0o1777)
    rootfs.dir("/home")
    rootfs.dir("/home/app", mode=0o755, uid=1000, gid=1000)
    rootfs.data("/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\n"
                "app:x:1000:1000:app:/home/app:/bin/sh\n")
    rootfs.data("/etc/group", "root:x:0:\napp:x:1000:\n")
    rootfs.data("/etc/os-release", 'PRETTY_NAME="importgate test base"\nID=importgate-test\n')
    # /bin/sh and a few tools
    dash = shutil.which("dash") or "/usr/bin/dash"
    binaries = [dash]
    rootfs.file("/usr/bin/dash", os.path.realpath(dash))
    rootfs.symlink("/usr/bin/sh", "dash")
    for tool in COREUTILS:
        host = shutil.which(tool)
        if host:
            rootfs.file("/usr/bin/" + tool, os.path.realpath(host))
            binaries.append(host)
    return binaries


def python_slim(rootfs, version):
    root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, check=False).stdout
    root = root.decode().strip() if root else os.path.expanduser("~/.pyenv")
    cands = sorted(glob.glob(os.path.join(root, "versions", version + ".*")),
                   key=lambda p: [int(x) if x.isdigit() else 0
                                  for x in os.path.basename(p).split(".")])
    cands = [c for c in cands if re.match(r"^\d+\.\d+\.\d+$", os.path.basename(c))]
    if not cands:
        die("no pyenv build of Python %s under %s/versions" % (version, root))
    prefix = cands[-1]
    full = os.path.basename(prefix)
    exe = os.path.join(prefix, "bin", "python" + version)
    if not os.path.exists(exe):
        die("%s does not exist" % exe)
    rootfs.file("/usr/local/bin/python" + version, exe)
    rootfs.symlink("/usr/local/bin/python3", "python" + version)
    rootfs.symlink("/usr/local/bin/python", "python3")
    elf = [exe]
    for lib in sorted(glob.glob(os.path.join(prefix, "lib", "libpython*"))):
        dest = "/usr/local/lib/" + os.path.basename(lib)
        if lib.endswith(".a"):
            continue
        if os.path.islink(lib):
            rootfs.symlink(dest, os.readlink(lib))
        else:
            rootfs.file(dest, lib)
            elf.append(lib)
    stdlib = os.path.join(prefix, "lib", "python" + version)
    dest = "/usr/local/lib/python" + version
    rootfs.host_tree(stdlib, dest, top_filter=lambda n: n != "site-packages")
    site = os.path.join(stdlib, "site-packages")
    rootfs.host_tree(site, dest + "/site-packages", top_filter=lambda n: bool(SITE_KEEP.match(n)))
    elf += glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "PYTHON_VERSION": full}
    return elf, env, "/usr/local/lib"


def python_debian(rootfs, version):
    version = version or "3.11"
    exe = "/usr/bin/python" + version
    if not os.path.exists(exe):
        die("%s does not exist" % exe)
    rootfs.file(exe, exe)
    rootfs.symlink("/usr/bin/python3", "python" + version)
    stdlib = "/usr/lib/python" + version
    rootfs.host_tree(stdlib, stdlib, top_filter=lambda n: n not in ("site-packages", "dist-packages"))
    etc = "/etc/python" + version
    if os.path.isdir(etc):
        rootfs.host_tree(etc, etc)
    rootfs.dir("/usr/lib/python3/dist-packages")
    elf = [exe] + glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    return elf, env, None


def ld_cache(rootfs, libdir):
    """Write /etc/ld.so.conf(+cache) so the loader finds `libdir` without LD_LIBRARY_PATH, as in
    the official images. Returns False if ldconfig is unusable here."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    tmp = tempfile.mkdtemp(prefix="mkbase-ld.")
    try:
        os.makedirs(os.path.join(tmp, "etc"))
        for key, (ti, src) in rootfs.entries.items():
            if ti.isfile() and ".so" in os.path.basename(key) and (
                key.startswith("usr/lib") or key.startswith("usr/local/lib")
            ) and "/python" not in key:
                p = os.path.join(tmp, key)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                shutil.copyfile(src, p) if not isinstance(src, bytes) else open(p, "wb").write(src)
            elif ti.issym() and key.startswith("usr/") and ".so" in key and "/python" not in key:
                p = os.path.join(tmp, key)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                os.symlink(ti.linkname, p)
        conf = "%s\n/usr/lib/x86_64-linux-gnu\n" % libdir
        with open(os.path.join(tmp, "etc", "ld.so.conf"), "w") as fh:
            fh.write(conf)
        r = subprocess.run([ldconfig, "-X", "-r", tmp], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
        cache = os.path.join(tmp, "etc", "ld.so.cache")
        if r.returncode != 0 or not os.path.exists(cache):
            log("ldconfig -r failed (%s); falling back to LD_LIBRARY_PATH" % r.stderr.decode().strip())
            return False
        rootfs.data("/etc/ld.so.conf", conf)
        with open(cache, "rb") as fh:
            rootfs.data("/etc/ld.so.cache", fh.read())
        return True
    except OSError as exc:
        log("ldconfig -r failed (%s); falling back to LD_LIBRARY_PATH" % exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_rootfs(layout, version):
    rootfs = RootFs()
    elf = base_rootfs(rootfs)
    if layout == "slim":
        py_elf, env, libdir = python_slim(rootfs, version)
    else:
        py_elf, env, libdir = python_debian(rootfs, version)
    for lib in sorted(ldd_closure(elf + py_elf)):
        if "/.pyenv/" in lib:
            continue  # libpython: already placed under /usr/local/lib
        rootfs.host_lib(lib)
    if libdir and not ld_cache(rootfs, libdir):
        env["LD_LIBRARY_PATH"] = libdir
    return rootfs, env


# --------------------------------------------------------------------------------------------
# Output: docker import, or an OCI image archive


def docker_has(tag):
    r = subprocess.run(["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


def docker_import(rootfs, tag, env, cmd, workdir, user):
    changes = []
    for k, v in env.items():
        changes += ["--change", "ENV %s=%s" % (k, v)]
    changes += ["--change", "CMD %s" % json.dumps(cmd)]
    if workdir:
        changes += ["--change", "WORKDIR %s" % workdir]
    if user:
        changes += ["--change", "USER %s" % user]
    proc = subprocess.Popen(["docker", "import"] + changes + ["-", tag],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        rootfs.write_tar(proc.stdin)
    finally:
        proc.stdin.close()
    out = proc.stdout.read().decode().strip()
    if proc.wait() != 0:
        die("docker import failed")
    log("imported %s (%s)" % (tag, out))


def gzip_layer(rootfs):
    """(gzip bytes, diff_id) of a layer."""
    raw = tempfile.TemporaryFile()
    rootfs.write_tar(raw)
    raw.seek(0)
    h = hashlib.sha256()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz:
        while True:
            chunk = raw.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            gz.write(chunk)
    raw.close()
    return buf.getvalue(), "sha256:" + h.hexdigest()


def app_layer(specs):
    rootfs = RootFs()
    for spec in specs:
        if ":" not in spec:
            die("--app wants SRC:DEST, got %r" % spec)
        src, dest = spec.rsplit(":", 1)
        if not os.path.exists(src):
            die("--app source %s does not exist" % src)
        if os.path.isdir(src):
            rootfs.host_tree(src, dest, exclude_dirs={"__pycache__"})
        else:
            if dest.endswith("/"):
                dest += os.path.basename(src)
            rootfs.file(dest, src)
    for ti, _ in rootfs.entries.values():
        ti.mtime = EPOCH
    return rootfs


def write_oci(path, layers, env, cmd, workdir, user, ref):
    """layers: list of RootFs. Writes an OCI image archive (tar of an OCI layout)."""
    blobs = {}

    def blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    descs, diff_ids = [], []
    for rootfs in layers:
        gz, diff_id = gzip_layer(rootfs)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": blob(gz), "size": len(gz)})
        diff_ids.append(diff_id)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["%s=%s" % kv for kv in env.items()],
            "Cmd": cmd,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "mkbase.py"} for _ in layers],
    }
    if workdir:
        config["config"]["WorkingDir"] = workdir
    if user:
        config["config"]["User"] = user
    cfg = json.dumps(config, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(cfg), "size": len(cfg)},
        "layers": descs,
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": blob(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": ref},
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }, sort_keys=True).encode()
    write_oci_archive(path, blobs, index)


def write_oci_archive(path, blobs, index):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data=None):
            ti = tarfile.TarInfo(name)
            ti.mtime = EPOCH
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tar.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                tar.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        add("blobs")
        add("blobs/sha256")
        for digest in sorted(blobs):
            add("blobs/sha256/" + digest.split(":", 1)[1], blobs[digest])
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------


def default_tag(layout, version):
    if layout == "slim":
        return "importgate-test/python:%s-slim" % version
    return "importgate-test/debian-python3:%s" % version


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layout", choices=["slim", "debian"], default="slim")
    ap.add_argument("--python", default=None, help="X.Y (slim: default 3.12; debian: 3.11)")
    ap.add_argument("--tag", default=None, help="image tag (default importgate-test/...)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    ap.add_argument("--oci-out", metavar="FILE",
                    help="write an OCI image archive instead of loading into Docker")
    ap.add_argument("--app", action="append", default=[], metavar="SRC:DEST",
                    help="(with --oci-out) add SRC (file or dir) at DEST in a second layer")
    ap.add_argument("--cmd", default=None, help='Cmd as JSON (default ["python3"])')
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--user", default=None)
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    args = ap.parse_args()

    version = args.python or ("3.12" if args.layout == "slim" else "3.11")
    if not re.match(r"^\d+\.\d+$", version):
        die("--python wants X.Y, got %r" % version)
    tag = args.tag or default_tag(args.layout, version)
    cmd = json.loads(args.cmd) if args.cmd else ["python3"]
    if not isinstance(cmd, list):
        die("--cmd must be a JSON array")
    if args.app and not args.oci_out:
        die("--app needs --oci-out (with Docker, use a Dockerfile FROM %s)" % tag)

    if not args.oci_out and not args.force and docker_has(tag):
        log("%s exists" % tag)
        print(tag)
        return

    rootfs, env = build_rootfs(args.layout, version)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    if args.oci_out:
        layers = [rootfs]
        if args.app:
            layers.append(app_layer(args.app))
        write_oci(args.oci_out, layers, env, cmd, args.workdir, args.user, tag)
        log("wrote %s" % args.oci_out)
        print(args.oci_out)
    else:
        docker_import(rootfs, tag, env, cmd, args.workdir, args.user)
        print(tag)


if __name__ == "__main__":
    main()
