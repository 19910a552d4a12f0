"""`python -m tests.fakes.ollama_server`: the fake Ollama API in the foreground."""

import sys

from tests.fakes.ollama_server.standalone import main

sys.exit(main())
