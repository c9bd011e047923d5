"""The public deposit page against hostile visitors and careless depositors, over plain HTTP.

Each attack is sent as raw bytes on a socket (what a browser would never send, a client may): every
upload gets one outcome, a French page saying what is wrong and what to do, and nothing is left in
the inbox, not even a hidden staging file.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from decimal import Decimal

import pytest
from markupsafe import escape
from stdnum.fr import siret as stdnum_siret

from pipeline.resources import Workspace
from pipeline.web.app import WebLimits
from tests import builders as b
from tests import web

pytestmark = [
    pytest.mark.xdist_group(name="web_deposit"),  # beside test_web_deposit.py: one worker for both
    pytest.mark.slow,  # hostile: make test runs them
]
IDLE = 1.0  # seconds an upload may stall on the module's site
WHOLE = 4.0  # seconds an upload may last there
BOUNDARY = "----csac-hostile"
KIND = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    limits = WebLimits(deposits_per_minute=1000, upload_idle=IDLE, upload_seconds=WHOLE)
    with web.site(tmp_path_factory.mktemp("hostile"), limits) as running:
        yield running


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A site whose uploads are limited to 1 MB, without watcher: a body past the limit stays cheap."""
    limits = WebLimits(deposits_per_minute=1000, upload_bytes=1024 * 1024, upload_idle=IDLE)
    with web.site(tmp_path_factory.mktemp("petit"), limits, watch=False) as running:
        yield running


def port_of(site) -> int:
    return int(site.url.rsplit(":", 1)[1])


def everything_in(site) -> list[str]:
    """Every file in the inbox itself, hidden ones (staging) included."""
    return sorted(p.name for p in site.workspace.inbox.iterdir() if p.is_file())


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"\r\nContent-Type: application/zip'
    return f"--{BOUNDARY}\r\n{disposition}\r\n\r\n".encode() + data + b"\r\n"


def body_of(token: str, fields: dict[str, str], file: tuple[str, bytes] | None) -> bytes:
    """The form as the page sends it: token first, fields, the file, the closing boundary."""
    parts = [part("csrf_token", token.encode())] + [part(k, v.encode()) for k, v in fields.items()]
    if file:
        parts.append(part("fichier", file[1], file[0]))
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def send(site, head: str, body: bytes = b"", pause: float | None = None) -> str:
    """A request written as bytes (`head` without its blank line); with `pause`, the connection then
    stays open, silent, for that long at most: the server's answer, or what came before it was cut."""
    with socket.create_connection(("127.0.0.1", port_of(site)), timeout=60) as conn:
        try:
            conn.sendall(head.encode() + b"\r\n" + body)
        except (BrokenPipeError, ConnectionResetError) as exc:
            return f"envoi coupé : {exc!r}"
        if pause is not None:
            conn.settimeout(pause)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError) as exc:
            answer += f"\n<<{exc!r}>>".encode()
    return answer.decode("utf-8", "replace")


def post(
    site, cookie: str, body: bytes, kind: str = KIND, length: int | None = None, host="127.0.0.1"
) -> str:
    length = len(body) if length is None else length
    return send(
        site,
        f"POST /depot HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\nCookie: {cookie}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n",
        body,
    )


def chunked(body: bytes, piece: int = 65536) -> bytes:
    return b"".join(
        b"%x\r\n%s\r\n" % (len(c), c) for c in (body[i : i + piece] for i in range(0, len(body), piece))
    )


def said(answer: str) -> str:
    """The page's refusal or error message (the first alert), unescaped."""
    import html

    found = re.search(r'role="alert"[^>]*>([^<]+)<', answer)
    return html.unescape(found.group(1)) if found else ""


def french_page(answer: str, status: int) -> str:
    """The answer's message, once checked it is our French page with that status (no library text)."""
    assert answer.startswith(f"HTTP/1.1 {status} "), answer[:300]
    assert '<html lang="fr">' in answer and "Traceback" not in answer
    return said(answer)


# -- a body that stops short, stalls, or never was a form ----------------------------------------------


