"""The regional desk attacked, by an insider of another region and by an outsider: each rule here held for
a class of hostile requests (ids spelled many ways, query strings, forms, bodies, names), over one site
on loopback with real deposits in Bretagne, Corse and Hauts-de-France (tests/desk_builds.py).
"""

from __future__ import annotations

import html
import re
import threading
import urllib.parse

import pytest

from pipeline.dossiers import DossierBook, EventKind
from pipeline.web.app import WebLimits
from tests import test_web_desk as base
from tests.desk_builds import AGGLO_ID, AJACCIO_ID, BREST_ID, RENNES_ID
from tests.test_web_desk import PASSWORD, Clerk, events, logged_in, rows
from tests.web import site

pytestmark = [pytest.mark.xdist_group("desk"), pytest.mark.slow]  # hostile: make test runs them
regions_taken, desk, bretagne = base.regions_taken, base.desk, base.bretagne  # this module's own site
ENGLISH = re.compile(
    r"Traceback|Bad Request|Internal Server Error|Not Found|Missing boundary|Exception|Error\b"
)


def all_events(desk) -> list:
    return [e for d in (RENNES_ID, BREST_ID, AJACCIO_ID, AGGLO_ID) for e in events(desk, d)]


# -- a region sees its own dossiers only, however the request spells them --------------------------------


def spellings(dossier_id: str) -> list[str]:
    """Another region's dossier id, written the ways a hostile URL might."""
    quoted = urllib.parse.quote(dossier_id, safe="")
    return [
        dossier_id.upper(), dossier_id.lower(), dossier_id + "/", quoted.replace("-", "%2D"),
        f"{RENNES_ID}/..%2F{dossier_id}", f"..%2F{dossier_id}", f"{dossier_id}%00", f"{dossier_id}%20",
        f"%20{dossier_id}", f"{dossier_id}'%20OR%201=1%20--", f"{dossier_id}%25", dossier_id[:-1] + "_",
        dossier_id + "x" * 5000, f"{dossier_id};", f"{dossier_id}%0a",
    ]  # fmt: skip


@pytest.mark.parametrize("dossier_id", [AJACCIO_ID, AGGLO_ID])
def test_another_region_dossier_spelled_any_way_is_never_shown(desk, bretagne, dossier_id):
    for spelled in spellings(dossier_id):
        for suffix in ("", "/documents/1", "/documents/1/apercu", "/documents/1/signature.png"):
            status, page, _ = bretagne.open(f"/bureau/dossiers/{spelled}{suffix}")
            assert status == 404 and "Ajaccio" not in page and "Béthune" not in page, (spelled, suffix)


def test_no_button_acts_on_another_region_dossier_spelled_any_way(desk, bretagne):
    before = all_events(desk)
    for spelled in spellings(AJACCIO_ID):
        for act, fields in (
            ("accepter", {"note": "vu"}),
            ("refuser", {"motif": "non"}),
            ("renvoyer-avis", {}),
        ):
            status = bretagne.post(f"/bureau/dossiers/{spelled}/{act}", fields)[0]
            assert status in (404, 405), (spelled, act, status)
    assert all_events(desk) == before


LIST_QUERIES = [
    "q=%25", "q=_", "q=%25%25", "q=' OR 1=1 --", "q=%22 OR %22%22=%22", "q=Ajaccio", "q=Corse",
    "q=\\", "q=*", f"q={AJACCIO_ID}", "q=2020", "region=Corse", "region=", "scope=all", "siege=1",
    "etat=incomplet&region=Corse", "convention=%25", "convention=' OR 1=1 --", "page=2", "page=999999",
    "page=-1", "page=0x10", "anciennete=1", "anciennete=-5", "anciennete=%25", "tri=region", "q=%00",
]  # fmt: skip


def test_no_search_filter_or_paging_shows_another_region_rows_or_counts(desk, bretagne):
    own = rows(bretagne.open("/bureau")[1])
    assert own
    for query in LIST_QUERIES:
        status, page, _ = bretagne.open("/bureau?" + query.replace(" ", "%20"))
        shown = rows(page)
        assert status == 200 and not ENGLISH.search(page), query
        assert all('data-region="Bretagne"' in r for r in shown), query
        assert not any("Ajaccio" in r or "Béthune" in r for r in shown), query
        total = int(re.search(r'class="compte-rendu">(\d+) dossier', page).group(1))
        assert total <= len(own), query


