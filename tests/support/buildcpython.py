#!/usr/bin/env python3
"""Build CPython 3.11 from Debian's python3.11 source package, once, for the image families
mkbase.py lays out (rhel, alpine).

The source is the upstream tarball Debian ships as `python3.11_3.11.X.orig.tar.gz`, fetched with
`apt-get source --download-only python3.11` (a deb-src line is added under
/etc/apt/sources.list.d/ when none is configured). Debian's patches are not applied: the
builds are upstream CPython.

Flavors
  rhel    gcc, --prefix=/usr --with-platlibdir=lib64 (RHEL/Fedora: stdlib in
          /usr/lib64/python3.11, purelib /usr/lib/python3.11/site-packages, platlib
          /usr/lib64/python3.11/site-packages)
  alpine  musl-gcc (Debian's musl-tools), --prefix=/usr/local, as python:3.11-alpine; no zlib,
          ssl or ctypes (musl-gcc does not see glibc's headers)

Builds are minimal (no PGO/LTO, no ensurepip), `make -j2` under `nice`. The installed tree is
cached in ~/.cache/importgate-tests/bases/cpython-FLAVOR-KEY/ where KEY hashes the source
tarball, the configure line and this script's BUILD_REVISION; a build in progress is never
mistaken for a finished one (it is renamed into place at the end). Every file's mtime is set
to a fixed epoch and no .pyc is kept, so layers made from the tree are reproducible.

  buildcpython.py rhel        # prints the install root (DESTDIR) on stdout
  buildcpython.py alpine

Standard library only.
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

BUILD_REVISION = "1"
EPOCH = 1700000000
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "importgate-tests", "bases")
SRC_DIR = os.path.join(CACHE, "src")

FLAVORS = {
    "rhel": {
        "env": {"CC": "gcc"},
        "configure": ["--prefix=/usr", "--with-platlibdir=lib64", "--without-ensurepip"],
        "apt": ["build-essential", "libffi-dev", "zlib1g-dev"],
    },
    "alpine": {
        # Alpine's gcc prints no multiarch; Debian's musl-gcc wraps a gcc that prints
        # x86_64-linux-gnu, which configure rejects next to the x86_64-linux-musl triplet it
        # derives for a musl build. A wrapper answers --print-multiarch as Alpine's gcc does.
        "env": {"CC": "musl-gcc"},
        "no_multiarch": True,
        "configure": ["--prefix=/usr/local", "--without-ensurepip"],
        "apt": ["build-essential", "musl", "musl-tools", "musl-dev"],
    },
}

DEB_SRC = """Types: deb-src
URIs: http://deb.debian.org/debian
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def log(msg):
    sys.stderr.write("buildcpython: %s\n" % msg)


def die(msg):
    sys.stderr.write("buildcpython: error: %s\n" % msg)
    sys.exit(2)


def run(cmd, **kw):
    log("$ %s" % " ".join(cmd))
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        die("%s failed (exit %d)" % (" ".join(cmd), r.returncode))
    return r


def source_tarball():
    """The cached python3.11 orig tarball, fetched with apt-get when missing."""
    found = sorted(glob.glob(os.path.join(SRC_DIR, "python3.11_3.11.*.orig.tar.*")))
    if found:
        return found[-1]
    os.makedirs(SRC_DIR, exist_ok=True)
    if not has_deb_src():
        suite = debian_suite()
        path = "/etc/apt/sources.list.d/importgate-deb-src.sources"
        log("adding %s (deb-src for %s)" % (path, suite))
        with open(path, "w") as fh:
            fh.write(DEB_SRC.format(suite=suite))
        run(["apt-get", "update", "-qq"])
    # The security suite's .dsc can be missing on a mirror while the orig tarball (shared by
    # every revision) is there: the tarball is all this needs.
    subprocess.run(["apt-get", "source", "--download-only", "-qq", "python3.11"], cwd=SRC_DIR)
    found = sorted(glob.glob(os.path.join(SRC_DIR, "python3.11_3.11.*.orig.tar.*")))
    if not found:
        die("apt-get source python3.11 gave no orig tarball in %s" % SRC_DIR)
    return found[-1]


def has_deb_src():
    files = glob.glob("/etc/apt/sources.list.d/*.sources") + glob.glob("/etc/apt/sources.list.d/*.list")
    if os.path.exists("/etc/apt/sources.list"):
        files.append("/etc/apt/sources.list")
    for f in files:
        try:
            text = open(f).read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("deb-src ") or (line.startswith("Types:") and "deb-src" in line):
                return True
    return False


