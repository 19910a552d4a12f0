"""Streaming a scripted reply the way Ollama does, faults included: NDJSON lines (thinking,
content, tool calls, the final metrics line), or one JSON body; errors mid-stream, drops, delays."""

from __future__ import annotations

import string
import time
from collections.abc import Iterator
from typing import Any

from tests.fakes.ollama_server.http import (
    ClientGone,
    OllamaHandler,
    RecordedRequest,
)
from tests.fakes.ollama_server.replies import (
    DEFAULT_STATUS_ERRORS,
    MID_STREAM_ERROR,
    Reply,
    split_tokens,
)
from tests.fakes.ollama_server.wire import (
    JSON_CT,
    enc,
    go_json,
    phrase,
    rfc3339_now,
)


class ReplyStreaming:
    """The part of FakeOllama that writes a reply; mixed into it."""

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        style = reply.tool_call_style or self.tool_call_style
        out = []
        for i, call in enumerate(reply.tool_calls or []):
            fn = call.get("function") if isinstance(call.get("function"), dict) else call
            fname = fn.get("name", "")
            args = fn.get("arguments", {})
            if style == "old":
                out.append({"function": {"name": fname, "arguments": args}})
            else:
                cid = call.get("id") or "call_" + "".join(
                    self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(8)
                )
                out.append({"id": cid, "function": {"index": i, "name": fname, "arguments": args}})
        return out

    def _generate(
        self,
        h: OllamaHandler,
        rec: RecordedRequest,
        reply: Reply,
        *,
        model: str,
        stream: bool,
        kind: str,
        prompt_count: int,
        num_predict: int | None,
    ) -> None:
        delay = reply.token_delay if reply.token_delay is not None else self.token_delay
        delay = max(0.0, float(delay or 0.0))
        # Model load + prompt evaluation: before any byte of the response.
        if reply.first_token_delay > 0:
            h.wait(reply.first_token_delay)
        t_load = time.perf_counter_ns()
        if reply.status is not None:
            msg = reply.error or DEFAULT_STATUS_ERRORS.get(reply.status) or phrase(reply.status)
            h.send_json(reply.status, {"error": msg})
            return
        if reply.raw_lines is not None:
            self._send_raw(h, reply, stream, delay)
            return

        thinking = reply.thinking_tokens()
        content = reply.content_tokens()
        calls = self._tool_calls(reply) if kind == "chat" else []
        done_reason = reply.done_reason
        if num_predict is not None and len(thinking) + len(content) > num_predict:
            thinking = thinking[:num_predict]
            content = content[: max(0, num_predict - len(thinking))]
            calls = []
            done_reason = "length"
        final_text = reply.final_text
        eval_count = len(thinking) + len(content) + len(split_tokens(final_text)) + len(calls)

        prefix = '{"model":' + go_json(model) + ',"created_at":"'
        if kind == "chat":

            def content_line(tok: str) -> bytes:
                return enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":'
                    + go_json(tok)
                    + '},"done":false}\n'
                )

            def thinking_line(tok: str) -> bytes:
                return enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":"","thinking":'
                    + go_json(tok)
                    + '},"done":false}\n'
                )

            def calls_line(c: list[dict[str, Any]]) -> bytes:
                return enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":"","tool_calls":'
                    + go_json(c)
                    + '},"done":false}\n'
                )

        else:

            def content_line(tok: str) -> bytes:
                return enc(
                    prefix + rfc3339_now() + '","response":' + go_json(tok) + ',"done":false}\n'
                )

            def thinking_line(tok: str) -> bytes:
                return enc(
                    prefix
                    + rfc3339_now()
                    + '","response":"","thinking":'
                    + go_json(tok)
                    + ',"done":false}\n'
                )

            def calls_line(c: list[dict[str, Any]]) -> bytes:  # pragma: no cover - unused
                return b""

        def events() -> Iterator[bytes]:
            for tok in thinking:
                yield thinking_line(tok)
            for tok in content:
                yield content_line(tok)
            if calls:
                yield calls_line(calls)

        n_events = len(thinking) + len(content) + (1 if calls else 0)
        t_eval0 = time.perf_counter_ns()

        def final_obj(t_end: int) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": model, "created_at": rfc3339_now()}
            if kind == "chat":
                msg: dict[str, Any] = {
                    "role": "assistant",
                    "content": final_text if stream else "".join(content) + final_text,
                }
                if not stream and thinking:
                    msg["thinking"] = "".join(thinking)
                if not stream and calls:
                    msg["tool_calls"] = calls
                obj["message"] = msg
            else:
                obj["response"] = final_text if stream else "".join(content) + final_text
                if not stream and thinking:
                    obj["thinking"] = "".join(thinking)
            obj["done"] = True
            if done_reason:
                obj["done_reason"] = done_reason
            if kind == "generate":
                obj["context"] = [(prompt_count * 7 + i * 13) % 128000 for i in range(8)]
            if reply.metrics:
                load = max(t_load - rec.t0_ns, 1)
                prompt_eval = max(t_eval0 - t_load, 1)
                eval_ns = max(t_end - t_eval0, 1)
                total = max(time.perf_counter_ns() - rec.t0_ns, load + prompt_eval + eval_ns)
                metrics = {
                    "total_duration": total,
                    "load_duration": load,
                    "prompt_eval_count": prompt_count,
                    "prompt_eval_duration": prompt_eval,
                    "eval_count": eval_count,
                    "eval_duration": eval_ns,
                }
                obj.update((k, v) for k, v in metrics.items() if v)  # omitempty
            return obj

        err_msg = reply.error or MID_STREAM_ERROR

        if not stream:
            # Generation happens all the same; the answer comes in one piece at the end.
            steps = n_events
            if reply.error_after is not None:
                steps = min(steps, reply.error_after)
            if reply.drop_after is not None:
                steps = min(steps, reply.drop_after)
            if delay > 0 and steps:
                h.wait(delay * steps)
            elif h.peer_closed():
                raise ClientGone
            if reply.drop_after is not None and reply.drop_after <= n_events:
                h.abort()
                return
            if reply.error_after is not None and reply.error_after <= n_events:
                h.send_json(500, {"error": err_msg})
                return
            obj = final_obj(time.perf_counter_ns())
            h.send_body(200, enc(go_json(obj)), JSON_CT)
            return

        batch = delay <= 0
        h.begin_stream()
        sent = 0
        t_last = t_eval0
        for line in events():
            if reply.drop_after is not None and sent >= reply.drop_after:
                h.abort()
                return
            if reply.error_after is not None and sent >= reply.error_after:
                self._finish_with_error(h, err_msg)
                return
            if delay > 0:
                h.wait(delay)
            h.send_line(line, batch)
            sent += 1
            t_last = time.perf_counter_ns()
        if reply.drop_after is not None and sent >= reply.drop_after:
            h.abort()
            return
        if reply.error_after is not None:
            self._finish_with_error(h, err_msg)
            return
        h.send_line(enc(go_json(final_obj(t_last)) + "\n"), batch=False)
        if reply.drop_after is not None:  # drop after the done line, before the terminator
            h.abort()
            return
        h.end_stream()

    @staticmethod
    def _finish_with_error(h: OllamaHandler, message: str) -> None:
        h.send_line(enc(go_json({"error": message}) + "\n"), batch=False)
        h.end_stream()
        h.close_connection = True

    def _send_raw(self, h: OllamaHandler, reply: Reply, stream: bool, delay: float) -> None:
        lines = [ln for ln in (reply.raw_lines or []) if reply.allow_blank or ln.strip() != ""]
        if not stream:
            if delay > 0 and lines:
                h.wait(delay * len(lines))
            h.send_body(200, enc("\n".join(lines) + ("\n" if lines else "")), JSON_CT)
            return
        batch = delay <= 0
        h.begin_stream()
        for i, ln in enumerate(lines):
            if reply.drop_after is not None and i >= reply.drop_after:
                h.abort()
                return
            if reply.error_after is not None and i >= reply.error_after:
                self._finish_with_error(h, reply.error or MID_STREAM_ERROR)
                return
            if delay > 0:
                h.wait(delay)
            h.send_line(enc(ln.rstrip("\r\n") + "\n"), batch)
        if reply.drop_after is not None:
            h.abort()
            return
        h.end_stream()
