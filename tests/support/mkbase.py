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

Image families (see docs/semantics.md, "Image families"):
  rhel        CPython 3.11 built from source (buildcpython.py) with --prefix=/usr
              --with-platlibdir=lib64: /usr/bin/python3.11, stdlib in /usr/lib64/python3.11,
              empty /usr/lib/python3.11/site-packages and /usr/lib64/python3.11/site-packages.
  alpine      CPython 3.11 built with musl-gcc, in /usr/local as python:3.11-alpine; musl's
              loader at /lib/ld-musl-x86_64.so.1 (+ /lib/libc.musl-x86_64.so.1), busybox-static
              as /bin/sh, no glibc anywhere.
  conda       the pyenv 3.12 build relocated to /opt/conda (conda-meta/, PATH=/opt/conda/bin:...)
              and the pyenv 3.11 build as the env /opt/conda/envs/app; both find libpython
              through RPATH $ORIGIN/../lib, as conda's builds do.
  uv          the pyenv 3.12 build as a uv-managed interpreter,
              /root/.local/share/uv/python/cpython-3.12.1-linux-x86_64-gnu/ (RPATH
              $ORIGIN/../lib), and the venv /app/.venv whose bin/python links to it; Cmd
              /app/.venv/bin/python.
  distroless  the debian layout without /bin/sh or any other tool, Entrypoint
              ["/usr/bin/python3.11"] and no Cmd, like gcr.io/distroless/python3-debian12.
  arm64       Debian's python3.11 for arm64 (packages fetched with apt-get download for that
              architecture, unpacked with dpkg -x), image architecture arm64; runs under
              qemu-user-static with binfmt_misc.

Every layout but alpine, distroless and arm64 gets the host's shared-library closure of the
interpreter and of every lib-dynload extension, the dynamic loader, /bin/sh (dash) and a few
coreutils (so Dockerfiles may `RUN rm ...`); all get /etc/passwd and /etc/group with root and
app (1000:1000, home /home/app) and /tmp (1777).

Examples
  mkbase.py --layout slim --python 3.12          # -> importgate-test/python:3.12-slim
  mkbase.py --layout slim --python 3.12 --official   # -> python:3.12-slim (a stand-in)
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


def base_dirs(rootfs, merged=True):
    """The directory skeleton, accounts and /tmp. `merged`: /bin, /sbin, /lib, /lib64 are
    links into /usr, as on Debian 12 (Alpine keeps them as directories)."""
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/local/bin", "usr/local/lib",
              "etc", "root", "var", "run", "proc", "sys", "dev"):
        rootfs.dir("/" + d, mode=0o700 if d == "root" else 0o755)
    if merged:
        rootfs.dir("/usr/lib64")
        for link in ("bin", "sbin", "lib", "lib64"):
            rootfs.symlink("/" + link, "usr/" + link)
    else:
        for d in ("bin", "sbin", "lib"):
            rootfs.dir("/" + d)
    rootfs.dir("/tmp", mode=0o1777)
    rootfs.dir("/home")
    rootfs.dir("/home/app", mode=0o755, uid=1000, gid=1000)
    rootfs.data("/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\n"
                "app:x:1000:1000:app:/home/app:/bin/sh\n")
    rootfs.data("/etc/group", "root:x:0:\napp:x:1000:\n")
    rootfs.data("/etc/os-release", 'PRETTY_NAME="importgate test base"\nID=importgate-test\n')


def base_rootfs(rootfs):
    base_dirs(rootfs)
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


def pyenv_prefix(version):
    """The newest pyenv build of `version` (X.Y): its prefix directory."""
    root = None
    try:
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, check=False).stdout
    except OSError:
        pass
    root = root.decode().strip() if root else os.path.expanduser("~/.pyenv")
    cands = sorted(glob.glob(os.path.join(root, "versions", version + ".*")),
                   key=lambda p: [int(x) if x.isdigit() else 0
                                  for x in os.path.basename(p).split(".")])
    cands = [c for c in cands if re.match(r"^\d+\.\d+\.\d+$", os.path.basename(c))]
    if not cands:
        die("no pyenv build of Python %s under %s/versions" % (version, root))
    return cands[-1]


def python_slim(rootfs, version):
    prefix = pyenv_prefix(version)
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


