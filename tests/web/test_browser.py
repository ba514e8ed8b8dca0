"""A real browser (Debian's headless chromium through chromium-driver) reads the web view.

It loads ``/``, opens an article, switches the compared versions with the form (no JavaScript
on the page), and checks that insertions and deletions are visible; an injected headline
(``<script>``, ``<img onerror>``) must stay inert text.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from monitor.web.app import create_app
from monitor.web.db import open_readonly
from tests.web.conftest import HOSTILE_TITLE, Filled

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(filled: Filled) -> Iterator[str]:
    port = free_port()
    web = open_readonly(filled.settings)
    config = uvicorn.Config(
        create_app(filled.settings, web), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    web.engine.dispose()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless chromium needs Debian's chromium and chromium-driver packages")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = Path(tmp_path_factory.mktemp("chromium-profile"))
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_reader_opens_an_article_switches_versions_and_sees_the_changes(
    browser: object, base_url: str, filled: Filled
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    # A click returns before the page it opens has loaded: wait for the new URL (generous,
    # for a loaded machine), not for a time.
    navigated = WebDriverWait(browser, 60).until
    browser.get(f"{base_url}/")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.change")
    assert len(rows) == 6
    browser.find_element(
        By.LINK_TEXT, "Rejected asylum-seekers earmarked for deportation halved in two years"
    ).click()
    navigated(lambda b: b.current_url == f"{base_url}/articles/{filled.rejected}")

    deleted = browser.find_element(By.CSS_SELECTOR, ".field-body .inline del")
    inserted = browser.find_element(By.CSS_SELECTOR, ".field-body .inline ins")
    assert (deleted.text, inserted.text) == ("550", "548")
    assert deleted.is_displayed() and inserted.is_displayed()
    assert "line-through" in deleted.value_of_css_property("text-decoration")
    assert inserted.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "")

    Select(browser.find_element(By.ID, "from-version")).select_by_value("2")
    Select(browser.find_element(By.ID, "to-version")).select_by_value("1")
    browser.find_element(By.CSS_SELECTOR, "input[name=view][value=side]").click()
    browser.find_element(By.ID, "compare-button").click()
    navigated(lambda b: "from=2" in b.current_url and "view=side" in b.current_url)
    old = browser.find_element(By.CSS_SELECTOR, ".field-body .side-by-side .old del")
    new = browser.find_element(By.CSS_SELECTOR, ".field-body .side-by-side .new ins")
    assert (old.text, new.text) == ("548", "550")
    assert old.is_displayed() and new.is_displayed()
    headline_del = browser.find_element(By.CSS_SELECTOR, ".field-headline .old del")
    assert headline_del.text == "Rejected"


def test_an_injected_headline_stays_inert_text_in_the_browser(
    browser: object, base_url: str, filled: Filled
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    for path in ("/", f"/articles/{filled.hostile}", f"/articles/{filled.hostile}?view=side"):
        browser.get(f"{base_url}{path}")
        with pytest.raises(NoAlertPresentException):
            _ = browser.switch_to.alert.text
        assert browser.find_elements(By.TAG_NAME, "script") == []
        assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.find_element(By.CSS_SELECTOR, "h1.headline").text == (HOSTILE_TITLE + " reopens")
    inserted = browser.find_elements(By.CSS_SELECTOR, ".field-body .new ins")
    assert any("onerror" in i.text for i in inserted)