def test_a_body_cut_short_anywhere_is_refused_and_leaves_no_staging_file(site):
    """The Content-Length promises less than the form: the parser never reaches the closing boundary."""
    cookie, token = web.session(port_of(site))
    whole = body_of(token, b.form(b.Entity()), ("coupe.zip", b"PK\x03\x04" + bytes(200_000)))
    file_starts = whole.index(b'filename="coupe.zip"')
    cuts = {
        "in the file": file_starts + 100_000,
        "before the closing boundary": len(whole) - len(f"--{BOUNDARY}--\r\n"),
        "in the file part's headers": file_starts + 5,
        "inside the closing boundary": len(whole) - 3,  # "--BOUNDARY-": the last dash and CRLF missing
    }
    for where, cut in cuts.items():
        answer = post(site, cookie, whole[:cut])
        assert french_page(answer, 400).startswith("L'envoi a été interrompu avant la fin du fichier"), where
        assert everything_in(site) == [], where


def test_a_stalled_upload_is_refused_after_its_idle_time_and_other_pages_still_answer(site):
    """Clients that stop sending, anywhere in the body, with a length or in chunks: each refused in French
    once IDLE seconds pass without a byte, its staging file removed; the site answers meanwhile."""
    cookie, token = web.session(port_of(site))
    whole = body_of(token, b.form(b.Entity()), ("lent.zip", b"PK\x03\x04" + bytes(50_000)))
    head = f"POST /depot HTTP/1.1\r\nHost: x\r\nContent-Type: {KIND}\r\nCookie: {cookie}\r\nConnection: close\r\n"
    stalls = {
        "nothing sent": (head + f"Content-Length: {len(whole)}\r\n", b""),
        "in the fields": (head + f"Content-Length: {len(whole)}\r\n", whole[:300]),
        "in the file": (head + f"Content-Length: {len(whole)}\r\n", whole[:30_000]),
        "chunked, in the file": (head + "Transfer-Encoding: chunked\r\n", chunked(whole[:30_000])),
    }
    answers: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda k=k, h=h, d=d: answers.__setitem__(k, send(site, h, d, pause=30)))
        for k, (h, d) in stalls.items()
    ]
    for t in threads:
        t.start()
    time.sleep(IDLE / 2)
    started = time.monotonic()
    status, _, _ = web.Visitor(site.url).open("/depot")
    assert status == 200 and time.monotonic() - started < IDLE  # the stalled uploads hold nobody up
    for t in threads:
        t.join()
    for where, answer in answers.items():
        message = french_page(answer, 408)
        assert message.startswith(
            "L'envoi s'est arrêté en cours de route (plus rien reçu depuis 1 seconde)"
        ), where
    assert everything_in(site) == []


def trickle(site, head: str, data: bytes, start: int = 0, every: float = 0.25) -> str:
    """`data` sent at once up to `start`, then ten bytes at a time, a pause between each (never long
    enough to count as stalled), until the server answers; the answer."""
    with socket.create_connection(("127.0.0.1", port_of(site)), timeout=30) as conn:
        conn.sendall(head.encode() + b"\r\n" + data[:start])
        conn.settimeout(every)
        answer = b""
        for i in range(start, len(data), 10):
            try:
                conn.sendall(data[i : i + 10])
                answer += conn.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        conn.settimeout(30)
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer.decode("utf-8", "replace")


def test_an_upload_that_trickles_in_is_cut_at_the_longest_time_allowed(site):
    """Ten bytes every quarter second, never idle: in the fields, in the file, in chunks; each refused
    once the upload has lasted WHOLE seconds, nothing kept."""
    cookie, token = web.session(port_of(site))
    whole = body_of(token, b.form(b.Entity()), ("goutte.zip", bytes(20_000)))
    head = f"POST /depot HTTP/1.1\r\nHost: x\r\nContent-Type: {KIND}\r\nCookie: {cookie}\r\nConnection: close\r\n"
    cases = {
        "fields": (head + f"Content-Length: {len(whole)}\r\n", whole, 0),
        "file": (head + f"Content-Length: {len(whole)}\r\n", whole, whole.index(b"goutte") + 100),
        "chunks": (head + "Transfer-Encoding: chunked\r\n", chunked(whole, 10), 0),
    }
    answers: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda k=k, h=h, d=d, n=n: answers.__setitem__(k, trickle(site, h, d, n)))
        for k, (h, d, n) in cases.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for what, answer in answers.items():
        assert french_page(answer, 408).startswith("L'envoi a duré plus de 4 secondes, le plus long admis"), (
            what
        )
    assert everything_in(site) == []