def patched_elf(rootfs, path, host, patchelf_args):
    """A host ELF file at `path`, changed by `patchelf ARGS` (on a copy)."""
    patchelf = shutil.which("patchelf")
    if not patchelf:
        die("patchelf is missing (apt-get install patchelf)")
    tmp = tempfile.mkdtemp(prefix="mkbase-elf.")
    try:
        copy = os.path.join(tmp, os.path.basename(host))
        shutil.copyfile(host, copy)
        r = subprocess.run([patchelf] + patchelf_args + [copy], stderr=subprocess.PIPE,
                           check=False)
        if r.returncode != 0:
            die("patchelf %s %s: %s" % (" ".join(patchelf_args), host, r.stderr.decode().strip()))
        with open(copy, "rb") as fh:
            rootfs.data(path, fh.read(), mode=stat.S_IMODE(os.stat(host).st_mode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def relocated_pyenv(rootfs, version, dest, site=True):
    """The pyenv build of `version` as a self-contained prefix `dest` (bin/, lib/libpython*,
    lib/pythonX.Y), the interpreter's RUNPATH set to $ORIGIN/../lib as conda and
    python-build-standalone builds have it. Returns (ELF files on the host, full version)."""
    prefix = pyenv_prefix(version)
    exe = os.path.join(prefix, "bin", "python" + version)
    patched_elf(rootfs, dest + "/bin/python" + version, exe, ["--set-rpath", "$ORIGIN/../lib"])
    rootfs.symlink(dest + "/bin/python3", "python" + version)
    rootfs.symlink(dest + "/bin/python", "python" + version)
    elf = [exe]
    for lib in sorted(glob.glob(os.path.join(prefix, "lib", "libpython*"))):
        if lib.endswith(".a"):
            continue
        to = dest + "/lib/" + os.path.basename(lib)
        if os.path.islink(lib):
            rootfs.symlink(to, os.readlink(lib))
        else:
            rootfs.file(to, lib)
            elf.append(lib)
    stdlib = os.path.join(prefix, "lib", "python" + version)
    to = dest + "/lib/python" + version
    rootfs.host_tree(stdlib, to, top_filter=lambda n: n != "site-packages")
    if site:
        rootfs.host_tree(os.path.join(stdlib, "site-packages"), to + "/site-packages",
                         top_filter=lambda n: bool(SITE_KEEP.match(n)))
    else:
        rootfs.dir(to + "/site-packages")
    elf += glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    return elf, os.path.basename(prefix)


def conda_meta(rootfs, prefix, full, build):
    """conda-meta/ of a prefix: the history and the python package record conda writes."""
    rootfs.data(prefix + "/conda-meta/history",
                "==> 2023-11-14 22:13:20 <==\n# cmd: conda create -p %s python=%s\n"
                "+defaults/linux-64::python-%s-%s\n" % (prefix, full, full, build))
    record = {"name": "python", "version": full, "build": build, "channel":
              "https://repo.anaconda.com/pkgs/main/linux-64", "subdir": "linux-64",
              "files": ["bin/python" + full.rsplit(".", 1)[0]]}
    rootfs.data("%s/conda-meta/python-%s-%s.json" % (prefix, full, build),
                json.dumps(record, sort_keys=True, indent=1))


def python_conda(rootfs, version):
    """Miniconda-like: the base prefix /opt/conda (CPython `version`, default 3.12) and the env
    /opt/conda/envs/app (CPython 3.11)."""
    version = version or "3.12"
    elf, full = relocated_pyenv(rootfs, version, "/opt/conda")
    conda_meta(rootfs, "/opt/conda", full, "h996f2a0_0")
    rootfs.dir("/opt/conda/envs")
    env_elf, env_full = relocated_pyenv(rootfs, "3.11", "/opt/conda/envs/app", site=True)
    conda_meta(rootfs, "/opt/conda/envs/app", env_full, "h955ad1f_0")
    env = {"PATH": "/opt/conda/bin:" + DEFAULT_PATH, "LANG": "C.UTF-8"}
    return elf + env_elf, env, None


UV_PYTHON = "/root/.local/share/uv/python/cpython-%s-linux-x86_64-gnu"


def python_uv(rootfs, version):
    """A uv-managed interpreter in root's data directory and the project venv /app/.venv."""
    version = version or "3.12"
    full = os.path.basename(pyenv_prefix(version))
    home = UV_PYTHON % full
    elf, _ = relocated_pyenv(rootfs, version, home, site=False)
    for d in ("/root/.local", "/root/.local/share", "/root/.local/share/uv",
              "/root/.local/share/uv/python"):
        rootfs.dir(d)
    venv = "/app/.venv"
    rootfs.symlink(venv + "/bin/python", home + "/bin/python" + version)
    rootfs.symlink(venv + "/bin/python3", "python")
    rootfs.symlink(venv + "/bin/python" + version, "python")
    rootfs.dir(venv + "/lib/python%s/site-packages" % version)
    rootfs.symlink(venv + "/lib64", "lib")
    rootfs.data(venv + "/pyvenv.cfg",
                "home = %s/bin\nimplementation = CPython\nuv = 0.5.11\nversion_info = %s\n"
                "include-system-site-packages = false\nprompt = app\n" % (home, full))
    rootfs.data(venv + "/.gitignore", "*\n")
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    return elf, env, None


def built_cpython(flavor):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import buildcpython  # noqa: E402 (a sibling script)
    dest = buildcpython.build(flavor)
    info = buildcpython.build_info(dest)
    log("%s build: SOABI %s, EXT_SUFFIX %s" % (flavor, info.get("SOABI"), info.get("EXT_SUFFIX")))
    return dest, info


def python_rhel(rootfs, version):
    """CPython built with --prefix=/usr --with-platlibdir=lib64."""
    if version != "3.11":
        die("the rhel layout is built from Debian's python3.11 source: --python 3.11")
    root, _ = built_cpython("rhel")
    exe = os.path.join(root, "usr/bin/python3.11")
    rootfs.file("/usr/bin/python3.11", exe)
    rootfs.symlink("/usr/bin/python3", "python3.11")
    stdlib = os.path.join(root, "usr/lib64/python3.11")
    rootfs.host_tree(stdlib, "/usr/lib64/python3.11", top_filter=lambda n: n != "site-packages")
    rootfs.dir("/usr/lib64/python3.11/site-packages")
    rootfs.dir("/usr/lib/python3.11/site-packages")
    rootfs.data("/etc/os-release",
                'PRETTY_NAME="importgate test base (platlibdir lib64)"\nID=importgate-test\n')
    elf = [exe] + glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    return elf, {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}, None


BUSYBOX_APPLETS = ["sh", "ash"] + COREUTILS


def musl_rootfs(rootfs, version):
    """python:3.11-alpine's layout, with a musl CPython and no glibc: musl's loader (Debian's
    musl package) as /lib/ld-musl-x86_64.so.1, its Alpine alias libc.musl-x86_64.so.1, and
    busybox-static for /bin/sh and the tools."""
    if version != "3.11":
        die("the alpine layout is built from Debian's python3.11 source: --python 3.11")
    base_dirs(rootfs, merged=False)
    rootfs.data("/etc/os-release",
                'PRETTY_NAME="importgate test base (musl)"\nID=importgate-test\n')
    musl = os.path.realpath("/lib/ld-musl-x86_64.so.1")
    if not os.path.exists(musl):
        die("/lib/ld-musl-x86_64.so.1 is missing (apt-get install musl)")
    rootfs.file("/lib/ld-musl-x86_64.so.1", musl)
    rootfs.symlink("/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1")
    busybox = shutil.which("busybox")
    if not busybox:
        die("busybox is missing (apt-get install busybox-static)")
    rootfs.file("/bin/busybox", os.path.realpath(busybox))
    for applet in BUSYBOX_APPLETS:
        rootfs.symlink("/bin/" + applet, "busybox")
    root, info = built_cpython("alpine")
    exe = os.path.join(root, "usr/local/bin/python3.11")
    rootfs.file("/usr/local/bin/python3.11", exe)
    rootfs.symlink("/usr/local/bin/python3", "python3.11")
    rootfs.symlink("/usr/local/bin/python", "python3")
    stdlib = os.path.join(root, "usr/local/lib/python3.11")
    rootfs.host_tree(stdlib, "/usr/local/lib/python3.11")
    # Debian's musl has no soname: what musl-gcc links names `libc.so`. Alpine's binaries name
    # libc.musl-x86_64.so.1, as these then do.
    musl_needed = ["--replace-needed", "libc.so", "libc.musl-x86_64.so.1"]
    patched_elf(rootfs, "/usr/local/bin/python3.11", exe, musl_needed)
    for ext in sorted(glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))):
        patched_elf(rootfs, "/usr/local/lib/python3.11/lib-dynload/" + os.path.basename(ext),
                    ext, musl_needed)
    return {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "PYTHON_VERSION": "3.11.2"}


