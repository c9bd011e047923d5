"""The public deposit page: a real server on loopback, the real watcher, real ZIPs, a real Chromium.

Every upload has exactly one outcome: its verdict on the page (in the words of the notice), or a
clear refusal that leaves nothing in the inbox.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.web.app import WebLimits
from tests import builders as b
from tests import web

pytestmark = pytest.mark.xdist_group(name="web_deposit")  # one worker builds the site and the browser once
MB = 1024 * 1024
ORDER_ASKED = "le document de l'EJ ou du bon de commande de 1 000,00 €"  # purchase_order_missing's ask


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One site for the module, its deposits limited far above what its tests send (the limit has its own)."""
    with web.site(tmp_path_factory.mktemp("guichet"), WebLimits(deposits_per_minute=1000)) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    driver = web.chromium()
    yield driver
    driver.quit()


def package(renderer, resources, entity: b.Entity, order: bool = True) -> bytes:
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    members = [
        ("Convention signée.pdf", b.convention_pdf(docs["convention"])),
        ("Annexe.xlsx", docs["annex"]),
    ]
    return b.zip_of(members + ([("EJ.pdf", b.order_pdf(entity, Decimal("1000")))] if order else []))


def fill(driver, values: dict[str, str], zip_path: Path) -> None:
    """The form typed in as a person does, the ZIP chosen, then VALIDER."""
    from selenium.webdriver.common.by import By

    for name, value in values.items():
        field = driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    driver.find_element(By.ID, "fichier").send_keys(str(zip_path))
    driver.find_element(By.CSS_SELECTOR, "form.depot button[type=submit]").click()


def verdict(driver) -> tuple[str, str]:
    """The verdict's headline and the notice shown, once the page has them."""
    from selenium.webdriver.common.by import By

    headline = web.wait_for(driver, "#verdict h1").text
    return headline, driver.find_element(By.ID, "avis").text


def inbox_files(site) -> list[str]:
    """What is in the inbox itself (the watcher's own folders aside)."""
    return sorted(p.name for p in site.workspace.inbox.iterdir() if p.is_file())


# -- through the browser --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_complete_zip_deposited_through_the_page_shows_dossier_complet_with_its_number(
    site, browser, renderer, resources, tmp_path
):
    entity = b.Entity(siret=b.make_siret(5101))
    zip_path = tmp_path / "Dépôt signé.zip"
    zip_path.write_bytes(package(renderer, resources, entity))
    browser.get(site.url + "/depot")
    fill(browser, b.form(entity, email="mairie@exemple.fr"), zip_path)
    headline, told = verdict(browser)
    number = browser.find_element("id", "numero").text
    assert headline == "Dossier complet"
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{8}", number)
    assert f"enregistré sous le n° {number}" in told and "Votre dossier est complet" in told


@pytest.mark.slow
def test_a_zip_without_its_order_shows_what_is_missing_and_its_link_completes_the_same_dossier(
    site, browser, renderer, resources, tmp_path
):
    from selenium.webdriver.common.by import By

    entity = b.Entity(name="Commune de Suite-sur-Mer", siret=b.make_siret(5102))
    first = tmp_path / "sans-ej.zip"
    first.write_bytes(package(renderer, resources, entity, order=False))
    browser.get(site.url + "/depot")
    fill(browser, b.form(entity), first)
    headline, told = verdict(browser)
    assert headline == "Dossier incomplet"
    missing = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#manque li")]
    assert len(missing) == 1 and missing[0].startswith(ORDER_ASKED)
    assert "merci de nous envoyer uniquement :" in told and f"– {missing[0]}\n" in told
    dossier = f"{entity.siret}-2021-045-lot2"

    browser.find_element(By.CSS_SELECTOR, "a.envoyer").click()
    web.wait_for(browser, "form.depot")
    assert dossier in browser.find_element(By.TAG_NAME, "main").text
    assert browser.find_element(By.ID, "numero_marche").get_attribute("value") == "2021-045 lot 2"
    assert browser.find_element(By.ID, "siret").get_attribute("value") == entity.siret
    order = tmp_path / "ej.zip"
    order.write_bytes(b.zip_of([("EJ.pdf", b.order_pdf(entity, Decimal("1000")))]))
    browser.find_element(By.ID, "fichier").send_keys(str(order))
    browser.find_element(By.CSS_SELECTOR, "form.depot button[type=submit]").click()
    headline, told = verdict(browser)
    assert headline == "Dossier complet"
    assert f"Référence de votre dossier : {dossier}" in told
    assert "joint aux documents que nous avions déjà reçus" in told