def debian_suite():
    try:
        for line in open("/etc/os-release"):
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "bookworm"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalize(root):
    """Fixed mtimes, no bytecode caches: the same bytes from every build of the same inputs."""
    for dirpath, dirs, files in os.walk(root, topdown=False):
        for d in dirs:
            if d == "__pycache__":
                shutil.rmtree(os.path.join(dirpath, d))
        for f in files:
            p = os.path.join(dirpath, f)
            if f.endswith((".pyc", ".pyo")):
                os.unlink(p)
            elif not os.path.islink(p):
                os.utime(p, (EPOCH, EPOCH))
        for d in dirs:
            p = os.path.join(dirpath, d)
            if os.path.isdir(p) and not os.path.islink(p):
                os.utime(p, (EPOCH, EPOCH))


def build(flavor):
    """The install root (DESTDIR) of `flavor`, built once."""
    spec = FLAVORS[flavor]
    for tool in (spec["env"]["CC"], "make"):
        if not shutil.which(tool):
            die("%s is missing (apt-get install %s)" % (tool, " ".join(spec["apt"])))
    tarball = source_tarball()
    parts = [sha256(tarball), spec["env"], spec["configure"]]
    if spec.get("no_multiarch"):
        parts += [True, "no-dpkg-architecture"]
    key_src = json.dumps(parts + [BUILD_REVISION], sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    dest = os.path.join(CACHE, "cpython-%s-%s" % (flavor, key))
    if os.path.exists(os.path.join(dest, ".complete")):
        return dest
    work = os.path.join(CACHE, "build-%s-%s" % (flavor, key))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log("building CPython (%s) from %s in %s" % (flavor, os.path.basename(tarball), work))
    with tarfile.open(tarball) as tar:
        tar.extractall(work)
    srcs = [d for d in glob.glob(os.path.join(work, "Python-*")) if os.path.isdir(d)]
    if len(srcs) != 1:
        die("unexpected tarball layout: %s" % srcs)
    src = srcs[0]
    env = dict(os.environ)
    env.update(spec["env"])
    if spec.get("no_multiarch"):
        tools = os.path.join(work, "bin")
        os.makedirs(tools)
        wrapper = os.path.join(tools, "cc")
        with open(wrapper, "w") as fh:
            fh.write('#!/bin/sh\ncase "$1" in -print-multiarch|--print-multiarch) exit 0 ;; esac\n'
                     'exec %s "$@"\n' % spec["env"]["CC"])
        os.chmod(wrapper, 0o755)
        env["CC"] = wrapper
        # setup.py adds the include and library directories `dpkg-architecture` names (glibc's
        # x86_64-linux-gnu) to every extension build; on Alpine there is no such tool.
        fake = os.path.join(tools, "dpkg-architecture")
        with open(fake, "w") as fh:
            fh.write("#!/bin/sh\nexit 1\n")
        os.chmod(fake, 0o755)
        env["PATH"] = tools + os.pathsep + env.get("PATH", "")
    env["SOURCE_DATE_EPOCH"] = str(EPOCH)
    env["LC_ALL"] = "C"
    nice = ["nice", "-n", "10"]
    run(nice + ["./configure", "--quiet"] + spec["configure"], cwd=src, env=env,
        stdout=subprocess.DEVNULL)
    run(nice + ["make", "-j2", "-s"], cwd=src, env=env, stdout=subprocess.DEVNULL)
    root = os.path.join(work, "root")
    run(nice + ["make", "-s", "install", "DESTDIR=" + root],
        cwd=src, env=env, stdout=subprocess.DEVNULL)
    sysconfig = subprocess.run(
        [os.path.join(src, "python"), "-c",
         "import json, sysconfig; print(json.dumps({k: sysconfig.get_config_var(k) for k in "
         "('SOABI', 'EXT_SUFFIX', 'MULTIARCH', 'PLATLIBDIR', 'prefix', 'VERSION')}))"],
        cwd=src, env=env, stdout=subprocess.PIPE, check=True).stdout.decode()
    with open(os.path.join(root, "importgate-build.json"), "w") as fh:
        fh.write(sysconfig)
    normalize(root)
    open(os.path.join(root, ".complete"), "w").close()
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(root, dest)
    shutil.rmtree(work, ignore_errors=True)
    log("built %s: %s" % (dest, sysconfig.strip()))
    return dest


def build_info(dest):
    """SOABI, EXT_SUFFIX, ... of a build, as its own sysconfig reported them."""
    with open(os.path.join(dest, "importgate-build.json")) as fh:
        return json.load(fh)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in FLAVORS:
        die("usage: buildcpython.py {%s}" % ",".join(sorted(FLAVORS)))
    print(build(sys.argv[1]))


if __name__ == "__main__":
    main()