def distroless_rootfs(rootfs, version):
    """Debian's python3.11 with nothing else: no shell, no tools."""
    base_dirs(rootfs)
    elf, env, _ = python_debian(rootfs, version)
    for lib in sorted(ldd_closure(elf)):
        rootfs.host_lib(lib)
    return {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}


# Debian's python3.11 for arm64 and the packages its lib-dynload needs, unpacked with dpkg -x.
ARM64_PACKAGES = [
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6",
    "libgcc-s1", "libexpat1", "zlib1g", "libffi8", "libssl3", "libbz2-1.0", "liblzma5",
    "libsqlite3-0", "libncursesw6", "libtinfo6", "libreadline8", "libuuid1",
    "libcrypt1", "libdb5.3", "libnsl2", "libtirpc3", "libgssapi-krb5-2", "libkrb5-3",
    "libk5crypto3", "libcom-err2", "libkrb5support0", "libkeyutils1", "dash",
]


def arm64_debs():
    """The .deb files of ARM64_PACKAGES, downloaded once into the cache with apt-get under a
    private apt state (the machine's own apt configuration and architectures are untouched)."""
    cache = os.path.join(os.path.expanduser("~"), ".cache", "importgate-tests", "bases",
                         "arm64-debs")
    marker = os.path.join(cache, ".complete")
    key = hashlib.sha256(json.dumps(ARM64_PACKAGES).encode()).hexdigest()[:16]
    if os.path.exists(marker) and open(marker).read().strip() == key:
        return sorted(glob.glob(os.path.join(cache, "*.deb")))
    state = os.path.join(cache, "apt")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    opts = ["-o", "APT::Architecture=arm64", "-o", "APT::Architectures=arm64",
            "-o", "Dir::State::Lists=" + os.path.join(state, "lists"),
            "-o", "Dir::Cache=" + os.path.join(state, "cache"),
            "-o", "Dir::State::status=/dev/null", "-o", "Debug::NoLocking=1"]
    for cmd in (["apt-get", "update", "-qq"] + opts,
                ["apt-get", "download", "-qq"] + opts + [p + ":arm64" for p in ARM64_PACKAGES]):
        log("$ %s" % " ".join(cmd))
        if subprocess.run(cmd, cwd=cache, check=False).returncode != 0:
            die("%s failed" % " ".join(cmd[:2]))
    with open(marker, "w") as fh:
        fh.write(key + "\n")
    return sorted(glob.glob(os.path.join(cache, "*.deb")))


