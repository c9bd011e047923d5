"""Each option of `csac serve` reaches the site it starts: one `csac serve` process, started with every
option away from its default, asked over loopback from chosen source addresses (the whole of 127/8 is
loopback on Linux).

A dropped option would leave its default in force, and the test of that option would see it: the site
on 127.0.0.1 rather than 127.0.0.2; a session cookie without `secure`; six deposits a minute rather than
one; X-Forwarded-For believed from 127.0.0.1 rather than from 127.0.0.3 alone.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests import web

HOST, PROXY = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("options-serve")
    port = web.free_port()
    command = [sys.executable, "-m", "pipeline", "serve", "--no-watch", "--host", HOST, "--port", str(port),
               "--secure-cookies", "--forwarded-allow-ips", PROXY, "--deposits-per-minute", "1",
               "--inbox", str(root / "inbox"), "--outbox", str(root / "outbox"), "--state", str(root / "var")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_listening(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def wait_until_listening(port: int, process) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"csac serve n'écoute pas sur {HOST} : {process.communicate()[1]!r}"
                ) from None
            time.sleep(0.1)


def ask(port: int, head: str, body: bytes = b"", source: str = "127.0.0.1", host: str = HOST) -> str:
    """The server's whole answer to a request written as bytes, sent from the address `source`."""
    with socket.create_connection((host, port), timeout=60, source_address=(source, 0)) as conn:
        conn.sendall(f"{head}Host: csac\r\nConnection: close\r\n\r\n".encode() + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.decode("utf-8", "replace")


def status(answer: str) -> int:
    return int(answer.split()[1])


def test_host_chooses_the_address_the_site_listens_on(served):
    assert status(ask(served, "GET /depot HTTP/1.1\r\n")) == 200
    with pytest.raises(ConnectionRefusedError):
        ask(served, "GET /depot HTTP/1.1\r\n", host="127.0.0.1")


def test_secure_cookies_sends_the_session_cookie_over_https_only(served):
    answer = ask(served, "GET /bureau/connexion HTTP/1.1\r\n")
    cookie = next(
        line for line in answer.lower().splitlines() if line.startswith("set-cookie: csac_session=")
    )
    assert "; secure" in cookie


def post_from(port: int, source: str, forwarded: str) -> int:
    """A deposit that is not one (the rate limit counts it before reading it), through a proxy at `source`
    that says it came from `forwarded`."""
    head = f"POST /depot HTTP/1.1\r\nX-Forwarded-For: {forwarded}\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    return status(ask(port, head, b"abc", source=source))


def test_deposits_per_minute_and_the_trusted_proxy_count_each_real_address(served):
    first = [post_from(served, PROXY, "198.51.100.1") for _ in range(2)]
    other = post_from(served, PROXY, "198.51.100.2")
    assert first == [400, 429]  # one a minute, not six: the second is refused
    assert other == 400  # another address behind the proxy 127.0.0.3, counted on its own
