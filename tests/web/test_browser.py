"""The dashboard in a real browser: headless Chromium driven by Selenium, against
uvicorn on 127.0.0.1 serving a database filled by replaying seeds/.

Chromium and its driver are Debian's (`chromium`, `chromium-driver`), installed
by `make test` before the tests run (as root with apt-get; otherwise it prints
the command). Without them this test skips, saying what to install, and under
CI (`CI=true`) it fails: CI must not pass by not testing. Nothing is downloaded
by Selenium itself: both paths are given. Screenshots land in test-artifacts/
(git-ignored) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT, under_ci
from tests.web.conftest import EVIL_FEED_TITLE, EVIL_ITEM_TITLE, TOKEN, DashboardDb, LiveServer

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ARTIFACTS = ROOT / "test-artifacts"
PACKAGES = ("chromium", "chromium-driver")
# Without the background-networking flags Chromium phones home, and on a closed
# network those connections are refused and slow everything down.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1500",
)


def _find() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def _missing(what: str) -> None:
    if under_ci():
        pytest.fail(f"CI must run the browser test, but {what} (`make test` installs what is missing as root)")
    pytest.skip(f"browser test skipped: {what}")


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    browser, driver = _find()
    if not (browser and driver):
        missing = [p for p, found in zip(PACKAGES, (browser, driver), strict=True) if not found]
        _missing(f"Debian's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed "
                 f"(sudo apt-get install {' '.join(missing)})")
    assert browser and driver
    return browser, driver


@pytest.fixture(scope="session")
def browser(chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    try:
        from selenium import webdriver
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromium[1]), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def assert_no_script_ran(driver: WebDriver) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - raises when no dialog is open
    assert driver.find_elements(By.TAG_NAME, "script") == []
    assert driver.find_elements(By.CSS_SELECTOR, "img[onerror]") == []


def listed_ids(driver: WebDriver) -> list[int]:
    from selenium.webdriver.common.by import By

    return [int(li.get_attribute("data-item-id") or 0) for li in driver.find_elements(By.CSS_SELECTOR, "li.match")]


def test_the_dashboard_in_a_browser(browser: WebDriver, served: tuple[LiveServer, DashboardDb],
                                    request: pytest.FixtureRequest) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    server, db = served
    backend = request.node.callspec.id
    ARTIFACTS.mkdir(exist_ok=True)

    # The matches page: both seeds, with their hits highlighted.
    driver.get(server.url + "/")
    assert_no_script_ran(driver)
    listed = listed_ids(driver)
    assert db.seed_000 in listed and db.seed_004 in listed
    expected = {
        db.seed_000: {"Office of the United Nations High Commissioner for Human Rights", "OHCHR"},
        db.seed_004: {"High Commissioner for Human Rights", "Volker Türk", "Universal Periodic Review"},
    }
    for item, words in expected.items():
        marked = driver.find_elements(By.CSS_SELECTOR, f'li.match[data-item-id="{item}"] mark')
        assert words <= {m.text for m in marked}
        assert all(m.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)" for m in marked)
    evil_title = driver.find_element(By.CSS_SELECTOR, f'li.match[data-item-id="{db.evil}"] h2')
    assert evil_title.text == EVIL_ITEM_TITLE  # feed markup is shown as the text it is
    assert driver.find_element(By.CSS_SELECTOR, "figure.chart svg").is_displayed()
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-matches-{backend}.png"))

    # The rule filter: upr is only in seed 004.
    Select(driver.find_element(By.ID, "filter-rule")).select_by_value("upr")
    driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "rule=upr" in d.current_url)
    listed = listed_ids(driver)
    assert listed == [db.seed_004]
    assert Select(driver.find_element(By.ID, "filter-rule")).first_selected_option.text == "upr"

    # The feeds page: the failing feed shows as failing, the hostile title as text.
    driver.find_element(By.LINK_TEXT, "Feeds").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/feeds"))
    assert_no_script_ran(driver)
    row = driver.find_element(By.CSS_SELECTOR, f'tr.feed[data-feed-id="{db.broken_feed}"]')
    badge = row.find_element(By.CSS_SELECTOR, ".health")
    assert badge.text == "failing" and "3 errors in a row" in row.text
    assert badge.value_of_css_property("background-color") == "rgba(192, 38, 45, 1)"
    evil_row = driver.find_element(By.CSS_SELECTOR, f'tr.feed[data-feed-id="{db.evil_feed}"]')
    assert EVIL_FEED_TITLE in evil_row.text
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-feeds-{backend}.png"))

    # One match, marked not relevant through the form with the token.
    driver.get(f"{server.url}/matches/{db.evil}")
    assert_no_script_ran(driver)
    assert driver.find_element(By.TAG_NAME, "h1").text == EVIL_ITEM_TITLE
    driver.find_element(By.NAME, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "section.mark button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "marked=" in d.current_url)
    assert "1 pending alert suppressed" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-match-{backend}.png"))
    assert Path(ARTIFACTS / f"dashboard-matches-{backend}.png").stat().st_size > 10_000
