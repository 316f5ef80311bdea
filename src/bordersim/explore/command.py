"""The ``bordersim explore`` command: check the optional dependencies and the scenario, then serve the page.

    bordersim explore [SCENARIO] [--port P] [--host H] [--band-replicates N] [--cache-dir DIR]

Listens on 127.0.0.1 unless ``--host`` says otherwise; any other address gets a warning that the
page has no authentication. Importing this module imports nothing heavy, so ``bordersim --help``
stays fast and works without the ``[explore]`` extra.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
MISSING = "bordersim: error: `bordersim explore` needs the optional dependencies: pip install 'bordersim[explore]'"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: Replicates of the calibrated baseline behind the band (see bands.py).
DEFAULT_BAND_REPLICATES = 40


def register(sub) -> None:
    e = sub.add_parser(
        "explore",
        help="serve a page to replay the exodus in the browser (needs bordersim[explore])",
        description="Serve the explorer: choose a scenario, rules and levers, step the model, "
        "compare with the archive and the calibrated baseline.",
    )
    e.add_argument("scenario", nargs="?", help="scenario shown first (default: scenarios/baseline_1960_1962.yaml)")
    e.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    e.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; the page has no authentication)",
    )
    e.add_argument(
        "--band-replicates",
        type=int,
        default=DEFAULT_BAND_REPLICATES,
        help=f"replicates of the calibrated baseline for the 90%% band (default {DEFAULT_BAND_REPLICATES}; 0: none)",
    )
    e.add_argument("--band-scale", type=float, default=None, help="scale of the band's replicates (default: the page's, 0.25)")
    e.add_argument("--scale", type=float, default=None, help="scale of the page's model at start (default 0.25)")
    e.add_argument(
        "--cache-dir", default=str(Path("outputs") / "explore"), help="where the band is cached (default outputs/explore)"
    )
    e.set_defaults(func=cmd_explore)


def missing_dependencies() -> str | None:
    """The one-line message if the [explore] extra is not installed, else None."""
    from importlib.util import find_spec

    # Found, not imported: solara.server.starlette reads its configuration when first imported.
    try:
        if find_spec("solara") is None or find_spec("solara.server.starlette") is None or find_spec("matplotlib") is None:
            return MISSING
    except (ImportError, ValueError):
        return MISSING
    return None


def host_warning(host: str, port: int) -> str | None:
    if host in LOCAL_HOSTS:
        return None
    return (
        f"bordersim: warning: listening on {host}:{port}: the page has no authentication; anyone who can reach "
        "this address can use it and run simulations on this machine"
    )


def cmd_explore(args) -> int:
    msg = missing_dependencies()
    if msg:
        print(msg, file=sys.stderr)
        return EXIT_USAGE
    from . import settings  # the model and its scenarios: imported only when the page is to be served

    DEFAULT_SCALE, default_scenarios_dir = settings.DEFAULT_SCALE, settings.default_scenarios_dir
    if args.scenario:
        settings.bs.load_scenario(args.scenario)  # a ScenarioError is a one-line error (cli.main)
        scenario = str(Path(args.scenario).resolve())
    else:
        default = default_scenarios_dir() / "baseline_1960_1962.yaml"
        if not default.exists():
            print(
                "bordersim: error: no scenarios/baseline_1960_1962.yaml here: run from the repository, or name a "
                "scenario file (bordersim explore SCENARIO.yaml)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        scenario = str(default)
    scale = args.scale or DEFAULT_SCALE
    if not 0 < scale <= 1 or (args.band_scale is not None and not 0 < args.band_scale <= 1):
        print("bordersim: error: --scale and --band-scale must be in (0, 1]", file=sys.stderr)
        return EXIT_USAGE
    warn = host_warning(args.host, args.port)
    if warn:
        print(warn, file=sys.stderr)
    os.environ["BORDERSIM_EXPLORE"] = json.dumps(
        {
            "scenario": scenario,
            "band_replicates": max(0, args.band_replicates),
            "band_scale": args.band_scale or scale,
            "cache_dir": args.cache_dir,
            "scale": scale,
            "scale_given": args.scale is not None,
        }
    )
    return serve(args.host, args.port)


def serve(host: str, port: int) -> int:
    """Run the Solara server in this process until interrupted."""
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    from solara.__main__ import run as solara_run

    if port == 0:
        import socket

        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    display = f"[{host}]" if ":" in host else host
    print(f"bordersim: serving the explorer at http://{display}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        solara_run.main(
            ["bordersim.explore.app", "--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version"],
            standalone_mode=False,
        )
    except KeyboardInterrupt:
        pass
    return 0
