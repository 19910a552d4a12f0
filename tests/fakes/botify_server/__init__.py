"""The test suite's fake Botify server: the app's Botify simulator, with its faults at hand.

The protocol (profile, projects, analyses, collections, BQL, jobs, downloads) is written once,
in ``botifython_tui/core/botify_sim``; the demo serves its account with the same class. Tests
use it under its old name, ``FakeBotify``, and turn on the fault knobs the demo never touches:
``inject`` (queued HTTP errors), ``download_fault``, ``rate_limit_rps``, ``job_outcome``,
``revoke_token``, ``response_delay``. See the simulator's class docstring for each.

Run standalone (foreground, Ctrl-C to stop)::

    python -m tests.fakes.botify_server --port 8765 --edges 1000000 --token good-token
"""

from __future__ import annotations

import argparse
import json
import time

from botifython_tui.core.botify_sim import (
    ApiError,
    BotifySimulator,
    Injection,
    RecordedRequest,
    SyntheticGraph,
)
from botifython_tui.core.botify_sim.jobs import EXPORT_CACHE

__all__ = [
    "ApiError",
    "EXPORT_CACHE",
    "FakeBotify",
    "Injection",
    "RecordedRequest",
    "SyntheticGraph",
    "main",
]


class FakeBotify(BotifySimulator):
    """The simulator under test: every fault knob available, every request recorded."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fakes.botify_server", description="Run the fake Botify API."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--edges", type=int, default=10_000, help="approximate edges at depth <= 3")
    ap.add_argument("--token", default="good-token")
    ap.add_argument("--username", default="jane.doe")
    ap.add_argument("--org", default="acme-org")
    ap.add_argument("--project", default="example.com")
    ap.add_argument("--analyses", default="20241108-2,20241108,20241001")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list-page-size", type=int, default=10)
    ap.add_argument("--polls-before-done", type=int, default=2)
    ap.add_argument("--rate-limit-rps", type=float, default=None)
    ap.add_argument("--response-delay", type=float, default=0.0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    graph = SyntheticGraph.for_edge_count(
        args.edges, levels=4, out_degree=8, seed=args.seed, host=f"https://{args.project}"
    ).build()
    build = time.perf_counter() - t0
    fake = FakeBotify(
        token=args.token,
        username=args.username,
        list_page_size=args.list_page_size,
        host=args.host,
        port=args.port,
    )
    fake.polls_before_done = args.polls_before_done
    fake.rate_limit_rps = args.rate_limit_rps
    fake.response_delay = args.response_delay
    analyses = [a.strip() for a in args.analyses.split(",") if a.strip()]
    fake.add_project(
        args.org,
        args.project,
        name="Example Site",
        analyses=analyses,
        graph=graph,
        has_search_console=True,
    )
    fake.start()
    print(fake.base_url, flush=True)
    print(
        json.dumps(
            {
                "base_url": fake.base_url,
                "token": args.token,
                "username": args.username,
                "org": args.org,
                "project": args.project,
                "analyses": analyses,
                "depth_sizes": graph.depth_sizes,
                "urls": graph.url_count(),
                "edges": graph.edge_count(),
                "graph_build_seconds": round(build, 3),
            }
        ),
        flush=True,
    )
    fake.serve_forever()
    return 0
