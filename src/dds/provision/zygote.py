"""A pre-imported Python that forks ready processes: `python -m dds.provision.zygote MODULE...`.

Starting a Python program costs an interpreter and its imports (~150-200 ms for the gateway on
two busy cores), paid on every instance creation. The zygote imports the modules once; each
request (a JSON line on stdin: module, argv, cwd, log) forks a child that leaves the zygote's
session, takes the log as its stdout/stderr and runs the module as `__main__`: a few ms. The
child's working directory is its node directory, which is how the provisioner recognises it later
(its command line is the zygote's). The zygote dies with its parent (PR_SET_PDEATHSIG) and reaps
its children; the children, in sessions of their own, outlive it like any node process.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import runpy
import signal
import sys
from typing import Any


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _reap(*_: object) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _child(request: dict[str, Any]) -> None:
    """In the forked child: detach, redirect, run the module; never returns."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(str(request["cwd"]))
        fd = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's own standard streams
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        env: dict[str, Any] = request.get("env") or {}
        os.environ.update({str(k): str(v) for k, v in env.items()})
        argv: list[Any] = request["argv"]
        sys.argv = [str(request["module"]), *(str(a) for a in argv)]
        runpy.run_module(str(request["module"]), run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child reports and exits; the zygote goes on
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def main(modules: list[str]) -> int:
    _die_with_parent()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional speed-up (uvloop) may be absent; the child imports what it needs
            pass
    signal.signal(signal.SIGCHLD, _reap)
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        home = os.getcwd()
        os.chdir(str(request["cwd"]))  # the child is born in its node directory: recognisable at once
        pid = os.fork()
        if pid == 0:
            _child(request)
        os.chdir(home)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
