"""Screenshots of the HTML report for the README: docs/report-conformant.png and docs/report-failing.png.

Runs the suite twice, briefly: against the reference server, and against it with a fault of its
catalogue (``amount_as_string``, as ``cxpay-conformance serve --fault amount_as_string`` starts
it), renders both reports and photographs them in headless Chromium (Debian's ``chromium``,
driven by Playwright; no browser is downloaded)::

    python tools/report_screenshots.py            # writes docs/report-conformant.png, docs/report-failing.png
    python tools/report_screenshots.py --out /tmp

The ids and timings differ from run to run, so the pictures do too; the layout does not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from cxpay_conformance.embedded import embedded_server
from cxpay_conformance.suite import SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite.report import html

ROOT = Path(__file__).resolve().parents[1]
FAULT = "amount_as_string"
WIDTH, TALLEST = 1280, 1500


def _run(faults: tuple[str, ...], seed: int, examples: int) -> SuiteResult:
    with embedded_server(faults=faults) as server:
        return run_suite(SuiteConfig.for_embedded(server, seed=seed, max_examples=examples, max_steps=10,
                                                  database=None, settle_timeout=0.0, race_examples=2))


def _photograph(pages: dict[str, tuple[Path, str]], chromium: str) -> None:
    """Each page (path, the selector whose bottom the picture ends at) into its PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
            for png, (source, until) in pages.items():
                page.goto(source.as_uri(), wait_until="load")
                box = page.locator(until).first.bounding_box()
                bottom = min(TALLEST, int(box["y"] + box["height"] + 16)) if box else TALLEST
                page.screenshot(path=png, clip={"x": 0, "y": 0, "width": WIDTH, "height": bottom}, full_page=True)
                print(f"wrote {png}")
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("error: no chromium on PATH; install Debian's chromium package (apt-get install chromium)",
              file=sys.stderr)
        return 2
    conformant, failing = _run((), seed=3, examples=30), _run((FAULT,), seed=2, examples=8)
    if not conformant.conformant or failing.conformant:
        print(f"error: expected a conformant and a failing run, got {conformant.failure!r} and no failure with "
              f"--fault {FAULT}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        pages = {}
        for name, result, until in (("conformant", conformant, "section.object figure"),
                                    ("failing", failing, "table.timeline")):
            source = Path(folder) / f"{name}.html"
            source.write_text(html(result), encoding="utf-8")
            pages[str(args.out / f"report-{name}.png")] = (source, until)
        _photograph(pages, chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
