"""The regional desk (`csac serve`, /bureau): behind a login, a region sees its own dossiers only, every
form needs its CSRF token, and a team decides in a real browser.

One site per module (tests/web.py: the application on loopback, uvicorn in a thread) over real deposits
in Bretagne, Corse and Hauts-de-France (tests/desk_builds.py). Security is tested in plain HTTP, each
rule on its own; the list and the acceptance of a scanned dossier in a real headless Chromium.
"""

from __future__ import annotations

import email
import mailbox
import re
import urllib.parse
from dataclasses import replace
from decimal import Decimal
from email import policy

import pytest
from argon2 import PasswordHasher

from pipeline.accounts import Accounts
from pipeline.config import load_config
from pipeline.dossiers import DossierBook, EventKind
from pipeline.intake import take_in
from pipeline.web.app import WebLimits, create_app
from testkit import scans
from tests import builders as b
from tests.desk_builds import (
    AJACCIO,
    AJACCIO_ID,
    BREST_ID,
    LOT2,
    RENNES_ID,
    context,
    email_of,
    take_in_regions,
)
from tests.relays import Behaviour, LoopbackRelay, write_config
from tests.web import Visitor, chromium, settings_for, site, wait_for

pytestmark = pytest.mark.xdist_group("desk")
PASSWORD = "mot de passe du bureau"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # the first login renews it
QUIMPER = b.Entity("Commune de Quimper", b.make_siret(2902), "commune", 60000, "44 place Saint-Corentin", "29000",
                   "QUIMPER")  # fmt: skip
QUIMPER_ID = f"{QUIMPER.siret}-{LOT2}"
BRETAGNE_BOX = "Bretagne@resah.fr"


@pytest.fixture(scope="module")
def regions_taken(tmp_path_factory, renderer, resources, loaded_intake):
    """The deposits, with an account in Bretagne, one in Corse and one at the head office."""
    regions = take_in_regions(tmp_path_factory.mktemp("bureau"), renderer, resources, loaded_intake)
    accounts = Accounts(regions.workspace.journal, CHEAP)
    for name, region in (("marie.durand", "bretagne"), ("paolo.santoni", "corse"), ("direction", "siege")):
        accounts.add(name, region, PASSWORD)
    return regions


@pytest.fixture(scope="module")
def desk(regions_taken):
    """The site over them, writing in their own folders."""
    with site(regions_taken.workspace.state.parent, WebLimits(logins_per_minute=100), watch=False) as served:
        yield served


