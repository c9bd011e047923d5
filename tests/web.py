"""Shared helpers of the web desk's tests: a real server on loopback, a real headless Chromium.

`site(...)` starts the application on a free loopback port in a thread (uvicorn.Server), over a
workspace of its own, with the inbox watcher in another thread unless told not to: the pages then
go through the same watcher, intake and journal as production. `chromium()` drives Debian's
chromium through its chromedriver, and skips loudly, naming the packages, where they are absent.
Both are costly (a second or two each): build them once per module, in module-scoped fixtures.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.resources import Resources, Workspace
from pipeline.web.app import WebLimits, WebSettings, create_app
from testkit.visitor import Visitor, free_port, multipart  # noqa: F401 (the web tests' own names)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FRENCH_CHROMIUM = Path("/usr/lib/chromium/locales/fr.pak")  # Debian's chromium-l10n
SECRET = "clé-de-test-qui-signe-les-cookies-et-les-liens"


@dataclass(frozen=True)
class Site:
    url: str  # http://127.0.0.1:PORT
    settings: WebSettings
    workspace: Workspace


def settings_for(root: Path, limits: WebLimits | None = None, config: Config | None = None) -> WebSettings:
    """Settings over a workspace of its own under `root` (inbox/, outbox/, var/)."""
    workspace = Workspace(root / "inbox", root / "outbox", root / "var")
    config = replace(config or Config(), workspace=workspace)
    return WebSettings(config, SECRET, Resources.default(), limits=limits or WebLimits())


@contextlib.contextmanager
def _serving(app, port: int, proxies: str = "127.0.0.1") -> Iterator[None]:
    """`proxies`: the addresses whose X-Forwarded-For is believed, as `csac serve --forwarded-allow-ips`."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", proxy_headers=True,
        forwarded_allow_ips=proxies,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("le serveur web de test n'a pas démarré")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def _watching(settings: WebSettings, watch_settings) -> Iterator[None]:
    """The inbox watcher, as `csac serve` runs it, in a thread of the test process."""
    from pipeline.intake import IntakeContext
    from pipeline.watch import Watcher

    ws = settings.config.workspace
    ctx = IntakeContext.build(settings.resources, ws, config=settings.config)
    stop = threading.Event()
    thread = threading.Thread(
        target=Watcher(ctx, watch_settings).run, args=(stop,), name="veille", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)


@contextlib.contextmanager
def site(
    root: Path, limits: WebLimits | None = None, watch: bool = True, config: Config | None = None,
    proxies: str = "127.0.0.1", attempts: int = 3,
):  # fmt: skip
    """The application served on a free loopback port, its watcher beside it (quick to settle; a deposit
    it fails on set aside after `attempts` tries)."""
    from pipeline.watch import WatchSettings

    settings = settings_for(root, limits, config)
    port = free_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_serving(create_app(settings), port, proxies))
        if watch:
            quick = WatchSettings(settle=0.2, form_grace=0.2, tick=0.05, attempts=attempts)
            stack.enter_context(_watching(settings, quick))
        yield Site(f"http://127.0.0.1:{port}", settings, settings.config.workspace)


def wait_for_port(port: int, process) -> None:
    """Once `csac serve` (the subprocess `process`) listens on `port`."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("csac serve n'a pas démarré") from None
            time.sleep(0.1)


def chromium():
    """A headless Chromium driven through Debian's chromedriver: skipped loudly where it is absent
    (failed in CI, where .ci/run installs it)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        why = f"BROWSER TESTS NOT RUN: {', '.join(missing)} absent — apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(why + " (.ci/run should have installed them)")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--window-size=1200,1600", "--lang=fr-FR"):  # fmt: skip
        options.add_argument(argument)
    # LANGUAGE=fr: Chromium's own words (the file button) in French, with Debian's chromium-l10n; the
    # --lang flag alone leaves them English
    service = Service(str(CHROMEDRIVER), env={**os.environ, "LANGUAGE": "fr"})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    return driver


def wait_for(driver, css: str, timeout: float = 30.0):
    """The first element matching `css`, once the page shows it (the verdict page refreshes itself)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def session(port: int) -> tuple[str, str]:
    """A session's cookie and its CSRF token, as a browser gets them from the form (for raw requests)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/depot")
    response = conn.getresponse()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode()).group(1)
    conn.close()
    return cookie, token


def verdict_page(visitor, address: str, url: str) -> str:
    """The verdict page once it has the verdict (it is looked at again every 0.1 s, 30 s at most)."""
    page = visitor.open(address.removeprefix(url))[1]
    for _ in range(300):
        if 'id="verdict"' in page:
            break
        time.sleep(0.1)
        page = visitor.open(address.removeprefix(url))[1]
    return page


def verdicts_at_once(url: str, uploads: list[tuple[dict, bytes, str]]) -> dict[int, str]:
    """Each (form, bytes, file name) sent by a visitor of its own, all at the same time: the verdict
    page each one reads, by its place in `uploads`."""
    pages: dict[int, str] = {}

    def one(i: int) -> None:
        visitor = Visitor(url)
        form, data, name = uploads[i]
        _, _, address = visitor.deposit(form, data, name)
        pages[i] = verdict_page(visitor, address, url)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(uploads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return pages
