"""The portal in headless Chromium: three real nodes, a demo broker and the portal on loopback.

A researcher signs in through the demo broker, builds "colorectal cancer, KRAS mutated" with the
OncoTree search and the gene field, sees three node counts and a total, and opens the survival view.
The numbers on the page must equal the Python API's (``Federation``) for the same cohort and the same
user's passport. Screenshots at 1280 and 1024 px wide go to the test's tmp dir.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from federation_nodes import NODES, Cluster, federation
from genofed.api import KaplanMeierAnalysis, SexDimension
from genofed.federation import CombinedKaplanMeier, CombinedWgsBenefit, Federation, parse_study
from genofed.query import CohortFilter
from genofed.web import PortalSettings, create_portal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
]

KRAS_CRC = CohortFilter(tumour_type="COADREAD", gene="KRAS")
GRID = tuple(round(k * 182.5, 2) for k in range(11))


class PortalServer:
    """The portal app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: PortalSettings) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(create_portal(settings), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> PortalServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    cluster = federation(tmp_path_factory.mktemp("web-browser"), patients=200).start()
    try:
        settings = PortalSettings.create(cluster.registry(), broker=cluster.work / "broker")
        with PortalServer(settings) as portal:
            yield cluster, portal.url
    finally:
        cluster.stop()


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_portal__sign_in_build_kras_colorectal_and_open_survival(
    chromium: Any, site: tuple[Cluster, str], tmp_path: Path
) -> None:
    cluster, url = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(url + "/")
        assert "/signin" in page.url
        page.get_by_label("User name").fill("alice")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(url + "/")
        assert page.get_by_test_id("subject").inner_text() == "alice"

        # Build the cohort: OncoTree search, then the gene; the counts refresh without a reload.
        page.get_by_label("Search OncoTree by name or code").fill("colorectal")
        page.locator('button[data-code="COADREAD"]').click()
        assert page.get_by_label("OncoTree code").input_value() == "COADREAD"
        page.get_by_label("Gene (HGNC symbol)").fill("KRAS")
        page.get_by_label("Gene (HGNC symbol)").press("Tab")  # leaving the field asks the nodes
        page.wait_for_selector("text=Colorectal Adenocarcinoma (COADREAD), KRAS mutated")
        page.wait_for_function("document.getElementById('counts').getAttribute('aria-busy') === 'false'")
        shown = {
            node: page.locator(f'tr[data-node="{node}"] [data-count]').inner_text().strip()
            for node in (*NODES, "total")
        }
        assert "tumour_type=COADREAD" in page.url
        assert "gene=KRAS" in page.url
        page.screenshot(path=str(tmp_path / "cohort-1280.png"), full_page=True)
        assert _no_horizontal_scroll(page)

        with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
            answer = fed.count(KRAS_CRC)
            km = fed.ask(
                parse_study(
                    {
                        "name": "oracle",
                        "cohort": KRAS_CRC.model_dump(mode="json", exclude_none=True),
                        "analyses": [KaplanMeierAnalysis(group=SexDimension(), grid=GRID).model_dump()],
                    }
                ).requests()[0]
            ).combined
        for node in NODES:
            released = answer.outcome(node).response.result.count  # type: ignore[union-attr]
            assert shown[node] == released.display, node
        assert shown["total"] == answer.count.display
        assert answer.count.contains(sum(cluster.truth(KRAS_CRC).values()))

        # The survival view opens on the same cohort (the navigation carries it).
        page.get_by_role("navigation", name="Views").get_by_role("link", name="Survival").click()
        page.wait_for_selector("h1:has-text('Overall survival')")
        assert page.get_by_test_id("total").inner_text() == answer.count.display
        for node in NODES:
            released = answer.outcome(node).response.result.count  # type: ignore[union-attr]
            assert page.locator(f'[data-node-count="{node}"]').inner_text() == released.display
        assert isinstance(km, CombinedKaplanMeier)
        assert page.locator("#chart-km svg[role=img]").count() == 1
        logrank = page.get_by_test_id("logrank").inner_text()
        if km.logrank_p_value is None:
            assert "No log-rank test" in logrank
        else:
            assert f"p = {km.logrank_p_value:.3g}" in logrank
        assert page.locator("#chart-km svg [data-group]").count() == sum(
            any(p.survival is not None for p in c.points) for c in km.curves
        )
        page.screenshot(path=str(tmp_path / "survival-1280.png"), full_page=True)
        page.set_viewport_size({"width": 1024, "height": 800})
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "survival-1024.png"), full_page=True)
        page.get_by_role("navigation", name="Views").get_by_role("link", name="Cohort").click()
        page.wait_for_selector("table[data-testid=counts]")
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "cohort-1024.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors
    for name in ("cohort-1280", "survival-1280", "survival-1024", "cohort-1024"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_portal__mutation_and_model_views_render_at_laptop_width(
    chromium: Any, site: tuple[Cluster, str], tmp_path: Path
) -> None:
    _, url = site
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    try:
        page.goto(url + "/signin")
        page.get_by_label("User name").fill("alice")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(url + "/")
        # The OncoTree can be browsed as well as searched: tissue → subtypes → a code.
        page.get_by_text("Browse the OncoTree by tissue").click()
        page.get_by_role("button", name="Subtypes of Bowel").click()
        page.locator('#tumour-tree button[data-code="COADREAD"]').click()
        assert page.get_by_label("OncoTree code").input_value() == "COADREAD"
        page.wait_for_selector("text=Cohort: Colorectal Adenocarcinoma (COADREAD)")
        assert page.get_by_role("button", name="Subtypes of Bowel").get_attribute("aria-expanded") == "true"
        page.screenshot(path=str(tmp_path / "oncotree-1024.png"), full_page=True)
        page.goto(url + "/mutations?tumour_type=COADREAD&genes=KRAS,TP53,APC,BRAF")
        assert page.locator("#chart-bars svg").count() == 1
        assert page.locator("#chart-heat svg").count() == 1
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "mutations-1024.png"), full_page=True)
        page.goto(url + "/models?tumour_type=COADREAD")
        assert page.locator("#chart-forest svg").count() == 1
        assert page.locator("table[data-testid=coefficients] tbody tr").count() == 3
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "models-1024.png"), full_page=True)
        with page.expect_download() as download:
            page.locator("button[data-png=chart-forest]").click()
        png = tmp_path / "forest.png"
        download.value.save_as(png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        context.close()


@pytest.fixture(scope="module")
def benefit_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    """Small nodes (k = 5) with the fixture knowledge base, and a portal over them."""
    from federation_nodes import NodeServer
    from test_web_benefit import _knowledge

    work = tmp_path_factory.mktemp("web-browser-benefit")
    cluster = federation(work, patients=60)
    kb = _knowledge(work / "kb")
    try:
        for node in NODES:
            cluster.servers[node] = NodeServer(cluster.settings(node, knowledge=str(kb))).start()
        settings = PortalSettings.create(cluster.registry(), broker=cluster.work / "broker")
        with PortalServer(settings) as portal:
            yield cluster, portal.url
    finally:
        cluster.stop()


def test_portal__wgs_benefit_view_shows_the_ranking_chart_and_table(
    chromium: Any, benefit_site: tuple[Cluster, str], tmp_path: Path
) -> None:
    cluster, url = benefit_site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(url + "/signin")
        page.get_by_label("User name").fill("alice")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(url + "/")
        page.get_by_role("link", name="WGS benefit").click()
        page.wait_for_url(url + "/wgs-benefit")
        page.get_by_label("Panel compared with WGS").select_option("gms560")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/wgs-benefit?*panel=gms560*")

        with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
            combined = fed.wgs_benefit(panel="gms560").combined
        assert isinstance(combined, CombinedWgsBenefit)
        top = combined.rows[0]
        assert top.rank == 1
        row = page.locator('table[data-testid="benefit-table"] tbody tr').first
        assert row.get_attribute("data-group") == top.label
        assert row.get_attribute("data-rank") == "1"
        assert row.locator("td").nth(1).inner_text().strip() == top.n.display
        assert page.locator("#chart-benefit svg").count() == 1
        assert page.locator("#chart-benefit svg").bounding_box()["width"] > 300  # type: ignore[index]
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "wgs-benefit-1280.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
