"""importgate: CPython's side of tests/it/generated.rs, run inside the image as root.

    docker run --rm -i --entrypoint python3 IMAGE /gen/truth.py < layouts.json

For every generated application: its start command, with its working directory and
environment, and then a fresh `import M` of each of its modules with the start's sys.path[0].
Each run reports its exit status, the application frames of its last traceback (innermost
last), the traceback's last line and the files that ran to their end (each generated module
appends its path to /tmp/ig_done as its last statement). Standard library only, Python 3.6+.
Output (stdout, JSON): {"<id>": {"start": RUN, "modules": {"<M>": RUN}}}.
"""

import json
import os
import re
import subprocess
import sys

FRAME = re.compile(r'^  File "([^"<]+)", line (\d+), in ')
DONE = "/tmp/ig_done"


def run(argv, cwd, env):
    try:
        os.unlink(DONE)
    except OSError:
        pass
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        code, err = p.returncode, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        code, err = -1, "timeout"
    block = err.rsplit("Traceback (most recent call last):", 1)[-1]
    frames = []
    for line in block.splitlines():
        m = FRAME.match(line)
        if m:
            # Python 3.8 names the script as it was given: relative to the working directory.
            path = os.path.normpath(os.path.join(cwd, m.group(1)))
            if path.startswith("/c/"):
                frames.append([path, int(m.group(2))])
    lines = [l for l in err.splitlines() if l.strip()]
    done = []
    try:
        with open(DONE) as f:
            done = sorted(set(l.strip() for l in f if l.strip()))
    except OSError:
        pass
    return {"exit": code, "frames": frames, "last": lines[-1] if lines else "", "done": done}


def main():
    req = json.loads(sys.stdin.read())
    out = {}
    for l in req["layouts"]:
        env = dict(os.environ)
        env.update(l["env"])
        res = {"start": run(l["argv"], l["cwd"], env), "modules": {}}
        for m in l["modules"]:
            code = "import sys; sys.path[0] = %r\nimport %s\n" % (l["path0"], m)
            res["modules"][m] = run(["python3", "-c", code], l["cwd"], env)
        out[l["id"]] = res
    sys.stdout.write(json.dumps(out))


main()
