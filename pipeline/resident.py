"""A resident `csac` (`csac warm start`): it imports csac's libraries once, then forks a process per command.

A fresh `csac intake` spends about 0.7 s of CPU importing pyHanko, openpyxl, jsonschema, pikepdf... before
its first line of work, and the goal for one deposit is 400 ms, whole process (bench/intake.py). The
launcher (pipeline/launch.py) hands the resident server its command line, working folder, environment,
umask, limits and standard streams (SCM_RIGHTS over a Unix socket); a child forked from the server runs
the command as an exec'd `csac` would, and its exit status goes back to the launcher, which exits with it.

The launcher runs the command itself, unchanged, when there is no server, when the server is of another
installation or an older version of csac or its libraries (the fingerprint: csac then never runs old
code), or when the socket folder is not the user's own. Top-level imports are stdlib and cheap: the
launcher imports this module on every start.
"""

from __future__ import annotations

import os
import stat
import sys
import zlib

OFF = "CSAC_NO_WARM"  # set (to anything but empty): every command runs in its own process
FOLDER = "CSAC_WARM_DIR"  # the socket folder, in place of $XDG_RUNTIME_DIR/csac or /tmp/csac-UID
FINGERPRINT = "CSAC_WARM_FINGERPRINT"  # the server's fingerprint in place of its own (tests: a stale one)
COLD = frozenset({"warm", "watch", "serve"})  # long-running commands keep a process of their own
PACKAGE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(PACKAGE)
REQUEST_BYTES = 1 << 20
# Read by the interpreter when it starts (the locale too: Python sets LC_CTYPE from them).
INTERPRETER_ENV = ("PYTHON", "LC_ALL", "LC_CTYPE", "LANG")
# A path to one of the launcher's own descriptors (bash's <(...)) means nothing in another process.
OWN_FILES = ("/dev/fd/", "/proc/self/", "/dev/stdin", "/dev/stdout", "/dev/stderr")
IDLE_MINUTES = 480  # a working day; after it the server goes, and the next day starts with the code installed
# What `csac` commands import, pipeline.cli aside (its consoles read COLUMNS and the terminal when made).
PRELOAD = (
    "typer", "typer._adapters", "rich.console", "rich.table", "rich.progress",
    "pipeline.api", "pipeline.watch", "pipeline.intake", "pipeline.mailqueue", "pipeline.sender",
    "pipeline.relay", "pipeline.digest", "pipeline.logs", "pipeline.late_widgets", "pipeline.annotations_rule",
    "pyhanko.sign.validation", "pyhanko.sign.diff_analysis", "pyhanko.pdf_utils.reader", "pyhanko_certvalidator",
)  # fmt: skip
# What a deposit's documents need besides (imported by the code that uses them in a cold `csac`).
PRELOAD_DOCUMENTS = (
    "jsonschema", "email_validator", "openpyxl", "docx", "docxtpl", "pikepdf", "pypdfium2", "pypdfium2.raw",
    "pipeline.signature", "pipeline.notices", "pipeline.extract", "pipeline.render",
)  # fmt: skip


# -- where the server listens ------------------------------------------------------------------------


def socket_folder() -> str:
    explicit = os.environ.get(FOLDER)
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime, "csac") if runtime else f"/tmp/csac-{os.getuid()}"


def socket_path() -> str:
    """One socket per installation (this package's folder and this interpreter): two checkouts or two
    virtual environments never share a server."""
    key = zlib.crc32(f"{PACKAGE}\0{sys.executable}".encode())
    return os.path.join(socket_folder(), f"csac-{key:08x}.sock")


def unsafe_folder(folder: str) -> str | None:
    """Why `folder` may not hold the socket (French), or None: it must be a real folder of ours that no
    one else may enter, since whoever could put a socket there would be handed our commands."""
    try:
        found = os.lstat(folder)
    except OSError:
        return "est introuvable"
    if not stat.S_ISDIR(found.st_mode):
        return "n'est pas un dossier (lien ou fichier)"
    if found.st_uid != os.getuid():
        return f"appartient à un autre utilisateur (uid {found.st_uid})"
    if found.st_mode & 0o077:
        return f"est ouvert à d'autres utilisateurs (droits {stat.S_IMODE(found.st_mode):o}, 700 attendu)"
    return None


