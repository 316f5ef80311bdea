"""Screenshots of `bordersim explore` for the README (docs/figures/explore_*.png).

    .venv/bin/python docs/explore_screenshots.py [--port 8790] [--months 16] [--only both]

Starts the server on 127.0.0.1 (the band at its defaults, computed or read from outputs/explore/),
steps the baseline month by month in headless Chromium (Debian's, /usr/bin/chromium), and saves the
flows tab, the map, the rules in force, the comparison with the 1964 Protocol and, last, both
directions for the 1990s reversal run to its end. ``--only both`` takes only that one (without the band).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"


def wait_http(url: str, timeout: float = 60) -> None:
    t_end = time.time() + timeout
    while time.time() < t_end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def settle(pg) -> None:
    """Wait until the model is idle and the visible figure is the current one."""
    pg.wait_for_timeout(1500)
    t_end = time.time() + 120
    while time.time() < t_end and (pg.get_by_text("updating the figure").count() or pg.locator(".bs-progress").count()):
        pg.wait_for_timeout(500)
    pg.wait_for_timeout(1000)


def both_directions_shot(pg) -> None:
    """The 1990s reversal (lenient reading) run to its end, on the both-directions tab: explore_both.png."""
    pg.set_viewport_size({"width": 1600, "height": 1000})
    pg.locator(".v-input", has=pg.get_by_label("Scenario", exact=True)).locator(".v-select__slot").click()
    pg.get_by_role("option", name="1990s reversal 1993-2012: lenient reading").click()
    pg.get_by_text("protocol_1964_lenient").first.wait_for(timeout=60000)
    pg.locator(".v-input", has=pg.get_by_label("Play speed")).locator(".v-select__slot").click()
    pg.get_by_role("option", name="as fast as it runs").click()
    pg.get_by_role("tab", name="Both directions").click()
    pg.get_by_role("button", name="Play", exact=True).click()
    pg.locator(".bs-date", has_text="31 December 2012").wait_for(timeout=600000)
    pg.set_viewport_size({"width": 1600, "height": 2050})
    settle(pg)
    pg.screenshot(path=str(OUT / "explore_both.png"), full_page=False)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--months", type=int, default=16)
    ap.add_argument("--band-replicates", type=int, default=40)
    ap.add_argument("--only", choices=["both"], default=None, help="take only this screenshot (no band needed)")
    args = ap.parse_args()
    if args.only:
        args.band_replicates = 0
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("BORDERSIM_CHROMIUM", "/usr/bin/chromium")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "bordersim"),
            "explore",
            "--port",
            str(args.port),
            "--band-replicates",
            str(args.band_replicates),
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{args.port}/"
    try:
        wait_http(url)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            pg = b.new_page(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
            pg.goto(url, wait_until="networkidle")
            pg.get_by_role("button", name="Step a month", exact=True).wait_for(timeout=60000)
            OUT.mkdir(parents=True, exist_ok=True)
            if args.only == "both":
                both_directions_shot(pg)
                b.close()
                return 0
            band = pg.get_by_text("Grey band: the calibrated baseline")
            band.wait_for(timeout=600000)  # the band, if not cached, takes a few minutes
            for _ in range(args.months):
                pg.get_by_role("button", name="Step a month", exact=True).click()
                pg.wait_for_timeout(400)
            OUT.mkdir(parents=True, exist_ok=True)
            pg.set_viewport_size({"width": 1600, "height": 1760})
            settle(pg)
            pg.screenshot(path=str(OUT / "explore_flows.png"), full_page=False)
            pg.set_viewport_size({"width": 1600, "height": 1000})
            shots = [
                ("Map", "explore_map", 1420),
                ("Rules in force", "explore_rules", 1000),
                ("People in the DPRK", "explore_stocks", 1000),
                ("Lishu (Doc 4)", "explore_lishu", 1000),
            ]
            for tab, name, height in shots:
                pg.set_viewport_size({"width": 1600, "height": height})
                pg.get_by_role("tab", name=tab).click()
                settle(pg)
                pg.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            pg.set_viewport_size({"width": 1600, "height": 1000})
            # Compare: switch the scenario to the 1964 replay and run the paired comparison.
            pg.get_by_role("tab", name="Compare with the baseline").click()
            pg.locator(".v-input", has=pg.get_by_label("Rule timeline")).locator(".v-select__slot").click()
            pg.get_by_role("option", name="9 June 1964 Protocol throughout").click()
            pg.wait_for_timeout(3000)
            pg.get_by_role("button", name="Compare with the baseline", exact=True).click()
            pg.get_by_text("pairs where this setting is").first.wait_for(timeout=900000)
            pg.set_viewport_size({"width": 1600, "height": 1560})
            pg.wait_for_timeout(4000)
            pg.screenshot(path=str(OUT / "explore_compare.png"), full_page=False)
            both_directions_shot(pg)
            b.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    for f in sorted(OUT.glob("explore_*.png")):
        print(f.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
