"""GraphiQL and the console in a real headless Chromium, with every request off 127.0.0.1 blocked.

Chromium is Debian's package (.ci/run installs it when missing); Playwright's
Python API drives it through executable_path, so no browser is downloaded.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from db.engine import Database
from gateway.app import create_app
from gateway.assets import missing
from gateway.settings import Settings
from schema.root import schema
from tests.factories import ADMIN_SECRET, ingest_product_events, product_events_mix

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
playwright_api = pytest.importorskip("playwright.async_api")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def gateway_url(db: Database, database_url: str, settings: Settings) -> Iterator[str]:
    """A real gateway on a free loopback port, in its own thread and event loop."""
    port = _free_port()
    app = create_app(Database(database_url, pool_size=2), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the gateway did not start within 20 s"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for the whole module."""
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


async def offline_page(browser: Any, storage: dict[str, str]) -> tuple[Any, list[str]]:
    """A fresh page whose requests off 127.0.0.1 are aborted (and listed), with
    localStorage preset."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    blocked: list[str] = []

    async def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_loopback)
    script = "".join(f"localStorage.setItem({k!r}, {v!r});" for k, v in storage.items())
    await context.add_init_script(script)
    return await context.new_page(), blocked


@pytest.mark.skipif(bool(missing()), reason="GraphiQL browser files not installed (make install)")
async def test_graphiql_runs_a_products_query_offline(
    browser, gateway_url, gql, now, tmp_path: Path
):
    await ingest_product_events(gql, product_events_mix(now, 20, productId="shop"), now)
    headers = f'{{"Authorization": "Bearer {ADMIN_SECRET}"}}'
    page, blocked = await offline_page(browser, {"gateway:graphiql-headers": headers})
    await page.goto(f"{gateway_url}/graphql", wait_until="networkidle")
    await page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    await playwright_api.expect(response).to_contain_text('"totalEvents": 20', timeout=15_000)
    await page.screenshot(path=tmp_path / "graphiql.png")
    assert blocked == []


async def test_console_lists_products_with_sparklines(
    browser, gateway_url, gql, now, tmp_path: Path
):
    rows = product_events_mix(now, 40, productId="shop", productName="Shop")
    rows += product_events_mix(now - timedelta(hours=1), 15, seed=9, productId="blog")
    await ingest_product_events(gql, rows, now)
    page, blocked = await offline_page(browser, {"gateway:token": ADMIN_SECRET})
    await page.goto(f"{gateway_url}/console", wait_until="networkidle")
    await playwright_api.expect(page.locator("#status")).to_contain_text("Updated")
    table = page.locator("#products tbody tr")
    await playwright_api.expect(table).to_have_count(2)
    await playwright_api.expect(table.nth(1)).to_contain_text("Shop (shop)40")
    lines = await page.locator("#products svg.sparkline path").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d'))"
    )
    assert len(lines) == 2
    assert all(d.count("L") >= 2 for d in lines), lines
    await page.screenshot(path=tmp_path / "console.png", full_page=True)
    assert blocked == []


DASHBOARD = """
mutation($input: DashboardInput!) { createDashboard(input: $input) { id } }
"""


def _serves_dashboards() -> bool:
    query = schema.get_type_by_name("Query")
    return query is not None and any(f.name == "dashboards" for f in query.fields)


@pytest.mark.skipif(
    not _serves_dashboards(), reason="the served schema has no dashboards yet (after merge)"
)
async def test_console_draws_each_dashboard_widget_as_its_chart(
    browser, gateway_url, gql, now, tmp_path: Path
):
    await ingest_product_events(gql, product_events_mix(now, 50, productId="shop"), now)
    product = '{ product(id: "shop") { %s } }'
    widgets = [
        {
            "title": "Events per hour",
            "query": product % "timeseries(granularity: HOUR) { bucket metrics { totalEvents } }",
            "visualization": {"type": "line"},
        },
        {
            "title": "Events by country",
            "query": product % "breakdown(by: COUNTRY) { value metrics { totalEvents } }",
            "visualization": {"type": "bar"},
        },
        {
            "title": "Events",
            "query": product % "overview { totalEvents }",
            "visualization": {"type": "tile"},
        },
    ]
    await gql(DASHBOARD, {"input": {"name": "Shop health", "widgets": widgets}})
    page, blocked = await offline_page(browser, {"gateway:token": ADMIN_SECRET})
    await page.goto(f"{gateway_url}/console", wait_until="networkidle")
    board = page.locator("#dashboard-list .widget")
    await playwright_api.expect(board).to_have_count(3)
    await playwright_api.expect(board.nth(0).locator("path.series")).to_have_count(1)
    assert await board.nth(1).locator("rect.bar").count() >= 2
    await playwright_api.expect(board.nth(2).locator(".tile")).to_have_text("50")
    await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
    assert blocked == []