def arm64_rootfs(rootfs, version):
    if version != "3.11":
        die("the arm64 layout is Debian's python3.11: --python 3.11")
    base_dirs(rootfs)
    tmp = tempfile.mkdtemp(prefix="mkbase-arm64.")
    try:
        for deb in arm64_debs():
            r = subprocess.run(["dpkg-deb", "-x", deb, tmp], check=False)
            if r.returncode != 0:
                die("dpkg-deb -x %s failed" % deb)
        # merged /usr: what the packages ship in /bin, /sbin, /lib goes below /usr
        for top in sorted(os.listdir(tmp)):
            host = os.path.join(tmp, top)
            if top in ("bin", "sbin", "lib"):
                rootfs.host_tree(host, "/usr/" + top, exclude_dirs={"__pycache__"})
            elif top in ("usr", "etc"):
                rootfs.host_tree(host, "/" + top)
        for key, (ti, src) in list(rootfs.entries.items()):
            if ti.isfile() and isinstance(src, str):
                # the extracted tree is removed below: keep the bytes
                with open(src, "rb") as fh:
                    rootfs.entries[key] = (ti, fh.read())
                ti.mtime = EPOCH
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rootfs.symlink("/usr/bin/python3", "python3.11")
    rootfs.symlink("/usr/bin/sh", "dash")
    rootfs.dir("/usr/lib/python3/dist-packages")
    return {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}


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


LAYOUTS = ["slim", "debian", "rhel", "alpine", "conda", "uv", "distroless", "arm64"]

# What every glibc distribution image has besides libc.so.6 and the loader, and wheels'
# extensions still name in DT_NEEDED: glibc's compatibility stubs and libgcc_s. The family
# bases carry them (slim and debian stay as minimal as before).
GLIBC_EXTRAS = ["libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libm.so.6",
                "libgcc_s.so.1"]


def glibc_extras(rootfs):
    for name in GLIBC_EXTRAS:
        for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"):
            if os.path.exists(os.path.join(d, name)):
                rootfs.host_lib(os.path.join(d, name))
                break
        else:
            log("warning: no %s on this machine" % name)