def test_a_refused_body_is_read_to_its_end_so_the_client_gets_its_french_answer(site):
    """Bodies refused at their first bytes, several megabytes long: the client sends them whole and reads
    the refusal (no connection reset)."""
    cookie, token = web.session(port_of(site))
    mb = 1024 * 1024
    refused = {
        "urlencoded": (b"a=" + b"b" * 8 * mb, "application/x-www-form-urlencoded", "avec son fichier"),
        "plain text": (bytes(8 * mb), "text/plain", "avec son fichier"),
        "multipart without boundary": (bytes(8 * mb), "multipart/form-data", "avec son fichier"),
        "garbage under a boundary": (b"\x00\xff" * 4 * mb, KIND, "mal formé"),
        "file before the token": (
            part("fichier", bytes(8 * mb), "avant.zip") + part("csrf_token", token.encode()),
            KIND,
            "jeton",
        ),
    }
    for what, (body, kind, words) in refused.items():
        answer = post(site, cookie, body, kind)
        status = 403 if words == "jeton" else 400
        assert words in french_page(answer, status), what
    assert everything_in(site) == []


def test_a_body_past_the_limit_without_a_length_is_refused_wherever_its_bytes_are(small):
    """In chunks, nothing announced: a file past the limit, bytes after the closing boundary (which the
    parser skips, unbounded), a file just under the limit followed by them: each refused with the size
    message as the bytes pass it, nothing kept."""
    cookie, token = web.session(port_of(small))
    form = body_of(token, b.form(b.Entity()), ("petit.zip", b"PK\x03\x04"))
    big = bytes(1536 * 1024)  # past the limit, within what is read of a refused body before it is cut
    bodies = {
        "file": body_of(token, b.form(b.Entity()), ("gros.zip", big)),
        "epilogue": form + big,
        "file under the limit, then an epilogue": body_of(token, {}, ("juste.zip", bytes(1000 * 1024))) + big,
    }
    head = (
        f"POST /depot HTTP/1.1\r\nHost: x\r\nContent-Type: {KIND}\r\nCookie: {cookie}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n"
    )
    for where, body in bodies.items():
        answer = send(small, head, chunked(body) + b"0\r\n\r\n")
        assert french_page(answer, 413).startswith("Le fichier dépasse 1 Mo"), where
        assert everything_in(small) == [], where


def test_a_form_of_far_more_parts_than_the_page_sends_is_refused_as_malformed(small):
    """The page sends ten parts; thousands of empty ones would each be parsed for nothing."""
    cookie, token = web.session(port_of(small))
    for count in (40, 500, 5000):
        parts = [part("csrf_token", token.encode())] + [part(f"x{i}", b"") for i in range(count)]
        answer = post(small, cookie, b"".join(parts) + f"--{BOUNDARY}--\r\n".encode())
        assert french_page(answer, 400).startswith("Le formulaire reçu est mal formé"), count
    assert everything_in(small) == []


def test_an_empty_file_is_refused_on_the_page_naming_it(site):
    cookie, token = web.session(port_of(site))
    for name, shown in (("vide.zip", "vide.zip"), ("Dépôt signé.zip", "Dépôt signé.zip"),
                        ("a\x01\x1b[31mb.zip", "a\ufffd\ufffd[31mb.zip")):  # fmt: skip
        answer = post(site, cookie, body_of(token, b.form(b.Entity()), (name, b"")))
        assert french_page(answer, 400) == (
            f"Le fichier « {shown} » est vide (0 octet) : rien n'a été enregistré. Joignez le ZIP de votre dépôt."
        )
        assert 'value="Commune de Test-sur-Mer"' in answer  # what was typed is kept
    assert everything_in(site) == []


# -- what the page sends back ---------------------------------------------------------------------------


def test_the_address_after_a_deposit_stays_on_the_site_whatever_host_the_client_names(site):
    cookie, token = web.session(port_of(site))
    for n, host in enumerate(("evil.example", "evil.example:8080", "127.0.0.1:1@evil.example", "[::1]")):
        body = body_of(
            token, b.form(b.Entity(siret=b.make_siret(5300 + n))), (f"h{n}.zip", b"pas un zip %d" % n)
        )
        answer = post(site, cookie, body, host=host)
        assert answer.startswith("HTTP/1.1 303 "), host
        location = re.search(r"^location: (\S+)", answer, re.I | re.M).group(1)
        assert location.startswith("/depot/suivi/") and "evil" not in location, host


HOSTILE = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "' onfocus='alert(1)' x='",
           "</textarea><script>alert(2)</script>")  # fmt: skip


