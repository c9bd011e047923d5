"""The resident csac (`csac warm start`, pipeline/resident.py) and the launcher that hands it commands.

Real processes: the installed `csac` launcher, exec'd, and servers started in private socket folders
(CSAC_WARM_DIR). A command run through a server is told apart by the server's count of commands served.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline import api, resident
from pipeline.errors import ResidentError

pytestmark = pytest.mark.slow  # real launchers and servers

EXAMPLES = Path(__file__).parent.parent / "examples"
CSAC = str(Path(sys.executable).with_name("csac"))
# deposit ids, times (ISO, and as messages say them: 02/12/2026 à 20:39)
VARYING = re.compile(
    r"\d{8}-\d{6}-[0-9a-f]{8}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d|\d\d/\d\d/\d{4} à \d\d:\d\d"
)


def launcher_env(folder: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != resident.OFF}  # conftest turns the resident off
    return env | {resident.FOLDER: str(folder), "COLUMNS": "200"} | extra


def csac(*args, folder: Path, cold: bool = False, **kwargs) -> subprocess.CompletedProcess:
    env = launcher_env(folder, **({resident.OFF: "1"} if cold else {}))
    kwargs.setdefault("timeout", 60)
    return subprocess.run([CSAC, *map(str, args)], capture_output=True, text=True, env=env, **kwargs)


@contextlib.contextmanager
def pointing_at(folder: Path, **extra: str):
    """This process's resident functions aimed at `folder` (they read the environment at each call)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(resident.FOLDER, str(folder))
        for name, value in extra.items():
            patch.setenv(name, value)
        yield


def served(folder: Path) -> int | None:
    with pointing_at(folder):
        found = resident.ask("status")
    return found and found["served"]


def private_folder(tmp_path_factory, name: str) -> Path:
    folder = Path(tmp_path_factory.mktemp(name))
    folder.chmod(0o700)
    return folder


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A server started as a user starts it (`csac warm start`), stopped after the module's tests."""
    folder = private_folder(tmp_path_factory, "warm")
    done = csac("warm", "start", "--idle", "30", folder=folder)
    assert done.returncode == 0, done.stderr
    assert "serveur csac résident démarré" in done.stdout and "csac warm stop" in done.stdout
    yield folder
    stopped = csac("warm", "stop", folder=folder)
    assert "serveur csac résident arrêté" in stopped.stdout


@pytest.fixture
def own_server(tmp_path_factory):
    """Start a server of one's own (a test that stops, kills or spoils it); returns its folder and pid."""
    started = []

    def start(folder: Path | None = None, idle: float = 30, **extra: str) -> tuple[Path, int]:
        folder = folder or private_folder(tmp_path_factory, "own")
        with pointing_at(folder, **extra):
            found = resident.start(idle)
        started.append(folder)
        return folder, found["pid"]

    yield start
    for folder in started:
        resident_stopped(folder)


@pytest.fixture
def signed(signed_deposit) -> Path:
    return signed_deposit


def intake(
    signed: Path, work: Path, folder: Path, *options: str, cold: bool = False
) -> subprocess.CompletedProcess:
    return csac(
        "intake", signed, "--outbox", work / "o", "--state", work / "v", *options, folder=folder, cold=cold
    )