def build_rootfs(layout, version):
    """(rootfs, image settings): env, and for some layouts entrypoint, cmd, architecture."""
    rootfs = RootFs()
    meta = {}
    if layout == "alpine":
        meta["env"] = musl_rootfs(rootfs, version)
        return rootfs, meta
    if layout == "distroless":
        meta["env"] = distroless_rootfs(rootfs, version)
        glibc_extras(rootfs)
        meta["entrypoint"] = ["/usr/bin/python3.11"]
        meta["cmd"] = None
        return rootfs, meta
    if layout == "arm64":
        meta["env"] = arm64_rootfs(rootfs, version)
        meta["architecture"] = "arm64"
        return rootfs, meta
    elf = base_rootfs(rootfs)
    if layout == "slim":
        py_elf, env, libdir = python_slim(rootfs, version)
    elif layout == "rhel":
        py_elf, env, libdir = python_rhel(rootfs, version)
    elif layout == "conda":
        py_elf, env, libdir = python_conda(rootfs, version)
    elif layout == "uv":
        py_elf, env, libdir = python_uv(rootfs, version)
        meta["cmd"] = ["/app/.venv/bin/python"]
    else:
        py_elf, env, libdir = python_debian(rootfs, version)
    for lib in sorted(ldd_closure(elf + py_elf)):
        if "/.pyenv/" in lib:
            continue  # libpython: already placed with its interpreter
        rootfs.host_lib(lib)
    if layout in ("rhel", "conda", "uv"):
        glibc_extras(rootfs)
    if libdir and not ld_cache(rootfs, libdir):
        env["LD_LIBRARY_PATH"] = libdir
    meta["env"] = env
    return rootfs, meta


# --------------------------------------------------------------------------------------------
# Output: docker import, or an OCI image archive


def docker_has(tag):
    r = subprocess.run(["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


def docker_import(rootfs, tag, meta, cmd, workdir, user):
    changes = []
    for k, v in meta["env"].items():
        changes += ["--change", "ENV %s=%s" % (k, v)]
    if meta.get("entrypoint"):
        changes += ["--change", "ENTRYPOINT %s" % json.dumps(meta["entrypoint"])]
    if cmd is not None:
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


def docker_load(rootfs, tag, meta, cmd, workdir, user):
    """`docker load` of a `docker save`-format archive: unlike `docker import`, it keeps the
    config's architecture (the engine need not be multi-platform capable)."""
    layer = tempfile.TemporaryFile()
    rootfs.write_tar(layer)
    layer.seek(0)
    h = hashlib.sha256()
    for chunk in iter(lambda: layer.read(1 << 20), b""):
        h.update(chunk)
    diff_id = "sha256:" + h.hexdigest()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    config = {"Env": ["%s=%s" % kv for kv in meta["env"].items()]}
    if meta.get("entrypoint"):
        config["Entrypoint"] = meta["entrypoint"]
    if cmd is not None:
        config["Cmd"] = cmd
    if workdir:
        config["WorkingDir"] = workdir
    if user:
        config["User"] = user
    image = json.dumps({
        "architecture": meta.get("architecture", "amd64"), "os": "linux", "created": created,
        "config": config, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "mkbase.py"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(image).hexdigest() + ".json"
    layer_name = diff_id.split(":", 1)[1] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}])
    proc = subprocess.Popen(["docker", "load", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            def add(name, data=None, fileobj=None, size=0):
                ti = tarfile.TarInfo(name)
                ti.mtime = EPOCH
                ti.size = len(data) if data is not None else size
                tar.addfile(ti, io.BytesIO(data) if data is not None else fileobj)
            add(config_name, image)
            layer.seek(0, 2)
            size = layer.tell()
            layer.seek(0)
            add(layer_name, fileobj=layer, size=size)
            add("manifest.json", manifest.encode())
    finally:
        proc.stdin.close()
        layer.close()
    out = proc.stdout.read().decode().strip()
    if proc.wait() != 0:
        die("docker load failed")
    log("loaded %s (%s)" % (tag, out))


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


def write_oci(path, layers, meta, cmd, workdir, user, ref):
    """layers: list of RootFs. Writes an OCI image archive (tar of an OCI layout)."""
    env = meta["env"]
    arch = meta.get("architecture", "amd64")
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
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["%s=%s" % kv for kv in env.items()],
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "mkbase.py"} for _ in layers],
    }
    if meta.get("entrypoint"):
        config["config"]["Entrypoint"] = meta["entrypoint"]
    if cmd is not None:
        config["config"]["Cmd"] = cmd
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
            "platform": {"architecture": arch, "os": "linux"},
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
    return {
        "slim": "importgate-test/python:%s-slim",
        "debian": "importgate-test/debian-python3:%s",
        "rhel": "importgate-test/rhel-python3:%s",
        "alpine": "importgate-test/python:%s-alpine",
        "conda": "importgate-test/conda:py%s",
        "uv": "importgate-test/uv-python:%s",
        "distroless": "importgate-test/distroless-python3:%s",
        "arm64": "importgate-test/debian-python3:%s-arm64",
    }[layout] % version