@pytest.mark.parametrize("number", ["²", "①", "٣", "৩", "1²", "٠"])
def test_a_page_or_an_age_written_in_unicode_digits_is_said_not_a_server_error(desk, bretagne, number):
    for field in ("page", "anciennete"):
        status, page, _ = bretagne.open(f"/bureau?{field}={urllib.parse.quote(number)}")
        assert status == 200 and not ENGLISH.search(page), (field, number)


# -- forms an outsider can send: French answers, bounded reading ---------------------------------------------


def cookie_of(clerk: Clerk) -> str:
    import urllib.request

    [jar] = [h.cookiejar for h in clerk.opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)]
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def raw_post(desk, clerk: Clerk, path: str, body: bytes, kind: str) -> tuple[int, str]:
    return clerk.open(path, body, {"Content-Type": kind})[:2]


BROKEN_FORMS = [
    (b"nom=a", "multipart/form-data"),  # no boundary
    (b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x"),  # no name
    (b"garbage", "multipart/form-data; boundary=x"),
    (b"%ff%fe=%ff", "application/x-www-form-urlencoded"),
    (b"a=" + b"&a=".join([b"1"] * 2000), "application/x-www-form-urlencoded"),  # more fields than allowed
]  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/bureau/connexion", "/bureau/deconnexion", f"/bureau/dossiers/{RENNES_ID}/refuser"]
)
def test_a_broken_form_is_answered_in_french_and_changes_nothing(desk, bretagne, path):
    before = all_events(desk)
    for body, kind in BROKEN_FORMS:
        status, page = raw_post(desk, bretagne, path, body, kind)
        assert status in (400, 403, 413) and not ENGLISH.search(page), (path, kind, status, page[-400:])
    assert all_events(desk) == before


@pytest.mark.parametrize("path", ["/bureau/connexion", f"/bureau/dossiers/{RENNES_ID}/refuser"])
def test_a_form_announced_too_long_is_refused_before_it_is_read(desk, bretagne, path):
    """Starlette reads an urlencoded body whole: a desk form is read only when it says it is small."""
    import http.client

    before = all_events(desk)
    host, port = desk.url.removeprefix("http://").split(":")
    for length in (64 * 1024 + 1, 10**9, 10**18):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(length))
        conn.putheader("Cookie", cookie_of(bretagne))
        conn.endheaders()
        conn.send(b"motif=" + b"x" * 1000)  # the rest never comes: the answer must not wait for it
        answer = conn.getresponse()
        page = answer.read().decode()
        conn.close()
        assert answer.status == 413 and "trop long" in page, (path, length, answer.status)
    assert all_events(desk) == before


# -- actions: bounded, on one line, journalled once with the account's name ---------------------------------


@pytest.mark.parametrize("act, field", [("refuser", "motif"), ("accepter", "note")])
def test_a_note_or_reason_too_long_to_keep_whole_is_sent_back_not_cut(desk, bretagne, act, field):
    before = events(desk, BREST_ID)
    for text in ("x" * 2001, "é" * 5000, "🙂" * 2001, "mot " * 3000):
        page = html.unescape(bretagne.post(f"/bureau/dossiers/{BREST_ID}/{act}", {field: text})[1])
        assert "Rien n'a été fait" in page and "2000 au plus" in page, (act, len(text))
    assert events(desk, BREST_ID) == before
    assert 'maxlength="2000"' in bretagne.open(f"/bureau/dossiers/{BREST_ID}")[1]


def test_a_reason_with_control_characters_is_journalled_on_one_line_once_by_the_account(desk, bretagne):
    reason = "pièce\x00 illisible\r\nX-Faux: oui\x1b[31m\u202eelbisilli\u2028fin\t."
    bretagne.post(f"/bureau/dossiers/{RENNES_ID}/refuser", {"motif": reason})
    refused = [e for e in events(desk, RENNES_ID) if e.kind == EventKind.REFUSED]
    assert [e.by for e in refused] == ["marie.durand"]
    assert all(c.isprintable() for c in refused[0].detail) and "\u202e" not in refused[0].detail
    assert refused[0].detail.startswith("pièce illisible X-Faux: oui")


def at_once(clerk: Clerk, path: str, fields: dict[str, str], times: int = 4) -> list[int]:
    """The same button pressed in `times` tabs at once (each with the session's token)."""
    token = clerk.page_token("/bureau")
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(clerk.post(path, {"csrf_token": token} | fields,
                                                                    token=False)[0]))
        for _ in range(times)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def test_a_decision_made_in_several_tabs_at_once_is_journalled_once(desk, bretagne):
    for dossier_id, act, field, kind in ((BREST_ID, "accepter", "note", EventKind.ACCEPTED),
                                         (BREST_ID, "refuser", "motif", EventKind.REFUSED)):  # fmt: skip
        statuses = at_once(bretagne, f"/bureau/dossiers/{dossier_id}/{act}", {field: "vu dans un onglet"})
        assert statuses == [200] * 4
        made = [e for e in events(desk, dossier_id) if e.kind == kind]
        assert len(made) == 1 and made[0].by == "marie.durand", (act, made)
    page = bretagne.open(f"/bureau/dossiers/{BREST_ID}")[1]
    assert "refusé" in page