def test_what_a_depositor_types_is_shown_as_text_on_every_page_never_as_html(site):
    """Each hostile value in every text field: refused form, verdict page, and the form filled again."""
    visitor = web.Visitor(site.url)
    for n, value in enumerate(HOSTILE):
        typed = b.form(
            b.Entity(siret=b.make_siret(5310 + n)), raison_sociale=f"Commune {value}", message=value
        )
        typed |= {"email": value}  # refused: the form comes back with every value
        status, page, _ = visitor.deposit(typed, b"pas un zip", f"{value}.zip")
        assert status == 400 and value not in page and "<script>alert" not in page and "<img" not in page
        typed["email"] = "mairie@exemple.fr"
        status, _, address = visitor.deposit(typed, b"pas un zip %d" % n, f"{value}.zip")
        page = web.verdict_page(visitor, address, site.url)
        again = re.search(r'id="nouveau" href="([^"]+)"', page).group(1).replace("&amp;", "&")
        filled = visitor.open(again)[1]
        for shown in (page, filled):
            assert value not in shown and "<script>alert" not in shown and "<img" not in shown
        assert f'value="{escape("Commune " + value)}"' in filled  # shown, as text


def test_the_same_file_sent_by_three_depositors_at_once_gets_three_verdicts(site):
    """Identical bytes and form at the same second: each upload its own outcome (the first taken in,
    the others said duplicate), each page its own deposit number, nothing left in the inbox."""
    data = b"le meme fichier, trois fois"
    form = b.form(b.Entity(siret=b.make_siret(5320)))
    pages = web.verdicts_at_once(site.url, [(form, data, "meme.zip")] * 3)
    numbers = {re.search(r'id="numero">([^<]+)<', page).group(1) for page in pages.values()}
    assert len(pages) == 3 and len(numbers) == 3
    headlines = sorted(re.search(r"<h1>([^<]+)</h1>", page).group(1) for page in pages.values())
    assert headlines == ["Dépôt déjà reçu", "Dépôt déjà reçu", "Dépôt refusé"]  # not a ZIP, then duplicates
    assert not [p for p in everything_in(site) if p.startswith("meme-web-")]


# -- the rate limit and the proxy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded"),
    [("127.0.0.1", "10.0.0.{i}, 192.0.2.7"), ("192.0.2.250", "10.0.0.{i}"), ("192.0.2.250", "")],
    ids=["proxy-appends-the-real-address", "untrusted-client-spoofs", "no-header"],
)
def test_a_forged_x_forwarded_for_never_escapes_the_rate_limit(tmp_path, proxies, forwarded):
    """Behind the proxy (which appends the address it saw, as nginx's $proxy_add_x_forwarded_for does), or
    straight from a client the server does not take for its proxy: the address counted is the real one."""
    with web.site(tmp_path, WebLimits(deposits_per_minute=2), watch=False, proxies=proxies) as limited:
        statuses = []
        for i in range(4):
            header = f"X-Forwarded-For: {forwarded.format(i=i)}\r\n" if forwarded else ""
            answer = send(limited, f"POST /depot HTTP/1.1\r\nHost: x\r\n{header}Content-Type: text/plain\r\n"
                          "Content-Length: 3\r\nConnection: close\r\n", b"abc")  # fmt: skip
            statuses.append(int(answer.split()[1]))
        assert statuses == [400, 400, 429, 429]


# -- a deposit the watcher sets aside ---------------------------------------------------------------------


def _library_fault(*args, **kwargs):
    raise RuntimeError("défaillance interne de la bibliothèque de contrôle des SIRET")


def test_a_deposit_the_watcher_sets_aside_is_shown_set_aside_not_refused(tmp_path, monkeypatch):
    """A fault in a library we do not own (the SIRET check) stands for tomorrow's bug: the watcher sets the
    deposit aside for a person, and the page says so, for every deposit it happens to, without offering
    to deposit again."""
    monkeypatch.setattr(stdnum_siret, "is_valid", _library_fault)
    with web.site(tmp_path, WebLimits(deposits_per_minute=1000), attempts=1) as faulty:
        for n, members in enumerate(([("EJ.pdf", b.order_pdf(b.Entity(), Decimal("1000")))],
                                     [("EJ.pdf", b.order_pdf(b.Entity(), Decimal("2000"))), ("note.txt", b"x")])):  # fmt: skip
            visitor = web.Visitor(faulty.url)
            _, _, address = visitor.deposit(b.form(b.Entity()), b.zip_of(members), f"depot-{n}.zip")
            page = web.verdict_page(visitor, address, faulty.url)
            assert "<h1>Dépôt mis de côté pour examen</h1>" in page, n
            assert "inutile de le déposer à nouveau" in page  # the notice, as mailed
            assert (
                "Dépôt refusé" not in page and "Déposer de nouveau" not in page
            )  # which it would contradict


