"""Time one streamed OpenAI response the way `vllm bench serve` does (no I/O here).

`StreamTimer` is fed raw bytes as they arrive with the clock reading at arrival; it splits
Server-Sent Events on blank lines, skips comments (`:` lines) and `[DONE]`, and for every
`data:` message:
- with non-empty `choices`: the first sets TTFT, each later one appends an ITL gap, and each
  moves the request's end time (so the trailing usage-only message does not count);
- with `usage` (and no choices): sets output_tokens (= completion_tokens) and prompt_len.
A request succeeds only if at least one message with `choices` arrived
(vllm/benchmarks/lib/endpoint_request_func.py, vllm 0.32). One deliberate difference: an
in-stream error message (`data: {"error": ...}`) fails the request here, while vLLM's client
ignores it; the finish reason (`length`, `stop`, `abort`) is kept for drain checks.
"""

from __future__ import annotations

import json

from loadtest.metrics import RequestRecord


class StreamTimer:
    """Accumulates one request's timing from streamed SSE bytes.

    Args:
        record: the request record to fill (its `start` is the wall-clock send time).
        t_send: monotonic clock reading when the request was sent.
        chat: True for `/v1/chat/completions` (reads `delta.content`), False for completions.
    """

    def __init__(self, record: RequestRecord, t_send: float, *, chat: bool) -> None:
        self.record = record
        self.t_send = t_send
        self.last = t_send
        self.chat = chat
        self.first = False
        self.text: list[str] = []
        self._buffer = b""

    def feed(self, data: bytes, now: float) -> None:
        """Process bytes that arrived at monotonic time `now`."""
        self._buffer += data
        while True:
            cut = self._buffer.find(b"\n\n")
            if cut < 0:
                break
            message, self._buffer = self._buffer[:cut], self._buffer[cut + 2:]
            self._message(message, now)

    def _message(self, message: bytes, now: float) -> None:
        message = message.strip()
        if not message or message.startswith(b":"):
            return
        # Split on b"\n" only: str.splitlines() would also split on U+0085/U+2028/U+2029,
        # which JSON leaves unescaped inside strings (random-token text contains them).
        for raw_line in message.split(b"\n"):
            line = raw_line.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                continue
            try:
                data = json.loads(payload)
            except ValueError as exc:
                raise ValueError(f"bad SSE data ({exc}): {payload[:300]!r}") from None
            choices = data.get("choices")
            if choices:
                if not self.first:
                    self.first = True
                    self.record.ttft = now - self.t_send
                else:
                    self.record.itl.append(now - self.last)
                self.last = now
                choice = choices[0]
                piece = (choice.get("delta") or {}).get("content") if self.chat else choice.get("text")
                self.text.append(piece or "")
                if choice.get("finish_reason"):
                    self.record.finish_reason = choice["finish_reason"]
            elif data.get("usage"):
                usage = data["usage"]
                self.record.output_tokens = usage.get("completion_tokens")
                if usage.get("prompt_tokens") is not None:
                    self.record.prompt_len = usage["prompt_tokens"]
            elif data.get("error") or data.get("object") == "error":
                self.record.error = str(data.get("error") or data.get("message"))

    def finish(self) -> RequestRecord:
        """Close the request: success iff a token message arrived and no in-stream error."""
        self.record.latency = self.last - self.t_send
        if self.first and not self.record.error:
            self.record.success = True
        elif not self.record.error:
            self.record.error = "Never received a valid chunk to calculate TTFT."
        return self.record