def peer_uid(sock) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel says (SO_PEERCRED)."""
    import socket
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def trusted_peer(sock, uid: int | None = None) -> bool:
    """Only our own user may hand commands to the server (or answer the launcher as one)."""
    return peer_uid(sock) == (os.getuid() if uid is None else uid)


def fingerprint() -> str:
    """What the running code is made of: csac's modules and data files (size and mtime), the interpreter,
    and the site-packages folders (installing, upgrading or removing a library changes their entries).
    A server whose fingerprint differs from its launcher's is stale."""
    override = os.environ.get(FINGERPRINT)
    if override:
        return override
    parts = [sys.executable, sys.version, PACKAGE]
    for top in (PACKAGE, os.path.join(ROOT, "templates"), os.path.join(ROOT, "schemas")):
        parts.extend(_stats(top))
    for entry in sys.path:
        if entry.endswith("-packages") and os.path.isdir(entry):
            found = os.stat(entry)
            parts.append(f"{entry}:{found.st_mtime_ns}")
    found = os.stat(sys.executable)
    parts.append(f"{found.st_size}:{found.st_mtime_ns}")
    text = "\n".join(parts).encode()
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


def _stats(folder: str) -> list[str]:
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_stats(entry.path))
        else:
            info = entry.stat()
            found.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")
    return found


def python_settings() -> dict:
    """The interpreter's settings a fork inherits rather than reads (PYTHON* variables, the locale, -O, -B,
    -I, -X utf8): a launcher whose settings differ from the server's runs the command itself."""
    flags = sys.flags
    env = {k: v for k, v in os.environ.items() if k.startswith(INTERPRETER_ENV) and k != "PYTHONUNBUFFERED"}
    return {"env": env, "flags": [flags.optimize, flags.dont_write_bytecode, flags.isolated, flags.utf8_mode]}


# -- the launcher's side -----------------------------------------------------------------------------


def may_run_warm(argv: list[str]) -> bool:
    """Commands that run in their own process whatever: long-running ones, a password asked on the
    terminal (the resident server has none), and a file named by one of the launcher's descriptors."""
    if os.environ.get(OFF) or sys.platform != "linux" or COLD & set(argv):
        return False
    if any(arg.startswith(OWN_FILES) or f"={OWN_FILES[0]}" in arg for arg in argv):
        return False
    return not ("user" in argv and "add" in argv and "--password-stdin" not in argv)


def run_warm(argv: list[str], fds: tuple[int, int, int] = (0, 1, 2)) -> dict | None:
    """Run `csac ARGV` in a child of the resident server, its standard streams `fds`, and return how it
    ended: {"exit": its status (negative: the signal that ended it), "cpu": its CPU time in s}; or None
    when it is to run here: no server, another installation's, a stale one, an unsafe folder, or a server
    gone before the command started."""
    path = socket_path()
    if not os.path.exists(path):  # the common cold case costs a stat
        return None
    problem = unsafe_folder(os.path.dirname(path))
    if problem:
        sys.stderr.write(
            f"avertissement : serveur csac résident ignoré, son dossier {os.path.dirname(path)} {problem} ; "
            "la commande s'exécute sans lui.\n"
        )
        return None
    import json
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(path)
        sent = trusted_peer(conn)
        if sent:
            socket.send_fds(conn, [json.dumps(request(argv)).encode()], list(fds))
    except OSError:  # refused (a socket left by a dead server), a closed standard stream...
        sent = False
    if not sent:
        conn.close()
        return None
    try:
        return _wait(conn)
    finally:
        conn.close()


