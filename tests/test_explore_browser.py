"""`bordersim explore` in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

The server runs in a subprocess on a free port, with a small band (3 replicates at scale 0.02) cached
in a temporary directory. These tests never skip: without Chromium they fail and say how to get it
(tests/ensure_chromium.sh, which the README's test command runs, installs it with apt-get as root).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BORDERSIM_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `sh tests/ensure_chromium.sh` (as root on Debian it installs "
            "chromium with apt-get) or set BORDERSIM_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    tmp = tmp_path_factory.mktemp("explore")
    port = _free_port()
    log = tmp / "server.log"
    exe = Path(sys.executable).parent / "bordersim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from bordersim.cli import main; sys.exit(main())"]
    cmd += [
        "explore",
        "--port",
        str(port),
        "--band-replicates",
        "3",
        "--band-scale",
        "0.02",
        "--scale",
        "0.05",
        "--cache-dir",
        str(tmp / "cache"),
    ]
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    t_end = time.time() + 60
    while time.time() < t_end:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the server exited:\n{log.read_text()}", pytrace=False)
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}", pytrace=False)
    yield {"url": url, "port": port, "log": log, "proc": proc}
    import psutil

    children = psutil.Process(proc.pid).children(recursive=True)  # the band's worker process
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, f"the server left worker processes behind: {alive}"


@pytest.fixture(scope="module")
def explore_page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1500, "height": 1000})
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(server["url"], wait_until="networkidle")
        pg.get_by_role("button", name="Step a month", exact=True).wait_for(timeout=30000)
        yield pg
        browser.close()


def _open_select(pg, label: str) -> None:
    """Open a Vuetify select by its label (the label overlays the input, so click the field)."""
    pg.locator(".v-input", has=pg.get_by_label(label)).locator(".v-select__slot").click()


def _date(pg) -> str:
    return pg.locator(".bs-date").inner_text()


def _figure(pg) -> str:
    img = pg.locator("img").first
    img.wait_for(timeout=20000)
    return img.get_attribute("src") or ""


def _crossed(pg) -> str:
    """The headline 'got across' number."""
    return pg.locator(".bs-lab", has_text=re.compile("^got across$")).locator("xpath=preceding-sibling::div[1]").inner_text()


def _wait(pred, timeout=30.0, what="condition", pg=None):
    t_end = time.time() + timeout
    while time.time() < t_end:
        if pred():
            return
        time.sleep(0.2)
    state = f"; the page shows: {pg.locator('body').inner_text()[:1500]!r}" if pg is not None else ""
    raise AssertionError(f"timed out waiting for {what}{state}")


def test_serves_on_loopback_only(server):
    port = server["port"]
    assert _answers("127.0.0.1", port)
    assert not _answers("127.0.0.2", port), "listens beyond 127.0.0.1 (another loopback address answers)"
    others = set()
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            others |= {a.address for a in addrs if a.family == socket.AF_INET and not a.address.startswith("127.")}
    except ImportError:
        pass
    try:
        others |= {a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")}
    except OSError:
        pass
    for addr in others:
        assert not _answers(addr, port), f"the page answers on {addr}"


def test_page_names_the_scenario_and_offers_the_controls(explore_page):
    page = explore_page
    body = page.locator("body").inner_text()
    assert "baseline_1960_1962" in body and "Baseline 1960-62" in body
    for name in ("Reset", "Play", "Step a day", "Step a month"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    for label in (
        "Ration in Jilin",
        "DPRK settling-in allowance",
        "Interception effort",
        "DPRK return obligation",
        "Letters approved",
        "Scale (share of households simulated)",
        "Seed",
    ):
        assert label in body, label
    _open_select(page, "Rule timeline")
    assert page.get_by_role("option", name="9 June 1964 Protocol throughout").count() == 1
    page.keyboard.press("Escape")
    for tab in (
        "Flows by province",
        "People in the DPRK",
        "Both directions",
        "Lishu (Doc 4)",
        "Map",
        "Rules in force",
        "Compare with the baseline",
    ):
        assert page.get_by_role("tab", name=tab).count() == 1, tab
    assert _figure(page)
    _wait(lambda: page.locator("img").first.evaluate("i => i.complete && i.naturalWidth") > 500, what="a figure drawn")


def test_stepping_changes_the_date_the_numbers_and_the_figure(explore_page):
    page = explore_page
    d0, f0, c0 = _date(explore_page), _figure(explore_page), _crossed(explore_page)
    page.get_by_role("button", name="Step a day", exact=True).click()
    _wait(lambda: _date(explore_page) != d0, what="a day to pass")
    assert _date(explore_page) == "1 September 1960"
    for _ in range(6):
        page.get_by_role("button", name="Step a month", exact=True).click()
    _wait(lambda: _date(explore_page) == "28 February 1961", what="six months to pass")
    _wait(lambda: _figure(explore_page) != f0, what="the figure to be redrawn")
    assert _crossed(explore_page) != c0
    d1 = _date(explore_page)
    page.get_by_role("button", name="Play", exact=True).click()
    _wait(lambda: _date(page) != d1, what="play to advance the model", pg=page)
    pause = page.get_by_role("button", name="Pause", exact=True)
    if pause.count():  # the run may already have reached its end
        try:
            pause.click(timeout=2000)
        except Exception:  # noqa: BLE001  (it reached the end between the look and the click)
            pass
    # Reset, then a known date for the next test
    page.get_by_role("button", name="Reset", exact=True).click()
    _wait(lambda: _date(page).startswith("before"), what="the reset", pg=page)
    for _ in range(8):
        page.get_by_role("button", name="Step a month", exact=True).click()
    _wait(lambda: _date(page) == "30 April 1961", what="eight months to pass", pg=page)


def test_the_1964_protocol_changes_the_outcome_at_the_same_date(explore_page):
    page = explore_page
    date, crossed = _date(explore_page), _crossed(explore_page)
    _open_select(page, "Rule timeline")
    page.get_by_role("option", name="9 June 1964 Protocol throughout").click()
    _wait(
        lambda: "protocol_1964" in page.locator("body").inner_text() and _date(explore_page) == date,
        timeout=60,
        what="the model to run back to the same date under the Protocol",
    )
    _wait(lambda: page.get_by_text("running back to the date reached").count() == 0, what="the catch-up to finish")
    assert _crossed(explore_page) != crossed
    page.get_by_role("tab", name="Rules in force").click()
    page.get_by_text("Doc 10 Art. 4 (2)").first.wait_for(timeout=10000)


def test_both_directions_panel_appears_with_its_sources(explore_page):
    page = explore_page
    page.get_by_role("tab", name="Both directions").click()
    page.get_by_text("got across into China, illegally").wait_for(timeout=20000)
    body = page.locator("body").inner_text()
    assert "Both directions, China as a whole" in body and "at the end of April 1961" in body
    for doc in ("Doc 1 (2)", "Doc 10 Arts. 4-5", "Doc 11 (6)"):
        assert doc in body, doc
    _wait(lambda: page.locator("img").first.evaluate("i => i.complete && i.naturalWidth") > 500, what="the figure", pg=page)
    page.get_by_role("tab", name="Rules in force").click()
    page.get_by_text("northward.identity_information").wait_for(timeout=10000)


def test_no_traceback_in_the_page_or_the_server_log(explore_page, server):
    page = explore_page
    page.get_by_role("tab", name="Map").click()
    page.get_by_text("The border, schematic", exact=False).count()  # the map is an image; just let it draw
    time.sleep(1.5)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body
    assert not page.errors, page.errors
    log = server["log"].read_text()
    assert "Traceback" not in log and "Exception" not in log, log
