#!/usr/bin/env python3
"""Summarise a `docker save` archive for the bench: merged-filesystem file count and bytes, and
the bytes importgate keeps in memory under its capture policy.

    captured.py SAVE.tar        -> prints `files=N bytes=N captured_files=N captured_bytes=N`

The policy below mirrors `capture_policy()` in crates/check/src/lib.rs (as of the commit the
bench was written against); if that function changes, this estimate drifts. Whiteouts are
applied so the figures describe the merged filesystem. Standard library only.
"""

import json
import sys
import tarfile


def captured(path, size):
    name = path.rsplit("/", 1)[-1]
    installed = "/site-packages/" in path or "/dist-packages/" in path
    if name.endswith(".py"):
        tests = installed and any(c in ("tests", "test") for c in path.split("/"))
        return size <= 8 << 20 and (
            not installed or name == "__init__.py" or (size <= 1 << 20 and not tests))
    if name.endswith(".pth") or name in ("pyvenv.cfg", "RECORD", "installed-files.txt",
                                         "top_level.txt", "entry_points.txt"):
        return size <= 8 << 20
    if path in ("/etc/passwd", "/etc/group"):
        return True
    if name.startswith("libpython") and ".so" in name:
        return size <= 256 << 20
    if "/bin/" in path:
        return name.startswith("python") and size <= 64 << 20 or size <= 64 << 10
    return False


def main():
    files = {}
    with tarfile.open(sys.argv[1]) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r|") as tar:
                for m in tar:
                    p = "/" + m.name.lstrip("./").rstrip("/")
                    d, _, base = p.rpartition("/")
                    if base == ".wh..wh..opq":
                        for k in [k for k in files if k.startswith(d + "/")]:
                            del files[k]
                        continue
                    if base.startswith(".wh."):
                        gone = d + "/" + base[4:]
                        for k in [k for k in files if k == gone or k.startswith(gone + "/")]:
                            del files[k]
                        continue
                    if m.isreg():
                        files[p] = m.size
                    else:
                        files.pop(p, None)
    cap = {p: s for p, s in files.items() if captured(p, s)}
    print("files=%d bytes=%d captured_files=%d captured_bytes=%d"
          % (len(files), sum(files.values()), len(cap), sum(cap.values())))


if __name__ == "__main__":
    main()