def request(argv: list[str]) -> dict:
    main = sys.modules.get("__main__")
    return {
        "op": "run",
        "args": argv,
        "argv0": sys.argv[0],
        "package": getattr(main, "__package__", None),
        "path0": sys.path[0],
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": _current_umask(),
        "limits": _limits(),
        "stdio": [[s.encoding, s.errors] if s else None for s in (sys.stdin, sys.stdout, sys.stderr)],
        "fingerprint": fingerprint(),
        "installation": [PACKAGE, sys.executable],
        "python": python_settings(),
    }


def _wait(conn) -> dict | None:
    """How the command ended; SIGINT, SIGTERM and SIGHUP sent here meanwhile are passed to it."""
    import json
    import signal

    started = False

    def forward(signum, frame):
        with _suppress(OSError):  # the command's parent is gone: said below
            conn.send(json.dumps({"signal": signum}).encode())

    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.signal(s, forward) for s in caught}
    try:
        while True:
            try:
                message = conn.recv(REQUEST_BYTES)
            except OSError:
                message = b""
            if not message:
                break
            reply = json.loads(message)
            if "started" in reply:
                started = True
            elif "exit" in reply:
                return reply
            else:  # "cold" or "stale": nothing ran
                return None
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    if not started:
        return None
    sys.stderr.write(  # never run it again here: it may have done its work
        "erreur : le processus du serveur csac résident qui suivait la commande a disparu ; elle a pu aboutir : "
        "vérifiez (par exemple avec `csac status`) avant de la relancer.\n"
    )
    return {"exit": 15, "cpu": None}


def exit_with(status: int) -> None:
    """Exit as the command did: its code, or the signal that ended it (as a shell sees it)."""
    if status < 0:
        import signal

        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        status = 128 - status
    sys.exit(status)


def ask(op: str) -> dict | None:
    """The server's answer to `status` or `stop`, or None when none is listening."""
    import json
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(socket_path())
        if not trusted_peer(conn):
            return None
        conn.send(json.dumps({"op": op}).encode())
        conn.settimeout(10)
        message = conn.recv(REQUEST_BYTES)
        return json.loads(message) if message else None
    except OSError:
        return None
    finally:
        conn.close()


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _limits() -> dict:
    import resource

    kinds = [k for k in dir(resource) if k.startswith("RLIMIT_")]
    return {str(getattr(resource, k)): resource.getrlimit(getattr(resource, k)) for k in kinds}


# -- starting and stopping (csac warm) --------------------------------------------------------------


def start(idle_minutes: float, wait: float = 60.0) -> dict:
    """Start the server in the background (its own session, no terminal) and wait until it listens.
    Returns its status; raises ResidentError (French) when it cannot start."""
    import subprocess
    import time

    already = ask("status")
    if already:
        return {**already, "already": True}
    prepare_folder()
    log = log_path()
    code = f"from pipeline.launch import serve_main; serve_main({float(idle_minutes)!r})"
    with open(log, "ab", buffering=0) as out:
        os.chmod(log, 0o600)
        env = {k: v for k, v in os.environ.items() if k != OFF}
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = ask("status")
        if found:
            return {**found, "already": False}
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    from .errors import ResidentError

    raise ResidentError(f"le serveur résident n'a pas démarré ; voyez son journal : {log}")


def log_path() -> str:
    return socket_path()[: -len(".sock")] + ".log"


