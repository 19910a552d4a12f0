"""Command line: `botifython` starts the TUI; subcommands run headless on the same store."""

from __future__ import annotations

import sys

from botifython_tui.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