class Clerk(Visitor):
    """A browser-less client of the desk, with cookies of its own."""

    def token(self) -> str:
        page = self.open("/bureau/connexion")[1]
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post(self, path: str, fields: dict[str, str], token: bool = True):
        sent = ({"csrf_token": self.page_token(path)} if token else {}) | fields
        body = urllib.parse.urlencode(sent).encode()
        return self.open(path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def page_token(self, path: str) -> str:
        """The token the page holding the form gives (the login page's for the login form)."""
        where = "/bureau/connexion" if path.endswith("/connexion") else "/bureau"
        return re.search(r'name="csrf_token" value="([^"]+)"', self.open(where)[1]).group(1)

    def status(self, path: str) -> int:
        """The status of a GET whatever its body (a document's bytes are no text)."""
        import urllib.error

        try:
            with self.opener.open(self.url + path, timeout=60) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def login(self, name: str, password: str = PASSWORD):
        return self.post("/bureau/connexion", {"nom": name, "mot_de_passe": password})


def logged_in(desk, name: str) -> Clerk:
    clerk = Clerk(desk.url)
    status, _, where = clerk.login(name)
    assert status == 200 and where.endswith("/bureau"), (status, where)
    return clerk


@pytest.fixture(scope="module")
def bretagne(desk) -> Clerk:
    return logged_in(desk, "marie.durand")


@pytest.fixture(scope="module")
def corse(desk) -> Clerk:
    return logged_in(desk, "paolo.santoni")


def seqs(desk, dossier_id: str) -> list[int]:
    return [h.seq for h in DossierBook(desk.workspace.journal).documents(dossier_id, current=False)]


def document_urls(desk, dossier_id: str) -> list[str]:
    base = f"/bureau/dossiers/{dossier_id}/documents"
    return [u for s in seqs(desk, dossier_id) for u in (f"{base}/{s}", f"{base}/{s}/apercu")]


def events(desk, dossier_id: str):
    return DossierBook(desk.workspace.journal).events(dossier_id)


# -- a region sees its own dossiers only: 404, never 403 -------------------------------------------------


def test_the_bretagne_account_asking_for_a_corse_dossier_by_id_gets_404(desk, bretagne, corse):
    assert corse.open(f"/bureau/dossiers/{AJACCIO_ID}")[0] == 200  # it exists, and Corse sees it
    status, page, _ = bretagne.open(f"/bureau/dossiers/{AJACCIO_ID}")
    assert status == 404 and "Page introuvable" in page and "Ajaccio" not in page


def test_the_bretagne_account_asking_for_a_corse_document_by_url_gets_404(desk, bretagne, corse):
    urls = document_urls(desk, AJACCIO_ID)
    assert urls and all(corse.status(u) == 200 for u in urls)
    assert [bretagne.status(u) for u in urls] == [404] * len(urls)


def test_a_corse_document_number_under_a_bretagne_dossier_gets_404(desk, bretagne):
    """The number is looked for among the dossier's own documents, never as a file."""
    assert all(
        bretagne.open(f"/bureau/dossiers/{RENNES_ID}/documents/{s}")[0] == 404 for s in seqs(desk, AJACCIO_ID)
    )


@pytest.mark.parametrize("action", ["accepter", "refuser", "renvoyer-avis"])
def test_no_button_of_the_bretagne_account_reaches_a_corse_dossier(desk, bretagne, action):
    before = events(desk, AJACCIO_ID)
    status = bretagne.post(f"/bureau/dossiers/{AJACCIO_ID}/{action}", {"note": "vu", "motif": "non"})[0]
    assert status == 404 and events(desk, AJACCIO_ID) == before


def test_the_bretagne_list_never_shows_a_corse_dossier_whatever_the_query(desk, bretagne):
    for query in ("", "?q=Ajaccio", f"?q={AJACCIO_ID}", "?region=corse", "?etat=incomplet"):
        shown = rows(bretagne.open(f"/bureau{query}")[1])
        assert not any(AJACCIO_ID in r or "Ajaccio" in r for r in shown), query
    assert any(RENNES_ID in r for r in rows(bretagne.open("/bureau")[1]))


def rows(page: str) -> list[str]:
    """The list's rows, one dossier each."""
    return re.findall(r'<tr class="dossier".*?</tr>', page, re.S)


def test_the_head_office_sees_every_region(desk):
    page = logged_in(desk, "direction").open("/bureau")[1]
    assert all(i in page for i in (RENNES_ID, BREST_ID, AJACCIO_ID))


# -- documents ------------------------------------------------------------------------------------------


def test_a_pdf_is_shown_inline_as_a_pdf_and_downloaded_as_an_attachment(desk, bretagne):
    held = next(
        h for h in DossierBook(desk.workspace.journal).documents(RENNES_ID) if h.name.endswith(".pdf")
    )
    base = f"/bureau/dossiers/{RENNES_ID}/documents/{held.seq}"
    with bretagne.opener.open(desk.url + base + "/apercu") as shown:
        assert shown.headers["Content-Type"] == "application/pdf" and shown.read(4) == b"%PDF"
        assert shown.headers["Content-Disposition"].startswith("inline;")
        assert shown.headers["Cache-Control"] == "no-store"  # personal data: kept by no cache
    with bretagne.opener.open(desk.url + base) as downloaded:
        assert downloaded.headers["Content-Disposition"].startswith("attachment;")


def test_a_workbook_is_only_ever_downloaded_never_rendered(desk, bretagne):
    held = next(
        h for h in DossierBook(desk.workspace.journal).documents(RENNES_ID) if h.name.endswith(".xlsx")
    )
    with bretagne.opener.open(
        f"{desk.url}/bureau/dossiers/{RENNES_ID}/documents/{held.seq}/apercu"
    ) as answer:
        assert answer.headers["Content-Type"] == "application/octet-stream"
        assert answer.headers["Content-Disposition"].startswith("attachment;")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_desk_pages_are_kept_by_no_cache(desk, bretagne):
    for path in ("/bureau", f"/bureau/dossiers/{RENNES_ID}"):
        with bretagne.opener.open(desk.url + path) as answer:
            assert answer.headers["Cache-Control"] == "no-store", path


def test_the_dossier_page_embeds_its_pdfs_and_links_each_document(desk, bretagne):
    page = bretagne.open(f"/bureau/dossiers/{RENNES_ID}")[1]
    held = DossierBook(desk.workspace.journal).documents(RENNES_ID)
    assert all(f'/documents/{h.seq}"' in page for h in held)
    assert re.search(r'<iframe src="[^"]+/documents/\d+/apercu"', page)


# -- login ----------------------------------------------------------------------------------------------


def desk_urls(desk) -> list[str]:
    seq = seqs(desk, RENNES_ID)[0]
    base = f"/bureau/dossiers/{RENNES_ID}"
    return ["/bureau", "/bureau?etat=complet", base, f"{base}/documents/{seq}", f"{base}/documents/{seq}/apercu",
            f"{base}/documents/{seq}/signature.png"]  # fmt: skip


def test_every_desk_page_sends_a_visitor_without_a_login_to_the_login_page(desk):
    for url in desk_urls(desk):
        status, page, where = Clerk(desk.url).open(url)
        assert (status, where) == (200, f"{desk.url}/bureau/connexion"), url
        assert "Bureau régional — connexion" in page


@pytest.mark.parametrize("action", ["accepter", "refuser", "renvoyer-avis"])
def test_no_action_is_taken_without_a_login_even_with_a_token(desk, action):
    before = events(desk, RENNES_ID)
    visitor = Clerk(desk.url)
    fields = {"csrf_token": visitor.token(), "note": "vu", "motif": "non"}
    body = urllib.parse.urlencode(fields).encode()
    _, _, where = visitor.open(f"/bureau/dossiers/{RENNES_ID}/{action}", body)
    assert where == f"{desk.url}/bureau/connexion" and events(desk, RENNES_ID) == before


@pytest.mark.parametrize("password", ["pas le bon mot de passe", ""])
def test_a_wrong_password_is_refused_in_french_without_saying_which_part_is_wrong(desk, password):
    status, page, _ = Clerk(desk.url).login("marie.durand", password)
    assert status == 401 and "Nom de compte ou mot de passe incorrect." in page


def test_an_unknown_account_is_refused_with_the_same_words(desk):
    status, page, _ = Clerk(desk.url).login("personne", PASSWORD)
    assert status == 401 and "Nom de compte ou mot de passe incorrect." in page


def test_login_attempts_past_the_limit_are_refused_for_a_minute(tmp_path):
    with site(tmp_path, WebLimits(logins_per_minute=3), watch=False) as small:
        clerk = Clerk(small.url)
        answers = [clerk.login("marie.durand", "essai")[0] for _ in range(4)]
        status, page, _ = clerk.login("marie.durand", "essai")
    assert answers == [401, 401, 401, 429] and status == 429 and "Trop de tentatives" in page


def test_the_session_cookie_is_http_only_and_same_site_lax(desk):
    import urllib.request

    with urllib.request.urlopen(f"{desk.url}/bureau/connexion") as answer:
        cookie = answer.headers["Set-Cookie"].lower()
    assert cookie.startswith("csac_session=") and "; httponly" in cookie and "; samesite=lax" in cookie
    assert "; secure" not in cookie  # served over plain HTTP here: settings.secure_cookies is off


def asgi_get(app, path: str) -> dict[str, str]:
    """The response headers of a GET made to the application directly (ASGI, no server)."""
    import asyncio

    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "https", "path": path,
             "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "server": ("bureau.resah.fr", 443), "client": ("127.0.0.1", 50000)}  # fmt: skip
    started: dict[str, str] = {}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            started.update((k.decode().lower(), v.decode()) for k, v in message["headers"])

    asyncio.run(app(scope, receive, send))
    return started


def test_with_secure_cookies_the_session_cookie_is_sent_over_https_only(regions_taken):
    settings = replace(settings_for(regions_taken.workspace.state.parent), secure_cookies=True)
    cookie = asgi_get(create_app(settings), "/bureau/connexion")["set-cookie"].lower()
    assert "; secure" in cookie and "; httponly" in cookie


def test_login_gives_a_new_session_whose_token_differs_from_the_one_before(desk):
    clerk = Clerk(desk.url)
    before = clerk.token()
    clerk.login("marie.durand")
    assert clerk.page_token("/bureau") != before
    status = clerk.post(f"/bureau/dossiers/{RENNES_ID}/renvoyer-avis", {"csrf_token": before}, token=False)[0]
    assert status == 403
    assert not any(e.by == "marie.durand" and e.kind == EventKind.MESSAGE for e in events(desk, RENNES_ID))


def test_a_disabled_account_is_logged_out_at_its_next_page(desk):
    Accounts(desk.workspace.journal, CHEAP).add("stagiaire", "bretagne", PASSWORD)
    clerk = logged_in(desk, "stagiaire")
    Accounts(desk.workspace.journal).disable("stagiaire")
    assert clerk.open("/bureau")[2] == f"{desk.url}/bureau/connexion"


def test_logout_ends_the_session(desk):
    """An account of its own: logging out ends every session of the account, the module's `bretagne` too."""
    Accounts(desk.workspace.journal, CHEAP).add("sortant", "bretagne", PASSWORD)
    clerk = logged_in(desk, "sortant")
    clerk.post("/bureau/deconnexion", {})
    assert clerk.open("/bureau")[2] == f"{desk.url}/bureau/connexion"


# -- no form without its CSRF token: one test per form ---------------------------------------------------


def test_the_login_form_refuses_a_post_without_its_token(desk):
    clerk = Clerk(desk.url)
    status, page, _ = clerk.post(
        "/bureau/connexion", {"nom": "marie.durand", "mot_de_passe": PASSWORD}, token=False
    )
    assert status == 403 and "jeton de sécurité" in page
    assert clerk.open("/bureau")[2] == f"{desk.url}/bureau/connexion"


def test_the_logout_form_refuses_a_post_without_its_token(desk, bretagne):
    assert bretagne.post("/bureau/deconnexion", {}, token=False)[0] == 403
    assert bretagne.open("/bureau")[2] == f"{desk.url}/bureau"


def test_the_accept_form_refuses_a_post_without_its_token(desk, bretagne):
    status, _, _ = bretagne.post(f"/bureau/dossiers/{BREST_ID}/accepter", {"note": "vu"}, token=False)
    assert status == 403 and not any(e.kind == EventKind.ACCEPTED for e in events(desk, BREST_ID))


def test_the_refuse_form_refuses_a_post_without_its_token(desk, bretagne):
    status, _, _ = bretagne.post(f"/bureau/dossiers/{BREST_ID}/refuser", {"motif": "non"}, token=False)
    assert status == 403 and not any(e.kind == EventKind.REFUSED for e in events(desk, BREST_ID))


def test_the_resend_form_refuses_a_post_without_its_token(desk, corse):
    before = events(desk, AJACCIO_ID)
    assert corse.post(f"/bureau/dossiers/{AJACCIO_ID}/renvoyer-avis", {}, token=False)[0] == 403
    assert events(desk, AJACCIO_ID) == before


def test_a_token_from_another_session_is_refused(desk, bretagne, corse):
    body = urllib.parse.urlencode({"csrf_token": corse.page_token("/bureau"), "note": "vu"}).encode()
    assert bretagne.open(f"/bureau/dossiers/{BREST_ID}/accepter", body)[0] == 403


# -- actions, in the account's name ---------------------------------------------------------------------


def test_resending_the_notice_is_journalled_with_the_account_and_listed_among_the_messages(desk, corse):
    status, page, where = corse.post(f"/bureau/dossiers/{AJACCIO_ID}/renvoyer-avis", {})
    assert status == 200 and where.endswith(f"/bureau/dossiers/{AJACCIO_ID}")
    assert f"Avis renvoyé à {email_of(AJACCIO)}." in page
    last = events(desk, AJACCIO_ID)[-1]
    assert (last.kind, last.by) == (EventKind.MESSAGE, "paolo.santoni")
    assert page.count("avis au déposant") >= 2


def test_refusing_without_a_reason_does_nothing_and_says_why(desk, bretagne):
    page = bretagne.post(f"/bureau/dossiers/{BREST_ID}/refuser", {"motif": "  "})[1]
    assert "indiquez le motif du refus" in page
    assert not any(e.kind == EventKind.REFUSED for e in events(desk, BREST_ID))


def test_refusing_with_a_reason_is_journalled_with_the_account_and_tells_the_depositor(desk, corse):
    page = corse.post(
        f"/bureau/dossiers/{AJACCIO_ID}/refuser", {"motif": "convention signée sans délégation"}
    )[1]
    refused = next(e for e in events(desk, AJACCIO_ID) if e.kind == EventKind.REFUSED)
    assert (refused.by, refused.detail) == ("paolo.santoni", "convention signée sans délégation")
    assert "Dossier refusé par paolo.santoni" in page and "refus au déposant" in page


@pytest.fixture
def refusing_relay():
    """A relay on loopback that refuses Ajaccio's depositor for good."""
    relay = LoopbackRelay(Behaviour(rcpt_answers={email_of(AJACCIO): "550 5.1.1 Destinataire inconnu ici"}))
    yield relay
    relay.stop()


def test_a_notice_the_relay_refused_is_listed_with_the_relay_own_words(regions_taken, refusing_relay, tmp_path,
                                                                        resources):  # fmt: skip
    regions_taken.copied(tmp_path)
    config = load_config(write_config(tmp_path, refusing_relay), resources, env={})
    with site(tmp_path, watch=False, config=config) as relayed:
        page = logged_in(relayed, "paolo.santoni").post(f"/bureau/dossiers/{AJACCIO_ID}/renvoyer-avis", {})[1]
    [row] = [r for r in re.findall(r'<tr data-state="failed">.*?</tr>', page, re.S)]
    assert "avis au déposant" in row and "refusé par le relais" in row and "Destinataire inconnu ici" in row


# -- in a real browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def browser_login(browser, desk, name: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{desk.url}/bureau/connexion")
    browser.find_element(By.ID, "nom").send_keys(name)
    browser.find_element(By.ID, "mot_de_passe").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.connexion button").click()
    wait_for(browser, "table.dossiers")


@pytest.mark.slow
def test_in_a_browser_a_regional_account_lists_only_its_region(desk, browser):
    from selenium.webdriver.common.by import By

    browser_login(browser, desk, "marie.durand")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.dossier")
    assert rows and {r.get_attribute("data-region") for r in rows} == {"Bretagne"}
    shown = {r.find_element(By.CSS_SELECTOR, "a").text for r in rows}
    assert {RENNES_ID, BREST_ID} <= shown and AJACCIO_ID not in shown


@pytest.fixture(scope="module")
def scanned(desk, tesseract, renderer, resources, loaded_intake, tmp_path_factory):
    """Quimper's convention printed, signed in ink and scanned, with its annex and order: a dossier
    "à vérifier" in Bretagne, taken in once (OCR costs seconds a page)."""
    unsigned = b.convention_pdf(b.rendered(renderer, resources, QUIMPER, LOT2)["convention"], "none")
    page = scans.signature_zone(unsigned).page
    inked = scans.image_pdf(scans.scanned(unsigned, 300, "jpeg60", 5, pages=(0, page), mark="scribble"), 300)
    members = [("Convention.pdf", inked), ("Annexe.xlsx", b.rendered(renderer, resources, QUIMPER, LOT2)["annex"]),
               ("EJ.pdf", b.order_pdf(QUIMPER, Decimal("1000")))]  # fmt: skip
    path = tmp_path_factory.mktemp("scan") / "quimper.zip"
    path.write_bytes(b.zip_of(members))
    b.write_form(path, b.form(QUIMPER, email="achats@quimper.example"))
    report = take_in(path, context(loaded_intake, desk.workspace))
    assert report.review and report.dossiers[0].dossier_id == QUIMPER_ID
    return QUIMPER_ID


def region_mail(desk, box: str) -> list:
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default)
            for m in mailbox.Maildir(desk.workspace.outbox / box)]  # fmt: skip


