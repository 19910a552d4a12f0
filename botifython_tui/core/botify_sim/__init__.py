"""Botify behaviour, simulated: the demo account's server and the test suite's fake are this one module."""

from botifython_tui.core.botify_sim.server import (
    ApiError,
    BotifySimulator,
    Injection,
    RecordedRequest,
    SyntheticGraph,
)

__all__ = ["ApiError", "BotifySimulator", "Injection", "RecordedRequest", "SyntheticGraph"]