# -- the session cookie and its token ---------------------------------------------------------------------


def cookie_of(session: dict, secret: str = web.SECRET, age: float = 0.0) -> str:
    """A session cookie as SessionMiddleware signs it, with `secret`, made `age` seconds ago."""
    import base64
    import json

    import itsdangerous

    class Then(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    data = base64.b64encode(json.dumps(session).encode())
    return "csac_session=" + Then(secret).sign(data).decode()


def test_a_deposit_is_refused_unless_its_cookie_is_this_sites_fresh_and_untouched_and_holds_its_token(site):
    """Forged, tampered, expired cookies, another session's token, the token in the address or in no
    form at all: each 403 in French, nothing written. The same request with a good cookie goes through."""
    from pipeline.web.app import SESSION_DAYS

    token = "jeton-de-cette-session"
    good = cookie_of({"csrf": token})
    tampered = good.replace(
        good.split("=", 1)[1].split(".")[0], cookie_of({"csrf": "autre"}).split("=", 1)[1].split(".")[0]
    )
    fields = b.form(b.Entity(siret=b.make_siret(5330)))
    refused = {
        "signed by another site": (cookie_of({"csrf": token}, secret="une-autre-cle"), token, ""),
        "payload changed, signature kept": (tampered, token, ""),
        "expired": (cookie_of({"csrf": token}, age=SESSION_DAYS * 86400 + 60), token, ""),
        "another session's token": (cookie_of({"csrf": "jeton-d-un-autre"}), token, ""),
        "no cookie": ("x=y", token, ""),
        "token only in the address": (good, "", f"?csrf_token={token}"),
        "token not a string": (cookie_of({"csrf": 12345}), "12345", ""),
    }
    for what, (cookie, sent, query) in refused.items():
        body = body_of(sent, fields, ("c.zip", what.encode()))
        answer = send(site, f"POST /depot{query} HTTP/1.1\r\nHost: x\r\nContent-Type: {KIND}\r\nCookie: {cookie}\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n", body)  # fmt: skip
        assert "jeton de sécurité absent ou invalide" in french_page(answer, 403), what
        assert everything_in(site) == [], what
    accepted = post(site, good, body_of(token, fields, ("c.zip", b"accepte")))
    assert accepted.startswith("HTTP/1.1 303 "), accepted[:200]


def test_other_methods_and_made_up_addresses_get_french_pages(site):
    long_ticket = "A" * 10_000
    answers = {
        ("PUT", "/depot"): 405, ("DELETE", "/depot"): 405, ("PATCH", "/depot"): 405, ("OPTIONS", "/depot"): 405,
        ("POST", "/depot/suivi/abc"): 405, ("GET", f"/depot/suivi/{long_ticket}"): 404,
        ("GET", "/depot/suivi/..%2F..%2Fetc%2Fpasswd"): 404, ("GET", f"/depot?suite={long_ticket}"): 404,
        ("GET", "/static/..%2F..%2Fapp.py"): 404, ("GET", "/depot/suivi/"): 404,
    }  # fmt: skip
    for (method, path), status in answers.items():
        answer = send(
            site, f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n"
        )
        assert french_page(answer, status), (method, path)
    head = send(site, "HEAD /depot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
    assert head.startswith("HTTP/1.1 200 ") and head.endswith("\r\n\r\n")  # the headers, no page


# -- a disk that cannot take the file ----------------------------------------------------------------------


def test_a_file_the_disk_cannot_take_is_refused_as_our_incident_and_nothing_is_left(tmp_path):
    """`csac serve` run with a 2 MB file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG, as on
    a full disk): uploads that cannot be staged get the French "incident de notre côté" (503) on the
    form, their fields kept, and no staging file; a small one still goes through."""
    import resource
    import subprocess
    import sys

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, 2 * 1024 * 1024))

    port = web.free_port()
    command = [sys.executable, "-m", "pipeline", "serve", "--no-watch", "--port", str(port),
               "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "outbox"), "--state", str(tmp_path / "var")]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=small_files
    )
    try:
        web.wait_for_port(port, process)
        served = web.Site(
            f"http://127.0.0.1:{port}",
            None,
            Workspace(tmp_path / "inbox", tmp_path / "outbox", tmp_path / "var"),
        )
        cookie, token = web.session(port)
        fields = b.form(b.Entity())
        for size in (3, 10):
            body = body_of(token, fields, (f"{size}-mo.zip", bytes(size * 1024 * 1024)))
            answer = post(served, cookie, body)
            assert french_page(answer, 503).startswith(
                "Votre dépôt n'a pas pu être enregistré, à cause d'un incident"
            ), size
            assert 'value="Commune de Test-sur-Mer"' in answer
            assert everything_in(served) == [], size
        assert post(served, cookie, body_of(token, fields, ("petit.zip", b"PK"))).startswith("HTTP/1.1 303 ")
    finally:
        process.terminate()
        process.wait(30)


