"""importgate truth oracle: what the image's own CPython does with an import statement.

Run inside the container by the interpreter under test, with the source passed via -c and the
cases as JSON on stdin:

    docker run --rm -i --network none --entrypoint PYTHON IMAGE -c "$(cat probe.py)" < cases.json

Input:
    {"path0": "/app" | null,          # what sys.path[0] is for the real launch
     "append": ["/srv"],              # optional, appended to sys.path (waitress's cwd)
     "flags": ["-s", ...],            # optional interpreter flags of the real launch
     "timeout": 20,                   # optional, seconds per case
     "cases": [{"statement": "from core import aws_service", "package": "services" | null}]}

path0 models the launch: `python dir/script.py` -> realpath of dir; `python -m mod` -> the
working directory; null when nothing is prepended (-I, -P, PYTHONSAFEPATH, console scripts
are modelled by the caller).

Every case runs in a fresh `sys.executable -c` subprocess (so cases cannot affect each other),
with the image's User, WorkingDir and Env, sys.path[0] replaced by path0, and the statement
executed as
    exec(statement, {"__name__": package + ".__probe__" or "__main__", "__package__": package})

Output (stdout, JSON):
    {"executable": ..., "version": "3.12.1", "sys_path": [...],
     "results": [{"ok": bool, "type": exc class | null, "name": exc.name | null,
                  "import_error": isinstance(exc, ImportError), "message": str(exc),
                  "in_module_code": raised while executing an imported module's code}]}
A case that does not finish in time gets {"ok": null, "type": "Timeout", ...}.

Works on Python 3.6 and later; standard library only.
"""

import json
import os
import subprocess
import sys

CHILD = r'''
import json, os, sys
case = json.loads(sys.stdin.read())
# Anything the imported code prints goes to stderr; the result owns the real stdout.
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
safe = bool(getattr(sys.flags, "isolated", 0)) or bool(getattr(sys.flags, "safe_path", False))
if not safe and sys.path:
    sys.path.pop(0)  # the '' that -c put there
if case.get("path0") is not None:
    sys.path.insert(0, case["path0"])
for extra in case.get("append") or []:
    sys.path.append(extra)
res = {"ok": True, "type": None, "name": None, "import_error": False, "message": None,
       "in_module_code": False}
try:
    pkg = case.get("package")
    g = {"__name__": (pkg + ".__probe__") if pkg else "__main__", "__package__": pkg,
         "__builtins__": __builtins__}
    exec(compile(case["statement"], "<importgate-probe>", "exec"), g)
except BaseException as exc:
    # Did the exception come out of the code of a module being imported (a real file on the
    # stack) rather than from the import system working on this statement?
    tb, in_module_code = exc.__traceback__, False
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith("<"):
            in_module_code = True
        tb = tb.tb_next
    res = {"ok": False, "type": type(exc).__name__, "name": getattr(exc, "name", None),
           "import_error": isinstance(exc, ImportError), "message": str(exc),
           "in_module_code": in_module_code}
    if not isinstance(res["name"], str):
        res["name"] = None
if case.get("describe"):
    res["executable"] = sys.executable
    res["version"] = "%d.%d.%d" % sys.version_info[:3]
    res["sys_path"] = list(sys.path)
out.write(json.dumps(res))
out.flush()
os._exit(0)
'''


def run_case(case, path0, flags, timeout, append=()):
    payload = dict(case)
    payload["path0"] = path0
    payload["append"] = list(append)
    proc = subprocess.Popen(
        [sys.executable] + list(flags) + ["-c", CHILD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(json.dumps(payload).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"ok": None, "type": "Timeout", "name": None, "import_error": False,
                "message": "no result after %ss" % timeout}
    try:
        return json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        return {"ok": None, "type": "ProbeFailure", "name": None, "import_error": False,
                "message": "exit %s; stderr: %s" % (proc.returncode,
                                                    err.decode("utf-8", "replace")[-2000:])}


def main():
    req = json.loads(sys.stdin.read())
    path0 = req.get("path0")
    flags = req.get("flags") or []
    timeout = req.get("timeout") or 20
    append = req.get("append") or []
    info = run_case({"statement": "pass", "package": None, "describe": True}, path0, flags,
                    timeout, append)
    results = [run_case(c, path0, flags, timeout, append) for c in req.get("cases", [])]
    sys.stdout.write(json.dumps({
        "executable": info.get("executable"),
        "version": info.get("version"),
        "sys_path": info.get("sys_path"),
        "results": results,
    }))
    sys.stdout.flush()


main()