def shown_state(page: str) -> str:
    return re.search(r'name="vu" value="([^"]*)"', page).group(1)


def test_a_decision_from_a_page_shown_before_the_dossier_changed_does_nothing(desk, bretagne):
    """Two people on the same dossier: the one whose page is older than a colleague's decision reads the
    dossier again before deciding, whichever decision each of them makes."""
    colleague, path = logged_in(desk, "marie.durand"), f"/bureau/dossiers/{RENNES_ID}"
    for then, act, field in (("accepter", "refuser", "motif"), ("refuser", "accepter", "note"),
                             ("accepter", "accepter", "note"), ("refuser", "refuser", "motif")):  # fmt: skip
        stale = shown_state(bretagne.open(path)[1])
        said = colleague.post(f"{path}/{then}", {"motif": "vu par un collègue", "note": "vu"})[1]
        assert "par marie.durand" in said, then
        before = events(desk, RENNES_ID)
        page = html.unescape(bretagne.post(f"{path}/{act}", {field: "sur une page ancienne", "vu": stale})[1])
        assert "a changé depuis que vous l'avez ouvert" in page and "rien n'a été fait" in page, (act, then)
        assert events(desk, RENNES_ID) == before, (act, then)
    fresh = shown_state(bretagne.open(path)[1])
    assert "par marie.durand" in bretagne.post(f"{path}/accepter", {"note": "relu", "vu": fresh})[1]


# -- logging in: one budget per account, however its name is spelled -----------------------------------------


def test_login_attempts_are_limited_per_account_however_the_name_is_spelled_and_from_any_address(tmp_path):
    """Each attempt from another address (X-Forwarded-For, believed from the loopback proxy) and with the
    name spelled another way: the account's own budget still ends the guessing."""
    from argon2 import PasswordHasher

    from pipeline.accounts import Accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    Accounts(tmp_path / "var" / "journal.sqlite", cheap).add("Émilie.Roux", "bretagne", PASSWORD)
    spellings = ["Émilie.Roux", "émilie.roux", "ÉMILIE.ROUX", " Émilie.Roux ", "E\u0301milie.Roux",
                 "Ｅ\u0301ｍｉｌｉｅ.ｒｏｕｘ", "émilie.rou\u200bx"]  # fmt: skip
    with site(tmp_path, WebLimits(logins_per_minute=3), watch=False) as small:
        statuses = []
        for number, name in enumerate(spellings):
            clerk = Clerk(small.url)
            token = clerk.page_token("/bureau/connexion")
            body = urllib.parse.urlencode(
                {"csrf_token": token, "nom": name, "mot_de_passe": "devine"}
            ).encode()
            statuses.append(
                clerk.open("/bureau/connexion", body, {"X-Forwarded-For": f"203.0.113.{number}"})[0]
            )
        last = Clerk(small.url)
        right = last.login("émilie.roux")
    assert statuses == [401, 401, 401, 429, 429, 429, 429]
    assert right[0] == 429  # even the right password waits its minute


# -- what a depositor wrote, shown to the desk: escaped, and downloads never rendered ----------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
HOSTILE_NAMES = [
    f'Convention "signée"\r\nX-Faux: 1 {XSS}.pdf', "Annexe'; DROP TABLE accounts; --.xlsx",
    "Bon de commande — été ünïcödé ✓.pdf", "page.pdf",
]  # fmt: skip


@pytest.fixture(scope="module")
def hostile(desk, renderer, resources, loaded_intake, tmp_path_factory):
    """A Bretagne depositor whose every field and file name is hostile; `page.pdf` is HTML, not a PDF."""
    from decimal import Decimal

    from pipeline.intake import take_in
    from tests import builders as b
    from tests.desk_builds import LOT2, context

    who = b.Entity(
        f"Mairie {XSS}", b.make_siret(2903), "commune", 15000, "1 rue du Port", "29100", "DOUARNENEZ"
    )
    docs = b.rendered(renderer, resources, who, LOT2)
    members = [(HOSTILE_NAMES[0], b.convention_pdf(docs["convention"])), (HOSTILE_NAMES[1], docs["annex"]),
               (HOSTILE_NAMES[2], b.order_pdf(who, Decimal("250"))),
               (HOSTILE_NAMES[3], f"<html><body>%PDF-1.4 {XSS}</body></html>".encode())]  # fmt: skip
    path = tmp_path_factory.mktemp("hostile") / "douarnenez.zip"
    path.write_bytes(b.zip_of(members))
    b.write_form(path, b.form(who, email=f'"{XSS}"@douarnenez.example', message=f"Bonjour {XSS}\r\nfin"))
    report = take_in(path, context(loaded_intake, desk.workspace))
    return report.dossiers[0].dossier_id


