"""The rules page over a database filled by replaying the seeds: every rule with
what it does, its matches per day and its noise (fed by "not relevant" marks,
which can be undone); the try-it form, bounded; and the page in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from monitor.rules import load_rules
from monitor.states import AlertState
from monitor.store.models import Alert
from monitor.web.dashboard import create_app
from monitor.web.rules import MAX_SNIPPET_CHARS
from monitor.web.settings import WebSettings
from tests.conftest import RULES
from tests.web.conftest import TOKEN, DashboardDb, FakeProbe, LiveServer
from tests.web.test_browser import browser, chromium  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

TRY = '[[rule]]\nid = "belarus"\ndescription = "Belarus"\nany = ["Belarus"]\n'


def _serve(db: DashboardDb, settings: WebSettings) -> LiveServer:
    ruleset = load_rules([RULES])
    return LiveServer(create_app(db.engine, settings, health=FakeProbe(), rules=lambda: ruleset), settings)


@pytest.fixture
def rules_served(dashboard_db: DashboardDb, token_env: WebSettings) -> Iterator[tuple[LiveServer, DashboardDb]]:
    with _serve(dashboard_db, token_env) as server:
        yield server, dashboard_db


def _section(page: str, rule: str) -> str:
    return page.split(f'data-rule="{rule}"', 1)[1].split("</section>", 1)[0]


def test_every_rule_with_its_terms_matches_and_noise(rules_served: tuple[LiveServer, DashboardDb]) -> None:
    server, db = rules_served
    ruleset = load_rules([RULES])
    with server.client() as client:
        page = client.get("/rules").text
        for rule in ruleset:
            section = _section(page, rule.id)
            assert rule.description.replace("&", "&amp;") in section
            assert f"<code>{rule.any_terms[0]}</code>" in section
        ohchr = _section(page, "ohchr")
        assert re.search(r'class="matches-count">[1-9]\d* in 30 days', ohchr)
        assert "0 of" in ohchr.split('class="noise">')[1] and "marked not relevant" in ohchr
        assert f'href="/matches/{db.seed_004}"' in ohchr  # among its latest hits
        assert page.count('class="day-hit"') >= 3  # the day's bar of every rule that matched today

        marked = client.post(f"/matches/{db.seed_004}/not-relevant", data={"token": TOKEN})
        assert marked.status_code == 303
        noise = _section(client.get("/rules").text, "ohchr").split('class="noise">')[1].split("</dd>")[0]
        assert "1 of" in noise and "%" in noise and not noise.startswith("0 %")


def test_undo_not_relevant_restores_the_label_and_the_alerts(rules_served: tuple[LiveServer, DashboardDb]) -> None:
    server, db = rules_served
    with db.engine.connect() as conn:
        pending = conn.execute(select(Alert.id).where(Alert.item_id == db.evil, Alert.state == "pending")).all()
    assert pending  # the alert still waiting for delivery
    with server.client() as client:
        assert client.post(f"/matches/{db.evil}/not-relevant", data={"token": TOKEN}).status_code == 303
        assert "Undo: it is relevant" in client.get(f"/matches/{db.evil}").text
        assert client.post(f"/matches/{db.evil}/relevant", data={"token": "wrong"}).status_code == 403
        undone = client.post(f"/matches/{db.evil}/relevant", data={"token": TOKEN})
        assert undone.status_code == 303 and undone.headers["location"] == f"/matches/{db.evil}?unmarked=1"
        page = client.get(undone.headers["location"]).text
        assert "is undone" in page and "1 suppressed alert queued again" in page
        assert "marked this not relevant" not in page
        again = client.post(f"/matches/{db.evil}/relevant", data={"token": TOKEN},
                            headers={"Accept": "application/json"})
        assert again.json() == {"story_id": db.evil, "unlabelled": 0, "requeued": 0}  # nothing more to undo
    with db.engine.connect() as conn:
        states = dict(conn.execute(select(Alert.channel, Alert.state).where(Alert.item_id == db.evil)).all())
    assert states == {"analysts": AlertState.PENDING, "ops-hook": AlertState.SENT}  # sent stays sent


def test_try_it_shows_what_a_rule_would_match(rules_served: tuple[LiveServer, DashboardDb]) -> None:
    server, db = rules_served
    with server.client() as client:
        answer = client.post("/rules/try", data={"rule": TRY, "days": "7"})
        assert answer.status_code == 200
        tried = answer.text.split('class="tried"', 1)[1]
        assert re.search(r"belarus: [1-9]\d* of \d+ stories of the last 7 days match", tried)
        assert f'href="/matches/{db.seed_004}"' in tried and '<mark class="hit" data-rules="belarus"' in tried
        assert "stopped after" not in tried

        bad = client.post("/rules/try", data={"rule": TRY.replace('any = ["Belarus"]', "any = 3"), "days": "7"})
        assert bad.status_code == 400 and "try-it: rule &#39;belarus&#39;: key &#39;any&#39;" in bad.text
        two = client.post("/rules/try", data={"rule": TRY + TRY.replace("belarus", "other"), "days": "7"})
        assert two.status_code == 400 and "exactly one [[rule]]" in two.text
        days = client.post("/rules/try", data={"rule": TRY, "days": "400"})
        assert days.status_code == 400 and "from 1 to 30" in days.text


def test_try_it_refuses_oversized_input_and_stops_slow_runs(dashboard_db: DashboardDb) -> None:
    big = TRY.replace('any = ["Belarus"]', "any = [" + ", ".join(f'"term{n:05d}"' for n in range(600)) + "]")
    assert len(big) > MAX_SNIPPET_CHARS
    with _serve(dashboard_db, WebSettings(port=0)) as server, server.client() as client:
        refused = client.post("/rules/try", data={"rule": big, "days": "7"})
        assert refused.status_code == 413
        assert f"characters long; the try-it form takes at most {MAX_SNIPPET_CHARS:,}" in refused.text
    with _serve(dashboard_db, WebSettings(port=0, try_deadline_s=1e-9)) as server, server.client() as client:
        slow = client.post("/rules/try", data={"rule": TRY, "days": "7"})
        assert slow.status_code == 200
        assert "stopped after 0 items: the 1e-09 s limit was reached, so this result is partial" in slow.text
    with _serve(dashboard_db, WebSettings(port=0, try_max_items=2)) as server, server.client() as client:
        capped = client.post("/rules/try", data={"rule": TRY, "days": "7"})
        assert "stopped after 2 items (the limit of a try)" in capped.text
        assert client.get("/healthz").status_code in (200, 503)  # the server answers on


def test_the_rules_page_in_a_browser(browser: WebDriver, rules_served: tuple[LiveServer, DashboardDb]) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, db = rules_served
    driver = browser
    driver.get(f"{server.url}/")
    driver.find_element(By.LINK_TEXT, "Rules").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/rules"))
    rules = [s.get_attribute("data-rule") for s in driver.find_elements(By.CSS_SELECTOR, "section.rule")]
    assert rules == list(load_rules([RULES]).ids)
    ohchr = driver.find_element(By.ID, "rule-ohchr")
    assert ohchr.find_element(By.CSS_SELECTOR, "svg.per-day").is_displayed()
    assert ohchr.find_elements(By.CSS_SELECTOR, "rect.day-hit")
    assert ohchr.find_element(By.CSS_SELECTOR, "dd.noise").text.startswith("0 %")

    box = driver.find_element(By.CSS_SELECTOR, "section.try textarea")
    box.clear()
    box.send_keys(TRY)
    driver.find_element(By.CSS_SELECTOR, "section.try button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".tried .summary"))
    assert "belarus:" in driver.find_element(By.CSS_SELECTOR, ".tried .summary").text
    links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, ".tried-items a")]
    assert f"{server.url}/matches/{db.seed_004}" in links
    assert driver.find_elements(By.CSS_SELECTOR, ".tried-items mark.hit")
    assert driver.find_element(By.CSS_SELECTOR, "section.try textarea").get_attribute("value").strip() == TRY.strip()
    driver.save_screenshot(str(_artifacts() / "rules.png"))


def _artifacts():  # type: ignore[no-untyped-def]
    from tests.web.test_browser import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
