"""importgate corpus driver: runs every layout of a corpus image the way the image would start it.

Run inside the container as root by the base interpreter:

    docker run --rm -i --network none --entrypoint python3 IMAGE /corpus/driver.py < layouts.json

Input: {"layouts": [{"id": ..., "argv": [...], "env": {"K": "V"}, "cwd": "/c/x",
                     "user": "app" | null, "home": "/home/app" | null}]}

Each layout is started with its own argv, working directory and environment (the image's Env,
which this process inherited, plus the layout's). For a layout with a `user`, the child runs
with that uid/gid and, unless the layout sets HOME, the passwd home: what Docker does for an
image whose USER is set and whose Env has no HOME.

The program started is the layout's own code: a harness (see tests/it/corpus.rs) that executes
each import statement and prints one line `@@importgate-corpus@@ {json}`. Output (stdout, JSON):
    {"results": {"<id>": {"results": [...]} | {"error": "..."}}}
Works on Python 3.6 and later; standard library only.
"""

import json
import os
import pwd
import subprocess
import sys

MARK = "@@importgate-corpus@@ "


def run(layout):
    env = dict(os.environ)
    env.update(layout.get("env") or {})
    for k in layout.get("unset") or []:
        env.pop(k, None)
    preexec = None
    user = layout.get("user")
    if user:
        pw = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
        if "HOME" not in (layout.get("env") or {}):
            env["HOME"] = pw.pw_dir

        def preexec():
            os.setgid(pw.pw_gid)
            os.setgroups([])
            os.setuid(pw.pw_uid)
    try:
        proc = subprocess.run(layout["argv"], cwd=layout["cwd"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, preexec_fn=preexec, timeout=60)
    except Exception as exc:  # the layout cannot even start: report, do not guess
        return {"error": "cannot start %r: %s" % (layout["argv"], exc)}
    out = proc.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": "no result (exit %s)\nstdout:\n%s\nstderr:\n%s" % (
        proc.returncode, out[-2000:], proc.stderr.decode("utf-8", "replace")[-3000:])}


def main():
    req = json.loads(sys.stdin.read())
    results = {}
    for layout in req["layouts"]:
        results[layout["id"]] = run(layout)
    sys.stdout.write(json.dumps({"results": results}))
    sys.stdout.flush()


main()