def messages(outbox: Path) -> list[tuple]:
    """Each Maildir message: its mailbox, recipients, subject, and its parts (text with ids and times left
    out, attachments whole)."""
    found = []
    for path in sorted(outbox.glob("*/new/*")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        parts = [
            (part.get_content_type(), part.get_filename(), VARYING.sub("…", part.get_content()))
            if part.get_content_maintype() == "text"
            else (part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
            for part in message.walk()
            if not part.is_multipart()
        ]
        found.append((path.parent.parent.name, message["To"], VARYING.sub("…", message["Subject"]), parts))
    return found


def journal(state: Path) -> list[dict]:
    rows = api.latest_deposits(api.StatusOptions(state=state))
    return [json.loads(VARYING.sub("…", json.dumps(row.to_json(), ensure_ascii=False))) for row in rows]


# -- the same command, through the server or in its own process -------------------------------------


@pytest.mark.parametrize("options", [["--json"], []], ids=["json", "table"])
def test_a_deposit_taken_in_through_the_server_is_taken_in_as_in_its_own_process(
    signed, warm, tmp_path, options
):
    before = served(warm)
    through = intake(signed, tmp_path / "warm", warm, *options)
    assert served(warm) == before + 1
    alone = intake(signed, tmp_path / "cold", warm, *options, cold=True)
    assert served(warm) == before + 1
    assert (through.returncode, VARYING.sub("…", through.stdout), through.stderr) == (
        alone.returncode, VARYING.sub("…", alone.stdout), alone.stderr,
    )  # fmt: skip
    assert through.returncode == 0 and "complet" in through.stdout
    assert messages(tmp_path / "warm" / "o") == messages(tmp_path / "cold" / "o") != []
    assert journal(tmp_path / "warm" / "v") == journal(tmp_path / "cold" / "v") != []


@pytest.mark.parametrize(
    ("args", "code"),
    [(["variants", "--json"], 0), (["variants", "--inconnue"], 1), (["render", "2021-045-lot2", "-b", "absent.yaml"], 2)],
    ids=["ok", "bad-argument", "bad-input"],
)  # fmt: skip
def test_exit_codes_and_both_streams_pass_through(warm, args, code, tmp_path):
    before = served(warm)
    through = csac(*args, "-o", tmp_path, folder=warm) if args[0] == "render" else csac(*args, folder=warm)
    assert served(warm) == before + 1
    alone = (
        csac(*args, "-o", tmp_path, folder=warm, cold=True)
        if args[0] == "render"
        else csac(*args, folder=warm, cold=True)
    )
    assert (through.returncode, through.stdout, through.stderr) == (
        alone.returncode,
        alone.stdout,
        alone.stderr,
    )
    assert through.returncode == code


def test_standard_input_reaches_the_command(warm, tmp_path):
    before = served(warm)
    done = csac("user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", "--state", tmp_path,
                folder=warm, input="un mot de passe assez long\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert served(warm) == before + 1
    users = api.list_users(api.UsersOptions(state=tmp_path))
    assert [u.account.name for u in users] == ["marie.durand"]


def test_the_commands_folder_and_environment_are_the_launchers(signed, warm, tmp_path):
    """A relative path is read from the launcher's folder; CSAC_STATE and CSAC_OUTBOX are its own."""
    (tmp_path / "depot.zip").write_bytes(signed.read_bytes())
    env = launcher_env(warm, CSAC_STATE=str(tmp_path / "etat"), CSAC_OUTBOX=str(tmp_path / "sortie"))
    before = served(warm)
    done = subprocess.run([CSAC, "intake", "depot.zip", "--json"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert served(warm) == before + 1
    assert json.loads(done.stdout)["file"] == "depot.zip"
    assert journal(tmp_path / "etat") and messages(tmp_path / "sortie")


def test_two_launchers_at_once_each_get_their_own_command(signed, warm, tmp_path):
    before = served(warm)
    env = launcher_env(warm)
    procs = [
        subprocess.Popen([CSAC, "intake", signed, "--json", "--outbox", tmp_path / f"o{i}", "--state", tmp_path / f"v{i}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(2)
    ]  # fmt: skip
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert served(warm) == before + 2
    for i, (stdout, _) in enumerate(results):
        assert json.loads(stdout)["status"] == "complete"
        assert [m[0] for m in messages(tmp_path / f"o{i}")] == ["Hauts-de-France@resah.fr", "depositors"]


def test_status_says_in_french_whether_the_server_runs_and_is_current(warm, tmp_path):
    table = csac("warm", "status", folder=warm)
    assert table.returncode == 0
    assert "commandes servies" in table.stdout and "à jour" in table.stdout and "oui" in table.stdout
    found = json.loads(csac("warm", "status", "--json", folder=warm).stdout)
    assert found["running"] is True and found["current"] is True and found["pid"] == resident_pid(warm)
    nobody = csac("warm", "status", folder=tmp_path)
    assert "aucun serveur csac résident ne tourne" in nobody.stdout


# -- signals ------------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [d for c in map(int, children) for d in (c, *descendants(c))]


def reading_stdin(pids) -> int | None:
    """The one of `pids` blocked reading its standard input (the read system call on fd 0), if any."""
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]:
                return pid
    return None


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie (its parent may be this test process, a child subreaper when
    tests/warm.py's server runs in it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(found, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("waited in vain")


def waiting_for_a_password(folder: Path, state: Path, cold: bool) -> subprocess.Popen:
    env = launcher_env(folder, **({resident.OFF: "1"} if cold else {}))
    return subprocess.Popen(
        [CSAC, "user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", "--state", state],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc/PID/syscall")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_launcher_ends_the_command_as_it_would_end_it_alone(warm, tmp_path, signum):
    server = resident_pid(warm)
    outcomes = []
    for cold in (False, True):
        proc = waiting_for_a_password(warm, tmp_path / str(cold), cold)
        watched = [proc.pid] if cold else None  # through the server: a process of the server's
        wait_for(lambda: reading_stdin(watched or descendants(server)))  # noqa: B023 (called here)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
        outcomes.append((proc.returncode, stdout, stderr))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == (130 if signum == signal.SIGINT else -signal.SIGTERM)


def resident_stopped(folder: Path) -> None:
    with pointing_at(folder):
        resident.stop()


def resident_pid(folder: Path) -> int:
    with pointing_at(folder):
        return resident.ask("status")["pid"]


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc/PID/syscall")
def test_a_launcher_killed_outright_leaves_its_command_to_finish(warm, tmp_path):
    """SIGKILL cannot be passed on: the command finishes rather than stop half-way (a deposit half taken in)."""
    proc = waiting_for_a_password(warm, tmp_path, cold=False)
    command = wait_for(lambda: reading_stdin(descendants(resident_pid(warm))))
    proc.kill()
    proc.wait(timeout=10)
    proc.stdin.write("un mot de passe assez long\n")
    proc.stdin.close()
    wait_for(lambda: gone(command))
    assert [u.account.name for u in api.list_users(api.UsersOptions(state=tmp_path))] == ["marie.durand"]


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc/PID/syscall")
def test_a_launcher_that_loses_its_command_says_so_and_never_runs_it_again(warm, tmp_path):
    """The process that waits for the command killed: the launcher cannot know how it ended, and running it
    again in its own process might take a deposit in twice. It says so and exits 15; the command goes on."""
    proc = waiting_for_a_password(warm, tmp_path, cold=False)
    command = wait_for(lambda: reading_stdin(descendants(resident_pid(warm))))
    os.kill(int(Path(f"/proc/{command}/stat").read_text().rsplit(")", 1)[1].split()[1]), signal.SIGKILL)
    stdout, stderr = proc.communicate("un mot de passe assez long\n", timeout=30)
    assert proc.returncode == 15 and "elle a pu aboutir" in stderr
    wait_for(lambda: gone(command))
    assert [u.account.name for u in api.list_users(api.UsersOptions(state=tmp_path))] == ["marie.durand"]


# -- when the command runs in the launcher's own process ----------------------------------------------


def test_a_stale_server_is_not_used_and_goes(own_server, tmp_path):
    """A server whose code differs from the launcher's (here: its fingerprint said otherwise) runs
    nothing: the launcher runs the command itself, and the server stops."""
    folder, pid = own_server(**{resident.FINGERPRINT: "an older csac"})
    with pointing_at(folder):
        assert resident.status()["current"] is False  # `csac warm status`: « à jour : non »
    done = csac("variants", "--json", folder=folder)
    assert (done.returncode, done.stdout) == (0, csac("variants", "--json", folder=folder, cold=True).stdout)
    wait_for(lambda: gone(pid))
    assert not list(folder.glob("*.sock"))


def test_a_server_left_idle_goes_by_itself(own_server):
    folder, pid = own_server(idle=0.02)  # 1.2 s without a command
    wait_for(lambda: gone(pid))
    assert not list(folder.glob("*.sock"))
    assert "inactif depuis 0,02 min : arrêt" in next(folder.glob("*.log")).read_text(encoding="utf-8")


def test_the_server_hands_commands_to_its_own_user_only():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        assert resident.peer_uid(ours) == os.getuid()
        assert resident.trusted_peer(ours)
        assert not resident.trusted_peer(ours, uid=os.getuid() + 1)


ASK_STATUS = """import json, socket, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
conn.connect(sys.argv[1])
conn.settimeout(10)
try:
    conn.send(json.dumps({"op": "status"}).encode())
    print(json.dumps([conn.recv(1 << 20).decode()]))
except (ConnectionResetError, BrokenPipeError):  # closed without reading the request, maybe before it was sent
    print(json.dumps([""]))
"""


@pytest.mark.skipif(
    os.getuid() != 0 or not Path("/usr/bin/python3").exists(), reason="needs root, to be another user"
)
def test_the_server_refuses_another_user_who_reaches_its_socket(own_server, tmp_path):
    """Even through a folder and a socket opened to all (which the launcher refuses, and `csac warm start`
    never makes), another user gets nothing from the server: it reads the peer's uid from the kernel."""
    folder, _ = own_server(Path(tempfile.mkdtemp()))  # pytest's own folders are closed to other users
    path = next(folder.glob("*.sock"))
    folder.chmod(0o711)
    path.chmod(0o666)
    other = subprocess.run(["/usr/bin/python3", "-c", ASK_STATUS, str(path)], user=65534, group=65534,
                           capture_output=True, text=True, timeout=30, cwd="/")  # fmt: skip
    assert (other.returncode, other.stdout.strip()) == (0, '[""]'), other.stderr  # closed without a word
    log = next(folder.glob("*.log")).read_text(encoding="utf-8")
    assert "connexion refusée : uid 65534" in log
    folder.chmod(0o700)
    assert served(folder) == 0  # and it still serves its own user
    resident_stopped(folder)
    shutil.rmtree(folder)


def dead_socket(folder: Path) -> Path:
    """The socket file a server killed outright leaves behind: nothing listens on it."""
    with pointing_at(folder):
        path = Path(resident.socket_path())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.bind(str(path))
    sock.close()
    return path


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o755], ids=["group", "others", "readable"])
def test_a_socket_folder_others_may_enter_is_refused_with_a_french_warning(tmp_path, mode):
    folder = tmp_path / "csac"
    folder.mkdir(mode=0o700)
    dead_socket(folder)
    folder.chmod(mode)
    done = csac("variants", "--json", folder=folder)
    assert done.returncode == 0 and json.loads(done.stdout)
    assert "avertissement : serveur csac résident ignoré" in done.stderr
    assert "ouvert à d'autres utilisateurs" in done.stderr


@pytest.mark.parametrize("mode", [0o770, 0o755], ids=["group", "readable"])
def test_no_server_starts_in_a_socket_folder_others_may_enter(tmp_path, mode):
    folder = tmp_path / "csac"
    folder.mkdir(mode=mode)
    folder.chmod(mode)
    with pointing_at(folder), pytest.raises(ResidentError, match="chmod 700") as refused:
        resident.start(30)
    assert refused.value.exit_code == 5
    assert not list(folder.iterdir())


def test_a_socket_left_by_a_dead_server_is_passed_by(tmp_path):
    folder = tmp_path / "csac"
    folder.mkdir(mode=0o700)
    dead_socket(folder)
    done = csac("variants", "--json", folder=folder, timeout=20)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc/PID/syscall")
def test_a_command_outlives_its_server_and_the_next_one_runs_alone(own_server, tmp_path):
    folder, pid = own_server()
    proc = waiting_for_a_password(folder, tmp_path, cold=False)
    wait_for(lambda: reading_stdin(descendants(pid)))
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = proc.communicate("un mot de passe assez long\n", timeout=30)
    assert proc.returncode == 0, stderr
    assert list(folder.glob("*.sock"))  # left behind
    done = csac("variants", "--json", folder=folder, timeout=20)
    assert (done.returncode, done.stderr) == (0, "") and json.loads(done.stdout)


def test_a_file_named_by_one_of_the_launchers_descriptors_is_read_in_its_own_process(warm):
    """`csac --config <(...)`: /dev/fd/N is the launcher's own; a forked command would not find it."""
    outcomes = []
    for cold in (False, True):
        read, write = os.pipe()
        os.write(write, b"paths: [\n")
        os.close(write)
        before = served(warm)
        env = launcher_env(warm, **({resident.OFF: "1"} if cold else {}))
        done = subprocess.run([CSAC, "--config", f"/dev/fd/{read}", "config", "check"], capture_output=True,
                              text=True, env=env, pass_fds=[read], timeout=60)  # fmt: skip
        os.close(read)
        assert served(warm) == before
        outcomes.append((done.returncode, done.stdout, done.stderr))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 3 and "YAML invalide" in outcomes[0][2]
