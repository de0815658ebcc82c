"""SSE timing: TTFT at the first message with choices, ITL between them, usage at the end."""

from __future__ import annotations

import json

from loadtest.metrics import RequestRecord
from loadtest.stream import StreamTimer


def sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"  # as vLLM: raw UTF-8


def completion_chunk(text, finish=None):
    return sse({"choices": [{"index": 0, "text": text, "finish_reason": finish}], "usage": None})


def test_completions_stream_timing():
    r = RequestRecord(start=1000.0, prompt_len=5)
    t = StreamTimer(r, t_send=10.0, chat=False)
    t.feed(b": ping\n\n", 10.01)                      # SSE comment: ignored
    t.feed(completion_chunk("a"), 10.10)              # TTFT 0.10
    t.feed(completion_chunk("b") + completion_chunk("c"), 10.15)  # two messages, one read
    # A message split across reads is timed when it completes.
    part = completion_chunk("d", finish="length")
    t.feed(part[:7], 10.18)
    t.feed(part[7:], 10.20)
    t.feed(sse({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}}), 10.30)
    t.feed(b"data: [DONE]\n\n", 10.31)
    out = t.finish()
    assert out.success
    assert round(out.ttft, 6) == 0.10
    assert [round(g, 6) for g in out.itl] == [0.05, 0.0, 0.05]
    # E2E ends at the last token message, not at the usage message or [DONE].
    assert round(out.latency, 6) == 0.20
    assert out.output_tokens == 4
    assert out.prompt_len == 7
    assert out.finish_reason == "length"
    assert "".join(t.text) == "abcd"


def test_chat_stream_counts_role_chunk_as_first():
    r = RequestRecord(start=0.0)
    t = StreamTimer(r, t_send=0.0, chat=True)
    t.feed(sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]}), 0.5)
    t.feed(sse({"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}), 0.7)
    t.feed(sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}), 0.8)
    out = t.finish()
    assert out.success and out.ttft == 0.5 and out.latency == 0.7
    assert out.output_tokens == 1 and out.finish_reason == "stop"


def test_no_token_message_fails():
    t = StreamTimer(RequestRecord(start=0.0), t_send=0.0, chat=False)
    t.feed(b"data: [DONE]\n\n", 0.1)
    out = t.finish()
    assert not out.success
    assert out.error == "Never received a valid chunk to calculate TTFT."


def test_in_stream_error_fails_the_request():
    t = StreamTimer(RequestRecord(start=0.0), t_send=0.0, chat=False)
    t.feed(completion_chunk("a"), 0.1)
    t.feed(sse({"error": {"message": "EngineCore encountered an issue", "code": 500}}), 0.2)
    out = t.finish()
    assert not out.success
    assert "EngineCore encountered an issue" in out.error


def test_unicode_line_separators_inside_json_strings():
    # JSON does not escape U+0085, U+2028, U+2029; random-token output contains them.
    text = "a\u0085b\u2028c\u2029d\x1ce"
    r = RequestRecord(start=0.0)
    t = StreamTimer(r, t_send=0.0, chat=False)
    msg = completion_chunk(text)
    assert "\u2028".encode() in msg  # really unescaped on the wire
    t.feed(msg[:40], 0.1)
    t.feed(msg[40:], 0.2)
    out = t.finish()
    assert out.success and out.error == ""
    assert t.text == [text]
