"""The fake Ollama API in the foreground (`python -m tests.fakes.ollama_server`)."""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

from tests.fakes.ollama_server.replies import DEFAULT_REPLIES, Reply, load_reply_file
from tests.fakes.ollama_server.server import FakeOllama


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fakes.ollama_server", description="Run the fake Ollama API."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=11434)
    ap.add_argument(
        "--tokens-per-second", type=float, default=40.0, help="0 streams as fast as possible"
    )
    ap.add_argument("--first-token-delay", type=float, default=0.3)
    ap.add_argument(
        "--reply-file",
        default=None,
        help="JSON list (strings or Reply fields) or text with replies separated by '%%' lines",
    )
    ap.add_argument("--models", default="llama3.2:latest,qwen2.5:0.5b")
    ap.add_argument("--version", dest="server_version", default="0.12.10")
    args = ap.parse_args(argv)

    replies = (
        load_reply_file(args.reply_file)
        if args.reply_file
        else [Reply(text=t) for t in DEFAULT_REPLIES]
    )
    if not replies:
        replies = [Reply(text=t) for t in DEFAULT_REPLIES]
    cycle = itertools.cycle(replies)
    first_delay = max(0.0, args.first_token_delay)

    def next_canned(body: dict[str, Any]) -> Reply:
        r = next(cycle)
        if r.first_token_delay == 0 and first_delay:
            r = Reply(**{**r.__dict__, "first_token_delay": first_delay})
        return r

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    fake = FakeOllama(models=models, host=args.host, port=args.port)
    fake.version = args.server_version
    fake.token_delay = 1.0 / args.tokens_per_second if args.tokens_per_second > 0 else 0.0
    fake.default_reply = next_canned
    fake.start()
    print(fake.base_url, flush=True)
    print(
        json.dumps(
            {
                "base_url": fake.base_url,
                "models": models,
                "replies": len(replies),
                "token_delay": fake.token_delay,
            }
        ),
        flush=True,
    )
    fake.serve_forever()
    return 0
