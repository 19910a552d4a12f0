"""Botify behaviour, simulated: the demo account's server and the test suite's fake are this package.

`simulator.py` is the facade (`BotifySimulator`); beside it: `graph.py` (the synthetic site),
`catalogue.py` (projects and analyses), `bql.py` (the queries the product sends), `jobs.py`
(export jobs and downloads), `faults.py` (injected errors, rate limit, token) and `http.py`
(the handler on the shared loopback base).
"""

from botifython_tui.core.botify_sim.faults import FAULT_MODES, ApiError, Injection
from botifython_tui.core.botify_sim.graph import SyntheticGraph
from botifython_tui.core.botify_sim.http import RecordedRequest
from botifython_tui.core.botify_sim.simulator import BotifySimulator

__all__ = [
    "FAULT_MODES",
    "ApiError",
    "BotifySimulator",
    "Injection",
    "RecordedRequest",
    "SyntheticGraph",
]
