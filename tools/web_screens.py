"""docs/depot-*.png: the deposit page as a depositor sees it, taken in headless Chromium.

A real site on loopback with its watcher, the demo's signatory (examples/beneficiaire.yaml), a
deposit without its order: the form, the verdict that lists what is missing, and the form the
link "Envoyer la pièce manquante" opens. Needs chromium and chromium-driver, and chromium-l10n
for the file button in French (tests/web.py runs Chromium with LANGUAGE=fr).

    .venv/bin/python tools/web_screens.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import sample  # noqa: E402
from pipeline.render import Renderer  # noqa: E402
from pipeline.request import parse_request, read_data_file  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402
from tests import web  # noqa: E402

VARIANT = "2021-045-lot2"


def deposit_without_order(resources: Resources, folder: Path) -> tuple[Path, dict]:
    """The demo signatory's signed convention and annex, zipped without the order; its form."""
    variants = [load_variants(resources)[VARIANT]]
    renderer = Renderer.build(resources, variants)
    request = parse_request(
        read_data_file(ROOT / "examples" / "beneficiaire.yaml"), "demo", renderer.regions,
        resources.schema("beneficiary"), variants,
    )  # fmt: skip
    zip_path, form_path = sample.write_deposit(
        renderer, request, variants[0], folder / "depot.zip", "achats@demo.fr"
    )
    with zipfile.ZipFile(zip_path) as whole:
        members = [(i.filename, whole.read(i)) for i in whole.infolist() if "/EJ " not in i.filename]
    partial = folder / "depot-sans-ej.zip"
    partial.write_bytes(sample.zip_of(members))
    return partial, json.loads(form_path.read_text(encoding="utf-8"))


def shoot(driver, path: Path) -> None:
    import time

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1100, max(700, height + 140))  # the window's frame takes some of it
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    print(path)


def main() -> None:
    from selenium.webdriver.common.by import By

    resources = Resources.default()
    with tempfile.TemporaryDirectory(prefix="csac-ecrans-") as scratch:
        folder = Path(scratch)
        zip_path, form = deposit_without_order(resources, folder)
        with web.site(folder / "site") as site:
            driver = web.chromium()
            try:
                driver.get(site.url + "/depot")
                for name, value in form.items():
                    if driver.find_elements(By.ID, name):
                        driver.find_element(By.ID, name).send_keys(value)
                driver.find_element(By.ID, "fichier").send_keys(str(zip_path))
                shoot(driver, ROOT / "docs" / "depot-formulaire.png")
                driver.find_element(By.CSS_SELECTOR, "form.depot button[type=submit]").click()
                web.wait_for(driver, "#verdict h1", 120)
                shoot(driver, ROOT / "docs" / "depot-incomplet.png")
                driver.find_element(By.CSS_SELECTOR, "a.envoyer").click()
                web.wait_for(driver, "form.depot")
                shoot(driver, ROOT / "docs" / "depot-piece-manquante.png")
            finally:
                driver.quit()


if __name__ == "__main__":
    main()