def test_no_value_a_depositor_wrote_is_taken_as_html_by_the_desk(desk, bretagne, hostile):
    for path in ("/bureau", f"/bureau?q={urllib.parse.quote('<script>')}", f"/bureau/dossiers/{hostile}"):
        page = bretagne.open(path)[1]
        assert "<script>alert" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;" in bretagne.open(f"/bureau/dossiers/{hostile}")[1]


def test_every_download_is_named_safely_in_its_header_and_html_is_never_rendered(desk, bretagne, hostile):
    held = DossierBook(desk.workspace.journal).documents(hostile, current=False)
    assert len(held) == 3  # the HTML named page.pdf is not one of the dossier's documents
    for h in held:
        for suffix in ("", "/apercu"):
            with bretagne.opener.open(
                f"{desk.url}/bureau/dossiers/{hostile}/documents/{h.seq}{suffix}"
            ) as answer:
                kind, named, body = (
                    answer.headers["Content-Type"],
                    answer.headers["Content-Disposition"],
                    answer.read(),
                )
            assert "\r" not in named and "\n" not in named and named.isascii(), named
            assert urllib.parse.unquote(named.split("filename*=UTF-8''")[1]) == h.name
            if kind == "application/pdf":
                assert body.startswith(b"%PDF") and h.name.lower().endswith(".pdf")
            else:
                assert kind == "application/octet-stream" and named.startswith("attachment;"), (h.name, kind)


# -- sessions, tokens and redirections ------------------------------------------------------------------------


def test_no_get_changes_anything_even_with_a_button_fields(desk, bretagne):
    before = all_events(desk)
    for act in ("accepter", "refuser", "renvoyer-avis", "../deconnexion"):
        query = urllib.parse.urlencode(
            {"csrf_token": bretagne.page_token("/bureau"), "note": "vu", "motif": "non"}
        )
        status = bretagne.open(f"/bureau/dossiers/{BREST_ID}/{act}?{query}")[0]
        assert status in (404, 405), act
    assert all_events(desk) == before
    assert bretagne.open("/bureau")[2].endswith("/bureau")  # still logged in


def test_a_token_in_the_query_string_is_no_token(desk, bretagne):
    before = all_events(desk)
    token = urllib.parse.quote(bretagne.page_token("/bureau"))
    for act, fields in (("accepter", {"note": "vu"}), ("refuser", {"motif": "non"}), ("renvoyer-avis", {})):
        status = bretagne.post(f"/bureau/dossiers/{BREST_ID}/{act}?csrf_token={token}", fields, token=False)[
            0
        ]
        assert status == 403, act
    assert all_events(desk) == before


def forged_cookies(real: str) -> list[str]:
    """The session cookie altered: a byte flipped, its signature dropped, another key's, a session that
    claims the head office's account."""
    import base64
    import json

    import itsdangerous

    claim = base64.b64encode(json.dumps({"account": "direction", "csrf": "x"}).encode())
    return [
        real[:-3] + ("A" if real[-3] != "A" else "B") + real[-2:], real.split(".")[0], claim.decode(),
        itsdangerous.TimestampSigner("une autre clé").sign(claim).decode(), real + "x", "",
    ]  # fmt: skip


def test_a_tampered_session_cookie_is_no_session(desk, bretagne):
    real = next(c for c in cookie_of(bretagne).split("; ") if c.startswith("csac_session=")).split("=", 1)[1]
    for forged in forged_cookies(real):
        clerk = Clerk(desk.url)
        status, page, where = clerk.open("/bureau", headers={"Cookie": f"csac_session={forged}"})
        assert where.endswith("/bureau/connexion") and "Ajaccio" not in page, forged


@pytest.mark.parametrize("target", ["https://ailleurs.example/", "//ailleurs.example", "/\\ailleurs.example",
                                    "javascript:alert(1)"])  # fmt: skip