# -- what the form holds ---------------------------------------------------------------------------------


def test_a_form_with_more_than_one_file_or_too_much_text_is_refused_with_its_reason(site):
    cookie, token = web.session(port_of(site))
    fields = b.form(b.Entity())
    head = body_of(token, fields, None).removesuffix(f"--{BOUNDARY}--\r\n".encode())
    end = f"--{BOUNDARY}--\r\n".encode()
    refused = {
        "two files": (head + part("fichier", b"PK1", "a.zip") + part("fichier", b"PK2", "b.zip") + end, "Un seul fichier"),
        "three files": (head + b"".join(part("fichier", b"PK", f"{i}.zip") for i in range(3)) + end, "Un seul fichier"),
        "a 100 KB message": (head + part("message", b"m" * 100_000) + part("fichier", b"PK", "c.zip") + end, "trop longs"),
        "70 KB over the fields": (
            head + b"".join(part(f"champ{i}", b"x" * 10_000) for i in range(7)) + part("fichier", b"PK", "d.zip") + end,
            "trop longs",
        ),
    }  # fmt: skip
    for what, (body, words) in refused.items():
        assert words in french_page(post(site, cookie, body), 400), what
        assert everything_in(site) == [], what


def test_hostile_archives_sent_through_the_page_each_get_their_refusal(site):
    """What the archive reader refuses (pipeline/archive.py) reaches the depositor's page: a bomb, a member
    climbing out with ../, an encrypted member. (A ZIP cut in half is refused too, but the watcher first
    waits 30 s for the rest of it: tests/test_watch.py covers it.)"""
    visitor = web.Visitor(site.url)
    archives = {
        "bomb": b.raw_zip([b.bomb_member("Convention.pdf", 200 * 1024 * 1024)]),
        "traversal": b.raw_zip([b.Raw(b"../../Convention.pdf", b"%PDF-1.4")]),
        "encrypted": b.raw_zip([b.Raw(b"Convention.pdf", b"%PDF-1.4", flags=0x1)]),
    }
    for n, (what, data) in enumerate(archives.items()):
        form = b.form(b.Entity(siret=b.make_siret(5340 + n)))
        status, _, address = visitor.deposit(form, data, f"{what}.zip")
        assert status == 200 and "/depot/suivi/" in address, what
        page = web.verdict_page(visitor, address, site.url)
        assert "<h1>Dépôt refusé</h1>" in page, what
    assert [p for p in everything_in(site) if not p.startswith(".")] == []


def test_an_internal_error_is_a_french_page_with_the_security_headers(tmp_path):
    """The journal made unreadable under a running site (garbage over it, or a folder in its place):
    the verdict page's 500 is French, without a trace of the error, and keeps the headers of every page."""
    import shutil

    from pipeline.web.deposit import Tickets

    with web.site(tmp_path, watch=False) as broken:
        ticket = Tickets(web.SECRET).issue("0" * 64, "inconnu")
        journal = broken.workspace.journal
        for damage in (lambda: journal.write_bytes(b"pas une base SQLite " * 512), lambda: journal.mkdir()):
            for left in journal.parent.glob(journal.name + "*"):
                shutil.rmtree(left) if left.is_dir() else left.unlink()
            damage()
            answer = send(broken, f"GET /depot/suivi/{ticket} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
            assert (
                french_page(answer, 500)
                == "Une erreur est survenue de notre côté. Réessayez dans quelques minutes."
            )
            headers = answer.split("\r\n\r\n", 1)[0].lower()
            assert "x-frame-options: sameorigin" in headers and "x-content-type-options: nosniff" in headers
            assert "sqlite" not in answer.lower() and "database" not in answer.lower()
