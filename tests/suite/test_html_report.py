"""The HTML report (index.html, run --html): what it says, that it escapes, and that it works in a
real browser: headless Chromium (Debian's `chromium`) driven by Playwright, no browser downloaded.

Two tiny runs feed it: the reference server (conformant), and the reference server with a fault
of its catalogue (``amount_as_string``: a charge's amount read back as a string), which the suite
catches in its first examples and shrinks to a two-step story. Where Chromium or Playwright is
missing the browser tests skip, except in CI (the environment variable CI set), where they fail.
"""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cxpay_conformance.embedded import embedded_server
from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.suite import SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite.report import as_json, html, write_reports
from tests.browser import WAIT_MS, system_chromium
from tests.suite.test_suite_cli import run_cli

FAULT = "amount_as_string"
#: Generous, for a slow loaded machine: Playwright waits on events up to this long, never sleeps.


def _run(faults: tuple[str, ...], seed: int) -> SuiteResult:
    with embedded_server(faults=faults) as server:
        return run_suite(SuiteConfig.for_embedded(server, seed=seed, max_examples=8, max_steps=6, database=None,
                                                  settle_timeout=0.0, race_examples=0))


@pytest.fixture(scope="module")
def conformant() -> SuiteResult:
    result = _run((), seed=3)
    assert result.conformant, result.failure
    return result


@pytest.fixture(scope="module")
def failing() -> SuiteResult:
    result = _run((FAULT,), seed=2)
    assert result.failure is not None and result.failure.check == "openapi", result.failure
    return result


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, conformant: SuiteResult, failing: SuiteResult) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    paths = {"conformant": folder / "conformant.html", "failing": folder / "failing.html"}
    paths["conformant"].write_text(html(conformant), encoding="utf-8")
    paths["failing"].write_text(html(failing), encoding="utf-8")
    return paths


# --- what the page says -----------------------------------------------------------------------


def test_the_page_is_self_contained(pages: dict[str, Path]) -> None:
    for path in pages.values():
        page = path.read_text(encoding="utf-8")
        # No stylesheet, script, image or font from anywhere: CSS and SVG inline, no script to run.
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", page), "the page loads something from outside"
        assert "@import" not in page and "url(" not in page
        assert re.findall(r"<script\b[^>]*>", page) == ['<script type="application/json" id="report-data">']
        assert "<svg" in page and "<style>" in page


def test_the_header_says_the_verdict_and_how_the_run_was_made(pages: dict[str, Path],
                                                              failing: SuiteResult) -> None:
    page = pages["failing"].read_text(encoding="utf-8")
    assert '<span id="verdict" class="verdict fail">NOT CONFORMANT</span>' in page
    assert f"<code>{failing.config.base_url}</code>" in page
    assert f"{failing.spec.title} {failing.spec.version}" in page
    assert f"<code>{failing.seed}</code>" in page and "<dd>ci</dd>" in page
    replay = as_json(failing)["replay"]
    assert f'<code id="replay">{replay}</code>' in page
    assert re.search(r"sha256 <code title=\"[0-9a-f]{64}\">[0-9a-f]{16}</code>", page)
    assert re.search(r"cxpay-conformance [\w.]+, Python [\d.]+, Hypothesis [\d.]+, Jinja2 [\d.]+", page)
    assert '<span id="verdict" class="verdict pass">CONFORMANT</span>' in pages["conformant"].read_text()


def test_the_page_carries_report_json_inline(pages: dict[str, Path], failing: SuiteResult) -> None:
    page = pages["failing"].read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    assert json.loads(found.group(1)) == json.loads(json.dumps(as_json(failing)))


def test_the_checks_table_counts_each_check(pages: dict[str, Path], failing: SuiteResult) -> None:
    page = pages["failing"].read_text(encoding="utf-8")
    ran = failing.checks_run["openapi"]
    assert re.search(rf'<tr class="failed">\s*<td><code>openapi</code></td><td class="num">{ran}</td>'
                     rf'<td class="num">{ran - 1}</td>\s*<td class="num">1</td>', page)
    ran = failing.checks_run["state"]
    assert re.search(rf'<tr class="passed">\s*<td><code>state</code></td><td class="num">{ran}</td>'
                     rf'<td class="num">{ran}</td>\s*<td class="num">0</td>', page)