@pytest.mark.slow
def test_a_file_over_64_mb_chosen_in_the_browser_is_refused_before_it_is_sent(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    big = tmp_path / "trop-gros.zip"
    with big.open("wb") as fh:
        fh.truncate(70 * MB)  # sparse: 70 MB to the browser, nothing written
    before = inbox_files(site)
    browser.get(site.url + "/depot")
    fill(browser, b.form(b.Entity()), big)
    said = browser.find_element(By.ID, "message-fichier").text
    assert said.startswith("Le fichier dépasse 64 Mo, la taille maximale d'un dépôt.")
    assert browser.current_url == site.url + "/depot" and inbox_files(site) == before


@pytest.mark.slow
def test_the_browser_speaks_french_so_its_file_button_does_too(site, browser):
    """What the page cannot translate (the file input's « Choisir un fichier ») is Chromium's: in French
    with chromium-l10n (the screenshots in docs/ show it)."""
    if not web.FRENCH_CHROMIUM.exists():
        why = f"{web.FRENCH_CHROMIUM} absent — apt-get install -y chromium-l10n"
        if os.environ.get("CI"):
            pytest.fail(why + " (.ci/run should have installed it)")
        pytest.skip(why)
    browser.get(site.url + "/depot")
    assert browser.execute_script("return navigator.languages")[:2] == ["fr-FR", "fr"]


# -- without a browser ----------------------------------------------------------------------------


def test_a_post_without_the_session_token_is_refused_and_nothing_reaches_the_inbox(site):
    visitor = web.Visitor(site.url)
    before = inbox_files(site)
    status, page, _ = visitor.deposit(b.form(b.Entity()), b.zip_of([("a.pdf", b"%PDF-1.4")]), token=False)
    assert status == 403 and "jeton de sécurité absent ou invalide" in page
    forged = {"csrf_token": "jeton-inventé"} | b.form(b.Entity())
    status, page, _ = visitor.deposit(forged, b.zip_of([("a.pdf", b"%PDF-1.4")]), token=False)
    assert status == 403
    assert inbox_files(site) == before


def test_a_verdict_link_or_a_follow_up_link_that_was_not_issued_here_is_not_found(site):
    visitor = web.Visitor(site.url)
    _, _, address = visitor.deposit(b.form(b.Entity(siret=b.make_siret(5105))), b"pas une archive", "y.zip")
    ticket = address.rsplit("/", 1)[1]
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    for path in (f"/depot/suivi/{forged}", f"/depot?suite={forged}", "/depot/suivi/invente"):
        status, page, _ = visitor.open(path)
        assert status == 404 and re.search(r"n&#39;est (plus|pas) valable", page)


def test_every_page_forbids_framing_sniffing_and_sending_its_address_elsewhere(site):
    import urllib.request

    with urllib.request.urlopen(site.url + "/depot", timeout=30) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["x-frame-options"] == "SAMEORIGIN" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin" and headers["cache-control"] == "no-store"


def test_each_invalid_field_is_said_beside_it_in_the_portal_words_and_the_values_are_kept(site):
    visitor = web.Visitor(site.url)
    before = inbox_files(site)
    typed = b.form(b.Entity(), email="pas-une-adresse", telephone="12", raison_sociale="")
    status, page, _ = visitor.deposit(typed, b.zip_of([("a.pdf", b"%PDF-1.4")]))
    assert status == 400
    said = dict(re.findall(r'id="message-(\w+)"[^>]*>([^<]+)<', page))
    assert said["raison_sociale"] == "« Raison sociale de votre établissement » : vide"
    assert said["telephone"].startswith("« Numéro de téléphone » : la valeur reçue dans le formulaire")
    assert said["email"].startswith("« Email » : l&#39;adresse reçue dans le formulaire")
    assert said["fichier"].startswith("Le fichier n&#39;a pas été conservé")
    assert 'value="pas-une-adresse"' in page and 'value="2021-045 lot 2"' in page
    assert inbox_files(site) == before


def test_an_upload_without_a_file_is_asked_for_its_zip(site):
    status, page, _ = web.Visitor(site.url).deposit(b.form(b.Entity()), None)
    assert status == 400 and "Joignez le fichier ZIP de votre dépôt" in page


def test_a_file_that_is_no_zip_gets_its_refusal_on_the_page_in_the_words_of_the_notice(site):
    visitor = web.Visitor(site.url)
    status, _, address = visitor.deposit(b.form(b.Entity()), b"pas une archive, sans pareille", "x.zip")
    assert status == 200 and "/depot/suivi/" in address
    page = web.verdict_page(visitor, address, site.url)
    assert "<h1>Dépôt refusé</h1>" in page
    assert "n&#39;est pas une archive ZIP" in page
    again = re.search(r'id="nouveau" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert 'value="Commune de Test-sur-Mer"' in visitor.open(again)[1]


def test_depositors_at_the_same_time_each_get_their_own_verdict_and_only_theirs(site):
    """Six at once, each a different file: six verdicts, six deposit numbers, nothing left in the inbox."""
    uploads = [
        (b.form(b.Entity(siret=b.make_siret(5200 + i))), b"fichier %d" % i, f"depot-{i}.zip")
        for i in range(6)
    ]
    pages = web.verdicts_at_once(site.url, uploads)
    numbers = {re.search(r'id="numero">([^<]+)<', page).group(1) for page in pages.values()}
    assert len(pages) == 6 and all("<h1>Dépôt refusé</h1>" in page for page in pages.values())
    assert len(numbers) == 6 and all(f"« depot-{i}-web-" in pages[i] for i in pages)
    assert not [p for p in inbox_files(site) if re.match(r"depot-\d-web-", p)]


def test_the_sent_file_name_never_becomes_a_path(site, tmp_path):
    visitor = web.Visitor(site.url)
    status, _, address = visitor.deposit(
        b.form(b.Entity(siret=b.make_siret(5104))), b"pas une archive", "../../../etc/passwd.zip"
    )
    assert status == 200 and "/depot/suivi/" in address
    names = [p.name for p in site.workspace.inbox.parent.rglob("*passwd*")]
    assert names and all(re.fullmatch(r"passwd-web-[0-9a-f]{8}\.(zip|json)", n) for n in names)


def test_deposits_are_limited_per_address_and_the_next_one_is_told_to_wait(tmp_path):
    with web.site(tmp_path, WebLimits(deposits_per_minute=2), watch=False) as limited:
        visitor = web.Visitor(limited.url)
        answers = [visitor.deposit({"raison_sociale": ""}, None)[0] for _ in range(3)]
        status, page, _ = visitor.deposit(b.form(b.Entity()), b.zip_of([("a.pdf", b"%PDF-1.4")]))
        assert answers == [400, 400, 429] and status == 429
        assert "2 par minute au plus" in page and "Rien n&#39;a été enregistré" in page
        assert inbox_files(limited) == []


def test_without_a_verdict_in_time_the_page_says_it_will_come_by_mail_and_stops_waiting(tmp_path):
    with web.site(tmp_path, WebLimits(verdict_wait=0.0), watch=False) as idle:
        visitor = web.Visitor(idle.url)
        status, page, _ = visitor.deposit(b.form(b.Entity()), b.zip_of([("a.pdf", b"%PDF-1.4")]))
        assert status == 200 and "Votre dépôt est bien enregistré" in page
        assert "Le résultat vous sera envoyé" in page and 'http-equiv="refresh"' not in page
        assert len(inbox_files(idle)) == 2  # the ZIP and its form, for the watcher to take


def test_staging_files_and_forms_left_by_a_stopped_server_are_swept_and_the_others_stay(tmp_path):
    """What an upload (its staging file) or a drop (its form under a temporary name) left when the server
    was killed, a day old, is removed; the same under way, and anything not ours, stays."""
    from pipeline.drop import TEMPORARY_PREFIX
    from pipeline.web.upload import STAGING_PREFIX, STALE_SECONDS, sweep

    now = time.time()
    left = [tmp_path / f"{STAGING_PREFIX}abandonne.part", tmp_path / f"{TEMPORARY_PREFIX}depot-web-1a2b3c4d-x1.json.part",
            tmp_path / f"{TEMPORARY_PREFIX}Mairie-de-Suite-web-00ff00ff-k_9.json.part"]  # fmt: skip
    under_way = [
        tmp_path / f"{STAGING_PREFIX}en-cours.part",
        tmp_path / f"{TEMPORARY_PREFIX}d-web-0-a.json.part",
    ]
    not_ours = [tmp_path / ".depot.zip.part", tmp_path / ".depot-x1.json.part", tmp_path / "depot.zip"]
    for path in left + under_way + not_ours:
        path.write_bytes(b"PK")
    for path in left + not_ours:
        os.utime(path, (now - STALE_SECONDS - 60, now - STALE_SECONDS - 60))
    assert sweep(tmp_path, now) == sorted(left)
    assert sorted(tmp_path.iterdir()) == sorted(under_way + not_ours)


def test_a_drops_temporary_form_is_named_for_the_sweep(tmp_path, monkeypatch):
    """The form drop() writes under a temporary name is one the sweep knows (its name seen as it is
    placed: the real place() still does the work)."""
    from pipeline import drop as dropping

    seen: list[str] = []
    original = dropping.place

    def watching(src: Path, dst: Path) -> bool:
        seen.append(src.name)
        return original(src, dst)

    staged = tmp_path / ".web-x.part"
    staged.write_bytes(b"PK")
    monkeypatch.setattr(dropping, "place", watching)
    dropping.drop(staged, {"raison_sociale": "x"}, tmp_path, "depot-web-12345678")
    assert seen[0].startswith(dropping.TEMPORARY_PREFIX + "depot-web-12345678-") and seen[0].endswith(
        ".json.part"
    )


# -- csac serve, as it runs in production ---------------------------------------------------------


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_csac_serve_runs_its_watcher_beside_the_pages_and_stops_both(tmp_path):
    port = web.free_port()
    command = [sys.executable, "-m", "pipeline", "serve", "--port", str(port), "--inbox", str(tmp_path / "inbox"),
               "--outbox", str(tmp_path / "outbox"), "--state", str(tmp_path / "var")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        web.wait_for_port(port, process)
        visitor = web.Visitor(url)
        _, page, address = visitor.deposit(b.form(b.Entity()), b"pas une archive", "x.zip")
        for _ in range(600):
            if 'id="verdict"' in page:
                break
            time.sleep(0.1)
            page = visitor.open(address.removeprefix(url))[1]
        assert "<h1>Dépôt refusé</h1>" in page
        watchers = children(process.pid)  # the watcher, and multiprocessing's resource tracker
        assert watchers
    finally:
        process.terminate()
        process.wait(120)
    deadline = time.monotonic() + 10  # the resource tracker leaves when it sees its parent gone
    while not all(gone(pid) for pid in watchers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == 0 and all(gone(pid) for pid in watchers)


# -- 70 MB: refused, while the server's memory stays flat -------------------------------------------


@pytest.fixture(scope="module")
def server_process(tmp_path_factory):
    """`csac serve --no-watch` in a process of its own, so that its memory can be measured alone."""
    root = tmp_path_factory.mktemp("serveur")
    port = web.free_port()
    command = [sys.executable, "-m", "pipeline", "serve", "--no-watch", "--port", str(port),
               "--inbox", str(root / "inbox"), "--outbox", str(root / "outbox"), "--state", str(root / "var")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    web.wait_for_port(port, process)
    yield port, root / "inbox", process.pid
    process.terminate()
    process.wait(30)


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


class Peak:
    """The largest resident size of a process, sampled every 20 ms while it lasts."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.done = pid, rss_kb(pid), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_kb(self.pid))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


def send_streamed(port: int, size: int, chunked: bool) -> str:
    """A deposit of `size` bytes of file sent in 1 MB pieces (one buffer, sent again and again: this test
    stays flat too), with its Content-Length or in chunks without one, from a session with its token;
    the server's answer."""
    cookie, token = web.session(port)
    boundary = "----csac-grand"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="fichier"; filename="gros.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + size + len(tail)}"
    piece = bytes(MB)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(
            f"POST /depot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Cookie: {cookie}\r\n{length}\r\nConnection: close\r\n\r\n".encode()
        )

        def send(data: bytes) -> None:
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        try:
            send(head)
            for _ in range(size // MB):
                send(piece)
            send(tail)
            conn.sendall(b"0\r\n\r\n" if chunked else b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: its answer is read below
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_70_mb_upload_is_refused_clearly_and_the_server_memory_stays_flat(server_process, chunked):
    port, inbox, pid = server_process
    before = rss_kb(pid)
    with Peak(pid) as peak:
        answer = send_streamed(port, 70 * MB, chunked)
    assert answer.startswith("HTTP/1.1 413")
    assert (
        "Le fichier dépasse 64 Mo, la taille maximale d&#39;un dépôt. Rien n&#39;a été enregistré." in answer
    )
    assert peak.peak - before < 16 * 1024, f"mémoire du serveur : {before} kB, puis jusqu'à {peak.peak} kB"
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