# What the official python:X.Y-slim images set besides LANG and PYTHON_VERSION: their PATH
# (/usr/local/bin put in front of Debian's default) and the release manager's key the tarball
# was verified with.
OFFICIAL_PATH = "/usr/local/bin:" + DEFAULT_PATH
OFFICIAL_GPG_KEYS = {
    "3.6": "0D96DF4D4110E5C43FBFB17F2D347EA6AA65421D",
    "3.7": "0D96DF4D4110E5C43FBFB17F2D347EA6AA65421D",
    "3.8": "E3FF2839C048B25C084DEBE9B26995E310250568",
    "3.9": "E3FF2839C048B25C084DEBE9B26995E310250568",
    "3.10": "A035C8C19219BA821ECEA86B64E628F8D684696D",
    "3.11": "A035C8C19219BA821ECEA86B64E628F8D684696D",
    "3.12": "7169605F62C751356D054A26A821E680E5FA6305",
    "3.13": "7169605F62C751356D054A26A821E680E5FA6305",
}


def official_env(version):
    env = {"PATH": OFFICIAL_PATH}
    if version in OFFICIAL_GPG_KEYS:
        env["GPG_KEY"] = OFFICIAL_GPG_KEYS[version]
    return env


def default_version(layout):
    return {"slim": "3.12", "conda": "3.12", "uv": "3.12"}.get(layout, "3.11")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layout", choices=LAYOUTS, default="slim")
    ap.add_argument("--python", default=None,
                    help="X.Y (slim, conda, uv: default 3.12; the others: 3.11)")
    ap.add_argument("--tag", default=None, help="image tag (default importgate-test/...)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    ap.add_argument("--oci-out", metavar="FILE",
                    help="write an OCI image archive instead of loading into Docker")
    ap.add_argument("--app", action="append", default=[], metavar="SRC:DEST",
                    help="(with --oci-out) add SRC (file or dir) at DEST in a second layer")
    ap.add_argument("--cmd", default=None,
                    help='Cmd as JSON (default ["python3"]; distroless: none; uv: the venv\'s python)')
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--user", default=None)
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--official", action="store_true",
                    help="(slim) a stand-in for the official python:X.Y-slim: that tag (unless "
                         "--tag), and its PATH and GPG_KEY")
    args = ap.parse_args()

    version = args.python or default_version(args.layout)
    if not re.match(r"^\d+\.\d+$", version):
        die("--python wants X.Y, got %r" % version)
    if args.official and args.layout != "slim":
        die("--official is for the slim layout")
    tag = args.tag or ("python:%s-slim" % version if args.official
                       else default_tag(args.layout, version))
    cmd = json.loads(args.cmd) if args.cmd else ["python3"]
    if not isinstance(cmd, list):
        die("--cmd must be a JSON array")
    cmd_given = args.cmd is not None
    if args.app and not args.oci_out:
        die("--app needs --oci-out (with Docker, use a Dockerfile FROM %s)" % tag)

    if not args.oci_out and not args.force and docker_has(tag):
        log("%s exists" % tag)
        print(tag)
        return

    rootfs, meta = build_rootfs(args.layout, version)
    if not cmd_given and "cmd" in meta:
        cmd = meta["cmd"]
    if args.official:
        meta["env"].update(official_env(version))
    for kv in args.env:
        k, _, v = kv.partition("=")
        meta["env"][k] = v
    if args.oci_out:
        layers = [rootfs]
        if args.app:
            layers.append(app_layer(args.app))
        write_oci(args.oci_out, layers, meta, cmd, args.workdir, args.user, tag)
        log("wrote %s" % args.oci_out)
        print(args.oci_out)
    elif meta.get("architecture"):
        docker_load(rootfs, tag, meta, cmd, args.workdir, args.user)
        print(tag)
    else:
        docker_import(rootfs, tag, meta, cmd, args.workdir, args.user)
        print(tag)


if __name__ == "__main__":
    main()