def test_coverage_shows_each_objects_diagram_counts_and_rejections(pages: dict[str, Path],
                                                                   conformant: SuiteResult) -> None:
    page = pages["conformant"].read_text(encoding="utf-8")
    for item in conformant.coverage.per_object():
        section = page.split(f'<section class="object" id="object-{item.object}">')[1].split("</section>")[0]
        assert f"{item.states_reached}/{item.states_total} states reached" in section
        assert f"{item.transitions_hit}/{item.transitions_total} transitions covered" in section
        if shutil.which("dot"):
            # The overlay, its arrows named for a path (Graphviz writes the class's - as &#45;).
            assert "<svg" in section and 'class="edge cx-t' in html_module.unescape(section)
        for edge in conformant.coverage.per_edge():
            if edge["object"] == item.object and not edge["count"]:
                assert f"<code>{edge['transition']}</code>" in section and "0 untested" in section
    tested, total = conformant.coverage.rejection_pairs()
    assert f"Rejections tested: <strong>{tested}/{total}</strong>" in page
    # The event x state table: a cell per (event, state), rejections tested or not.
    assert page.count('<td class="tested">') + page.count('<td class="untested">') == total
    assert page.count('<td class="tested">') == tested
    # Every id in the page once, though several Graphviz SVGs sit in it.
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_a_failure_is_a_timeline_with_the_failing_step_and_its_path(pages: dict[str, Path],
                                                                   failing: SuiteResult) -> None:
    page = pages["failing"].read_text(encoding="utf-8")
    assert failing.failure is not None and failing.failure.step is not None
    [failing_step] = re.findall(r'<details class="step lane-(\w+) failing" id="failing-step" open data-step="(\d+)">',
                                page)
    step = failing.story[failing.failure.step - 1]
    assert failing_step == (step.actor, str(step.number))
    for lane in ("merchant", "customer", "network", "clock", "webhooks"):
        assert f'<th class="lane lane-{lane}">{lane}</th>' in page
    for number, step in enumerate(failing.story, 1):
        assert f'data-step="{number}"' in page
        assert step.exchange is not None
        assert f"{step.exchange.method} {step.exchange.path}" in page
    assert failing.webhook_timeline, "the failing example's objects had webhooks"
    for delivery in failing.webhook_timeline:
        assert f"{delivery.type} {delivery.object_id}" in page
    # The story's path over the diagrams: the transitions it fired, by class.
    fired = {index for step in failing.story for index, _source in step.fired}
    assert fired and 'id="path"' in page
    for index in fired:
        assert f".path-view g.cx-t{index} path" in page


def test_a_concurrent_failure_shows_its_branches_side_by_side(failing: SuiteResult) -> None:
    # The failing example as a concurrent history of two requests sent at once (its last two).
    last = len(failing.exchanges)
    raced = replace(failing, branches={last - 2: (0, 0.001, 0.030), last - 1: (1, 0.002, 0.025)})
    page = html(raced)
    assert '<h3 id="branches">Then 2 requests sent at once, side by side</h3>' in page
    assert "<th>branch 1</th><th>branch 2</th>" in page
    assert "sent 1 ms, answered 30 ms" in page and "sent 2 ms, answered 25 ms" in page


def test_everything_from_the_implementation_is_escaped(failing: SuiteResult) -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    failure = ConformanceFailure(f"the answer was {hostile}", check="openapi", step=1, response=hostile)
    story = [replace(failing.story[0], story=hostile, observed=hostile), *failing.story[1:]]
    page = html(replace(failing, failure=failure, story=story))
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_failure_before_any_step_has_no_story_but_a_page(failing: SuiteResult) -> None:
    failure = ConformanceFailure("registering the suite's webhook endpoint failed", check="webhooks")
    page = html(replace(failing, failure=failure, story=[], exchanges=[], branches={}, webhook_timeline=[]))
    assert "NOT CONFORMANT" in page and "registering the suite&#39;s webhook endpoint failed" in page
    assert 'id="failing-step"' not in page and 'id="path"' not in page


