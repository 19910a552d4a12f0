"""`python -m tests.fakes.botify_server`: the fake Botify API in the foreground."""

import sys

from tests.fakes.botify_server import main

sys.exit(main())