@pytest.mark.slow
def test_in_a_browser_a_scanned_dossier_shows_its_signature_and_is_accepted(desk, browser, scanned):
    from selenium.webdriver.common.by import By

    browser_login(browser, desk, "marie.durand")
    browser.get(f"{desk.url}/bureau/dossiers/{scanned}")
    crop = wait_for(browser, "figure.signature img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", crop) > 0
    assert browser.find_element(By.CSS_SELECTOR, "h1 .etat").text == "à vérifier"
    browser.find_element(By.ID, "note").send_keys("signature manuscrite vérifiée sur le scan")
    browser.find_element(By.CSS_SELECTOR, "form.accepter button").click()
    said = wait_for(browser, "p.fait")
    assert "Dossier accepté par marie.durand" in said.text
    assert browser.find_element(By.CSS_SELECTOR, "h1 .etat").text == "accepté"
    accepted = next(e for e in events(desk, scanned) if e.kind == EventKind.ACCEPTED)
    assert (accepted.by, accepted.detail) == ("marie.durand", "signature manuscrite vérifiée sur le scan")
    whole = [m for m in region_mail(desk, BRETAGNE_BOX) if m["X-CSAC-Dossier-Id"] == scanned]
    assert whole and "accepté par marie.durand" in whole[0].get_body(("plain",)).get_content()