def test_without_graphviz_the_page_says_how_to_get_the_diagrams(conformant: SuiteResult,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import cxpay_conformance.diagrams

    monkeypatch.setattr(cxpay_conformance.diagrams, "find_dot", lambda: None)
    page = html(conformant)
    assert "<svg" not in page and "Install Graphviz" in page
    assert "Each transition's count" in page and '<td class="untested">' in page


def test_the_report_directory_gets_index_html(failing: SuiteResult, tmp_path: Path) -> None:
    written = write_reports(failing, tmp_path)
    assert written["html"] == tmp_path / "index.html"
    assert "NOT CONFORMANT" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_run_html_writes_the_page_where_asked(tmp_path: Path) -> None:
    result = run_cli("--seed", "3", "--max-examples", "2", "--max-steps", "4", "--no-database", "--race-examples", "0",
                     "--report-dir", str(tmp_path / "report"), "--html", str(tmp_path / "page.html"))
    assert result.exit_code == 0, result.output
    assert f"HTML report: {tmp_path / 'report' / 'index.html'}, {tmp_path / 'page.html'}" in result.output
    for path in (tmp_path / "page.html", tmp_path / "report" / "index.html"):
        assert '<span id="verdict" class="verdict pass">CONFORMANT</span>' in path.read_text(encoding="utf-8")


def test_run_html_into_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    result = run_cli("--html", str(tmp_path / "no" / "page.html"), "--report-dir", str(tmp_path / "report"))
    assert result.exit_code == 2
    assert f"--html {tmp_path / 'no' / 'page.html'}: the folder" in result.output
    assert "Traceback" not in result.output


# --- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with system_chromium() as launched:
        yield launched


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """``path`` in a new page; the console errors, page errors and requests that left the file."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", lambda request: problems.append(f"request: {request.url}")
            if not request.url.startswith("file://") else None)
    page.goto(path.as_uri(), wait_until="load", timeout=WAIT_MS)
    return page, problems


def test_the_failing_report_in_chromium(browser: Any, pages: dict[str, Path], failing: SuiteResult) -> None:
    from playwright.sync_api import expect

    page, problems = _open(browser, pages["failing"])
    try:
        expect(page.locator("#verdict")).to_have_text("NOT CONFORMANT", timeout=WAIT_MS)
        expect(page.locator("#verdict")).to_be_visible(timeout=WAIT_MS)
        failing_step = page.locator("#failing-step")
        expect(failing_step).to_be_visible(timeout=WAIT_MS)
        expect(failing_step.locator("summary")).to_contain_text("FAILED", timeout=WAIT_MS)
        assert failing.failure is not None
        expect(failing_step).to_contain_text(str(failing.failure).splitlines()[0][:60], timeout=WAIT_MS)
        # Another step opens when clicked: its request shows.
        step = page.locator('details.step[data-step="1"]')
        request = step.locator(".line.mono")
        expect(request).to_be_hidden(timeout=WAIT_MS)
        step.locator("summary").click()
        expect(step).to_have_attribute("open", "", timeout=WAIT_MS)
        expect(request).to_be_visible(timeout=WAIT_MS)
        assert failing.story[0].exchange is not None
        expect(request).to_contain_text(failing.story[0].exchange.path, timeout=WAIT_MS)
        # The path over the diagrams: its arrows drawn in the path's colour.
        if shutil.which("dot"):
            arrow = page.locator(".path-view g.edge.cx-t0").first
            expect(arrow).to_be_visible(timeout=WAIT_MS)
            path = arrow.locator("path").first
            assert path.evaluate("element => getComputedStyle(element).stroke") in ("rgb(217, 119, 6)",
                                                                                 "rgb(220, 38, 38)")
        assert problems == []
    finally:
        page.close()


def test_the_conformant_report_in_chromium(browser: Any, pages: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    page, problems = _open(browser, pages["conformant"])
    try:
        expect(page.locator("#verdict")).to_have_text("CONFORMANT", timeout=WAIT_MS)
        expect(page.locator("#verdict")).to_be_visible(timeout=WAIT_MS)
        assert page.locator("#failing-step").count() == 0
        expect(page.locator("#checks")).to_be_visible(timeout=WAIT_MS)
        if shutil.which("dot"):
            expect(page.locator("section.object figure.diagram svg").first).to_be_visible(timeout=WAIT_MS)
        counts = page.locator("section.object details").first
        counts.locator("summary").click()
        expect(counts.locator("table")).to_be_visible(timeout=WAIT_MS)
        assert problems == []
    finally:
        page.close()