def test_login_goes_to_the_desk_whatever_next_says(desk, target):
    clerk = Clerk(desk.url)
    token = clerk.page_token("/bureau/connexion")
    for path in (f"/bureau/connexion?next={urllib.parse.quote(target)}",):
        body = urllib.parse.urlencode({"csrf_token": token, "nom": "marie.durand", "mot_de_passe": PASSWORD,
                                       "next": target}).encode()  # fmt: skip
        status, _, where = clerk.open(path, body)
        assert (status, where) == (200, f"{desk.url}/bureau"), target


def test_an_account_whose_region_left_the_regions_file_sees_nothing_and_does_nothing(desk):
    """Its region renamed or removed (an id the regions file no longer knows): no dossier, no action, in
    French; it is the head office's to give the account its new region."""
    import sqlite3
    from contextlib import closing

    from pipeline.accounts import Accounts

    Accounts(desk.workspace.journal, base.CHEAP).add("ancien.compte", "bretagne", PASSWORD)
    clerk = logged_in(desk, "ancien.compte")
    token = clerk.page_token("/bureau")
    with closing(sqlite3.connect(desk.workspace.journal)) as conn, conn:
        conn.execute("UPDATE accounts SET region = 'armorique' WHERE name = 'ancien.compte'")
    before = all_events(desk)
    for path in ("/bureau", f"/bureau/dossiers/{BREST_ID}", f"/bureau/dossiers/{BREST_ID}/documents/1"):
        status, page, _ = clerk.open(path)
        assert status == 403 and "région inconnue" in html.unescape(page) and "Brest" not in page, path
    refused = clerk.post(
        f"/bureau/dossiers/{BREST_ID}/refuser", {"csrf_token": token, "motif": "non"}, token=False
    )
    assert refused[0] == 403
    assert all_events(desk) == before


def test_a_button_sent_with_someone_else_name_is_journalled_with_the_account(desk, bretagne):
    fields = {"by": "direction", "compte": "direction", "account": "direction", "region": "siege", "par": "x"}
    bretagne.post(f"/bureau/dossiers/{BREST_ID}/renvoyer-avis", fields)
    last = events(desk, BREST_ID)[-1]
    assert (last.kind, last.by) == (EventKind.MESSAGE, "marie.durand")


@pytest.mark.parametrize("name", ['a"b.pdf', "a\\b.pdf", "a\r\nSet-Cookie: x=1.pdf", "é\udcff.pdf", "\udc80",
                                  "‮fdp.exe", "x" * 5000 + ".pdf", "", "a;b=c, d.pdf"])  # fmt: skip
def test_content_disposition_is_one_ascii_header_line_for_any_file_name(name):
    from pipeline.web.desk import _disposition

    header = _disposition("attachment", name)
    assert header.isascii() and header.isprintable() and header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert '"' not in fallback and "\\" not in fallback


@pytest.mark.parametrize("ended_by", ["logout", "logout elsewhere", "disabled"])
def test_a_cookie_copied_before_logout_or_disabling_is_out_and_its_buttons_do_nothing(desk, ended_by):
    """The session lives in a signed cookie; the account's session epoch, moved on at logout, takes every
    copy back: the thief's, and another browser's of the same account (logging out ends them all)."""
    from pipeline.accounts import Accounts

    name = f"interimaire-{ended_by.replace(' ', '-')}"
    Accounts(desk.workspace.journal, base.CHEAP).add(name, "bretagne", PASSWORD)
    clerk, elsewhere = logged_in(desk, name), logged_in(desk, name)
    token, copied = clerk.page_token("/bureau"), cookie_of(clerk)
    thief = Clerk(desk.url)
    assert thief.open("/bureau", headers={"Cookie": copied})[2].endswith("/bureau")  # the copy works, until…
    if ended_by == "disabled":
        Accounts(desk.workspace.journal).disable(name)
    else:
        (clerk if ended_by == "logout" else elsewhere).post("/bureau/deconnexion", {})
    before = all_events(desk)
    assert thief.open("/bureau", headers={"Cookie": copied})[2].endswith("/bureau/connexion")
    for act, fields in (("accepter", {"note": "vu"}), ("refuser", {"motif": "non"}), ("renvoyer-avis", {})):
        body = urllib.parse.urlencode({"csrf_token": token} | fields).encode()
        thief.open(f"/bureau/dossiers/{BREST_ID}/{act}", body, {"Cookie": copied})
    assert all_events(desk) == before
    assert elsewhere.open("/bureau")[2].endswith("/bureau/connexion")  # every session of the account ended
    if ended_by != "disabled":  # and a new login is in again
        assert logged_in(desk, name).open("/bureau")[2].endswith("/bureau")
