"""The README's pictures of the regional desk (docs/bureau-*.png), taken in headless Chromium.

Start the desk on the demo first (`make desk`, in another terminal), then:
    .venv/bin/python tools/desk_images.py [--url http://127.0.0.1:8000] [--user demo.hdf] [--password ...]
Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

DOCS = Path(__file__).resolve().parent.parent / "docs"


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--lang=fr-FR", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def shot(driver: webdriver.Chrome, name: str, height: int | None = None) -> None:
    """The page at its full height (or `height` pixels), written to docs/NAME. The PDFs' previews are
    folded: headless Chromium draws them as black boxes."""
    driver.execute_script("document.querySelectorAll('details.apercu').forEach(d => d.open = false)")
    driver.set_window_size(1280, 900)
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(height or full + 120, 2400))
    driver.save_screenshot(str(DOCS / name))
    print(DOCS / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="demo.hdf")
    parser.add_argument("--password", default="bureau-de-demonstration")
    args = parser.parse_args()
    driver = browser()
    try:
        driver.get(f"{args.url}/bureau/connexion")
        shot(driver, "bureau-connexion.png", 520)
        driver.find_element(By.ID, "nom").send_keys(args.user)
        driver.find_element(By.ID, "mot_de_passe").send_keys(args.password)
        driver.find_element(By.CSS_SELECTOR, "form.connexion button").click()
        shot(driver, "bureau-liste.png", 560)
        driver.find_element(By.CSS_SELECTOR, "tr.dossier a").click()
        shot(driver, "bureau-dossier.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