def stop(wait: float = 10.0) -> dict | None:
    """Stop the server; its status just before, or None when none was running. Commands it started
    finish their work (they are processes of their own)."""
    import time

    found = ask("stop")
    deadline = time.monotonic() + wait
    while found and os.path.exists(socket_path()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def status() -> dict:
    """The server's status, and whether it is current (the launcher's fingerprint is its own)."""
    found = ask("status")
    if not found:
        return {"running": False, "socket": socket_path()}
    return {"running": True, **found, "current": found["fingerprint"] == fingerprint()}


def prepare_folder() -> str:
    """The socket folder, made (700) if missing; ResidentError (French) when it is not safe."""
    from .errors import ResidentError

    folder = socket_folder()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ResidentError(
            f"impossible de créer le dossier du serveur résident {folder} : {exc.strerror}"
        ) from exc
    problem = unsafe_folder(folder)
    if problem:
        raise ResidentError(
            f"le dossier du serveur résident {folder} {problem} : supprimez-le ou corrigez ses droits "
            f"(chmod 700), ou choisissez-en un autre avec {FOLDER}"
        )
    return folder


# -- the server ---------------------------------------------------------------------------------------


def status_of(code) -> int:
    """The exit status the interpreter gives SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def leave(code: int) -> None:
    """Exit as the interpreter would (threads joined, exit handlers run, streams flushed), less its last
    teardown: freeing the objects of the server's heap one by one costs a command about 80 ms of CPU
    and doubles the pages it copies. csac closes its files and databases itself."""
    import atexit
    import threading

    threading._shutdown()  # non-daemon threads joined, and threading's own exit handlers (concurrent.futures)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as the interpreter does when it cannot flush
    os._exit(code)


def serve(idle_minutes: float, warm_up=lambda: None) -> dict | None:
    """Preload, listen, fork a child per command until stopped, idle, or stale; None in the server when it
    ends, the request in a command's child. `warm_up` loads the command line: the launcher's to give, as
    this module is below it."""
    import gc
    import signal
    import socket
    import time

    own = fingerprint()  # before the imports: a file changed meanwhile makes the server stale at once
    settings = python_settings()
    prepare_folder()
    path = socket_path()
    if ask("status"):
        _log(f"un serveur résident écoute déjà sur {path}")
        return None
    started = time.time()
    preload(PRELOAD + PRELOAD_DOCUMENTS)
    from .signature import _load_validation

    _load_validation()
    warm_up()
    gc.freeze()  # the collector leaves what was imported alone: fewer pages copied in each child
    with _suppress(FileNotFoundError):
        os.unlink(path)  # left by a server that died (nothing answered above)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    mine = os.stat(path).st_ino
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the command's parents: no zombies
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    listener.settimeout(idle_minutes * 60 if idle_minutes > 0 else None)
    state = {"pid": os.getpid(), "started": started, "ready": time.time(), "idle_minutes": idle_minutes,
             "served": 0, "socket": path, "fingerprint": own}  # fmt: skip
    seconds = f"{state['ready'] - started:.1f}".replace(".", ",")
    _log(f"prêt en {seconds} s : {path} (pid {os.getpid()})")
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                _log(f"inactif depuis {minutes_fr(idle_minutes)} min : arrêt")
                return None
            order = _answer(conn, listener, state, own, settings)
            if order is not None:
                return order
    except _Stopped as stopped:
        _log(f"arrêt : {stopped}")
        return None
    finally:
        if os.getpid() == state["pid"]:
            listener.close()
            with _suppress(OSError):
                if os.stat(path).st_ino == mine:
                    os.unlink(path)


class _Stopped(Exception):
    pass


def _stop(signum, frame):
    raise _Stopped("signal SIGTERM reçu")


def _suppress(*kinds):
    import contextlib

    return contextlib.suppress(*kinds)


def _log(text: str) -> None:
    import time

    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    sys.stderr.flush()


def preload(names) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except (
            ModuleNotFoundError
        ) as exc:  # an optional one, or renamed since: the child imports what it needs
            if exc.name != name:
                raise


def _answer(conn, listener, state: dict, own: str, settings: dict) -> dict | None:
    """One connection: None in the server once it is handed on; a command child's request in that child."""
    import json
    import socket

    fds: list[int] = []
    try:
        if not trusted_peer(conn):
            _log(f"connexion refusée : uid {peer_uid(conn)} n'est pas le nôtre ({os.getuid()})")
            return None
        conn.settimeout(5)
        message, fds, _, _ = socket.recv_fds(conn, REQUEST_BYTES, 3)
        order = json.loads(message) if message else {}
        op = order.get("op")
        if op in ("status", "stop"):
            conn.send(json.dumps({**state, "rss_kb": _rss_kb()}).encode())
            if op == "stop":
                raise _Stopped("demandé par csac warm stop")
            return None
        if op != "run" or len(fds) != 3:
            return None
        if order["fingerprint"] != own:
            conn.send(b'{"stale": true}')
            raise _Stopped("csac ou ses bibliothèques ont changé depuis le démarrage (empreinte)")
        if order["installation"] != [PACKAGE, sys.executable] or order["python"] != settings:
            conn.send(b'{"cold": "another installation or interpreter settings"}')
            return None
        state["served"] += 1
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:  # the command's parent: it waits for it and passes signals on
            listener.close()
            return _parent(conn, order, fds)
        return None
    except (OSError, ValueError) as exc:
        _log(f"requête abandonnée : {exc}")
        return None
    finally:
        if os.getpid() == state["pid"]:
            for fd in fds:
                os.close(fd)
            conn.close()


def _parent(conn, order: dict, fds: list[int]) -> dict:
    """In the forked parent: fork the command, pass it the launcher's signals, send its exit status. Returns
    the request in the command's child; never returns in the parent."""
    import json
    import select
    import signal

    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        _set_limits(order["limits"])
    except (OSError, ValueError):  # a limit above ours that we may not raise: the launcher runs it
        conn.send(b'{"cold": "limites"}')
        os._exit(0)
    child = os.fork()
    if child == 0:
        conn.close()
        try:
            become(order, fds)
        except BaseException:  # never back into the server's loop: say it on the command's stderr
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            os._exit(15)
        return order
    for fd in fds:
        os.close(fd)
    conn.send(json.dumps({"started": child}).encode())
    watched = os.pidfd_open(child)
    readers = [conn, watched]
    while True:
        ready, _, _ = select.select(readers, [], [])
        if watched in ready:
            _, status, usage = os.wait4(child, 0)
            code = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            with _suppress(OSError):
                conn.send(json.dumps({"exit": code, "cpu": cpu}).encode())
            os._exit(0)
        try:
            message = conn.recv(REQUEST_BYTES)
        except OSError:
            message = b""
        if not message:  # the launcher is gone (killed outright): the command finishes its work
            readers = [watched]
            continue
        signum = json.loads(message).get("signal")
        if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(child, signum)


def _set_limits(limits: dict) -> None:
    import resource

    for kind, limit in limits.items():
        if resource.getrlimit(int(kind)) != tuple(limit):
            resource.setrlimit(int(kind), tuple(limit))


def become(request: dict, fds: list[int]) -> None:
    """Turn a forked child into the state an exec'd `csac` would start in: standard streams, working
    folder, environment, umask, limits, command line. Also tests/warm.py's."""
    import resource
    import signal
    import tempfile

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    _set_limits(request.get("limits", {}))
    if request.get("session"):
        os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.umask(request["umask"])
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # found again from TMPDIR
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    codecs = request.get("stdio") or [None, None, None]
    for stream, codec in zip((sys.stdin, sys.stdout, sys.stderr), codecs, strict=True):
        changed = codec and list(codec) != [stream.encoding, stream.errors]  # e.g. another LANG
        encoding = dict(zip(("encoding", "errors"), codec, strict=True)) if changed else {}
        if stream is sys.stdin:
            if encoding:
                stream.reconfigure(**encoding)
        else:
            interactive = stream.isatty() or stream is sys.stderr
            stream.reconfigure(line_buffering=interactive, write_through=unbuffered, **encoding)
    sys.argv = [request.get("argv0", "-m"), *request["args"]]
    sys.path[0] = request.get("path0", os.getcwd())  # by default as `python -m` puts it first
    if "package" in request:  # how click names the program: `csac`, or `python -m pipeline`
        sys.modules["__main__"].__package__ = request["package"]


def minutes_fr(minutes: float) -> str:
    return f"{minutes:g}".replace(".", ",")


def _rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(line.split()[1] for line in status if line.startswith("VmRSS:")))
    except (OSError, StopIteration, ValueError):
        return 0
