"""`--demo`: the built-in demo account, a simulated Botify served on 127.0.0.1 by this process."""

from __future__ import annotations

import atexit
import os

from botifython_tui.config import ConfigError, Settings

REAL_TOKEN_ENV = "BOTIFY_API_TOKEN"  # a real account's token, when given by the environment


def start_demo(settings: Settings) -> Settings:
    """Start the simulator (until the process ends) and return the demo's settings: its own
    data and downloads subfolders, made, with the demo token kept there.

    The real token file is never opened: the demo keeps the demo token in its own data folder.
    """
    from botifython_tui.core.botify_sim.demo_site import start_demo_simulator

    try:
        simulator = start_demo_simulator()
    except OSError as exc:
        raise ConfigError(
            f"The demo could not start its simulated Botify on 127.0.0.1: {exc.strerror or exc}. "
            "Check that the loopback interface is up."
        ) from exc
    atexit.register(simulator.stop)
    # A real token in the environment is not the demo's: nothing in this process may read it.
    os.environ.pop(REAL_TOKEN_ENV, None)
    settings.ensure_dirs()  # the real folders (private), which hold the demo's
    demo = settings.for_demo(simulator.base_url)
    demo.ensure_dirs()
    store_demo_token(demo)
    return demo


def store_demo_token(settings: Settings) -> None:
    """Connect the demo account: its (public) token, in the demo's own data folder."""
    from botifython_tui.core.botify_sim.demo_site import DEMO_TOKEN
    from botifython_tui.core.secrets import TokenStore

    tokens = TokenStore(settings.data_dir)
    try:
        if tokens.path.is_file() and tokens.path.read_text(encoding="utf-8").strip() == DEMO_TOKEN:
            return
        tokens.save(DEMO_TOKEN)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The demo could not keep its token in {tokens.path}: {exc}. "
            "Choose a writable data folder with --data-dir."
        ) from exc
