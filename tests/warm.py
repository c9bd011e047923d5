"""`python -m pipeline ...` as real processes, forked from a parent that has imported csac's libraries.

A `csac` the tests start through `Popen` or `run` here is a process of its own: its pid, signals,
SIGKILL, resource limits, working folder, environment, standard streams and exit status, as with
subprocess. It is forked from a warm server instead of exec'd: a fresh interpreter spends 0.5 to
1 s of CPU importing pyHanko, pdfium, openpyxl, typer... before its first line of work, and the
tests start about 200 of them. In the child, `python -m pipeline` runs as after an exec, in the
child's own environment; pipeline.cli itself is imported there (its consoles read COLUMNS when made).

The server, one per test process, is started on first use. It forks twice per process so that the
`csac` is reparented to the test process (a child subreaper: Linux), which then waits for it and
signals it as it would any subprocess.Popen child. What it cannot reproduce goes through
subprocess unchanged: another program, a preexec_fn, and another user (who may not read the
interpreter's own files, which a forked child imports lazily from the server's paths).
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from pipeline import resident

REPO = Path(__file__).resolve().parent.parent
CSAC = [sys.executable, "-m", "pipeline"]
PR_SET_CHILD_SUBREAPER = 36
REQUEST_BYTES = 1 << 20
SERVER = "import runpy, sys; from tests.warm import serve; serve(int(sys.argv[1])); runpy.run_module('pipeline', run_name='__main__', alter_sys=True)"  # noqa: E501


class Popen(subprocess.Popen):
    """subprocess.Popen; `python -m pipeline ...` is forked from the warm server.

    limits: {resource.RLIMIT_*: (soft, hard)} set in the child before it runs, in place of a preexec_fn.
    """

    def __init__(self, args, *, limits: dict | None = None, **kwargs):
        self._limits = limits or {}
        super().__init__(args, **kwargs)

    def _execute_child(self, args, executable, preexec_fn, close_fds, pass_fds, cwd, env, startupinfo,
                       creationflags, shell, p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
                       restore_signals, gid, gids, uid, umask, start_new_session, process_group):  # fmt: skip
        server = _server()
        plain = [
            args,
            executable,
            preexec_fn,
            close_fds,
            pass_fds,
            cwd,
            env,
            startupinfo,
            creationflags,
            shell,
        ]
        pipes = [p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite]
        rest = [restore_signals, gid, gids, uid, umask, start_new_session, process_group]
        special = preexec_fn or pass_fds or shell or executable or (gid, gids, uid) != (None, None, None)
        if server is None or special or list(args[:3]) != CSAC:
            if self._limits:
                plain[2] = self._set_limits
            return super()._execute_child(*plain, *pipes, *rest)
        request = {
            "args": [os.fspath(a) for a in args[3:]],
            "cwd": os.fspath(cwd or os.getcwd()),
            "env": dict(os.environ if env is None else env),
            "umask": umask if umask >= 0 else _current_umask(),
            "session": bool(start_new_session),
            "limits": {str(k): v for k, v in self._limits.items()},
        }
        standard = [p2cread, c2pwrite, errwrite]
        self.pid = server.spawn(request, [fd if fd != -1 else i for i, fd in enumerate(standard)])
        self._child_created = True
        self._close_pipe_fds(*pipes)

    def _try_wait(self, wait_flags):
        """subprocess's waitpid, through wait4: `rusage` then holds the child's own peak memory (ru_maxrss)."""
        try:
            pid, status, self.rusage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:  # as subprocess: no status to be had
            pid, status = self.pid, 0
        return pid, status

    def _set_limits(self) -> None:
        for kind, limit in self._limits.items():
            resource.setrlimit(kind, limit)


def run(args, *, input=None, capture_output=False, timeout=None, check=False, **kwargs):
    """subprocess.run, through Popen above."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    with Popen(
        args, stdin=subprocess.PIPE if input is not None else kwargs.pop("stdin", None), **kwargs
    ) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if check:
        done.check_returncode()
    return done


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _Server:
    """The warm server, seen from the test process: one request at a time."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock, self.lock = ours, threading.Lock()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Waited for, so that its CPU time counts in the test run's (time, /usr/bin/time)."""
        self.sock.close()
        self.proc.wait(timeout=30)

    def spawn(self, request: dict, standard: list[int]) -> int:
        with self.lock:
            socket.send_fds(self.sock, [json.dumps(request).encode()], standard)
            reply = self.sock.recv(8)
        if len(reply) != 8:
            raise RuntimeError(
                f"the warm csac server is gone (exit {self.proc.poll()}): see its errors above"
            )
        return struct.unpack("q", reply)[0]


_servers: dict[int, _Server | None] = {}  # by test process: a forked test process starts its own


def _server() -> _Server | None:
    """This process's server, started on first use; None where a child subreaper is not available."""
    pid = os.getpid()
    if pid not in _servers:
        libc = ctypes.CDLL(None, use_errno=True)
        subreaper = sys.platform == "linux" and libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        _servers[pid] = _Server() if subreaper else None
    return _servers[pid]


# -- in the server ------------------------------------------------------------------------------


def serve(fd: int) -> None:
    """Fork a `csac` per request until the test process goes; returns only in such a child."""
    resident.preload(resident.PRELOAD)
    gc.freeze()  # the collector leaves what was imported alone: fewer pages copied in each child
    control = socket.socket(fileno=fd)
    while True:
        message, fds, _, _ = socket.recv_fds(control, REQUEST_BYTES, 3)
        if not message:
            os._exit(0)  # the test process is gone
        if _fork_twice(control, json.loads(message), fds):
            return
        for received in fds:
            os.close(received)


def _fork_twice(control: socket.socket, request: dict, fds: list[int]) -> bool:
    """True in the `csac` child, set up; in the server, once the middle process is gone (the child is
    then the test process's) and the child's pid sent."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        child = os.fork()
        if child == 0:
            control.close()
            os.close(read_end)
            os.close(write_end)
            resident.become(request, fds)  # as csac's own resident server does
            return True
        os.write(write_end, struct.pack("q", child))
        os._exit(0)
    os.close(write_end)
    pid = os.read(read_end, 8)
    os.close(read_end)
    os.waitpid(middle, 0)
    control.send(pid)
    return False
