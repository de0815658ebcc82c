"""bench/wire.py reads TTFT and TPOT off a packet capture (a pcap written here with dpkt)."""

from __future__ import annotations

import json
import socket

import dpkt
import pytest

from bench.wire import summarize, wire_requests

SERVER_PORT = 8000
T0 = 1_800_000_000.0
US = 1e-6  # pcap timestamps have microsecond resolution


def seconds(value):
    return pytest.approx(value, abs=2 * US)


def frame(sport: int, dport: int, payload: bytes) -> bytes:
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH,
                       data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton("127.0.0.1"), dst=socket.inet_aton("127.0.0.1"),
                    p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(src=b"\0" * 6, dst=b"\0" * 6, data=ip))


def post(agent: str) -> bytes:
    body = json.dumps({"model": "m", "prompt": "hi", "stream": True}).encode()
    return (b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + agent.encode()
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def token(i: int) -> bytes:
    message = f'data: {{"id":"c","choices":[{{"index":0,"text":"t{i}"}}]}}\n\n'.encode()
    return f"{len(message):x}\r\n".encode() + message + b"\r\n"


@pytest.fixture
def capture(tmp_path):
    path = tmp_path / "round.pcap"
    usage = b'data: {"id":"c","choices":[],"usage":{"completion_tokens":3}}\n\n'
    packets = [
        (0.000, frame(40001, SERVER_PORT, post("python/gevent-http-client-2.6.1"))),
        (0.002, frame(40002, SERVER_PORT, post("Python/3.11 aiohttp/3.14.5"))),
        (0.005, frame(40003, SERVER_PORT, b"GET /metrics HTTP/1.1\r\n\r\n")),  # not a request
        (0.010, frame(SERVER_PORT, 40001, b"HTTP/1.1 200 OK\r\n\r\n")),  # headers: no token
        (0.012, frame(SERVER_PORT, 40001, token(0))),
        (0.016, frame(SERVER_PORT, 40002, token(0))),
        (0.015, frame(SERVER_PORT, 40001, token(1))),
        (0.018, frame(SERVER_PORT, 40001, token(2))),
        (0.020, frame(SERVER_PORT, 40001, usage)),  # usage-only message: no token
        (0.022, frame(SERVER_PORT, 40002, token(1) + token(2))),  # two messages, one packet
        (0.030, frame(SERVER_PORT, 40003, token(0))),  # answer to the GET: ignored
    ]
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for offset, data in packets:
            writer.writepkt(data, ts=T0 + offset)
    return path


def test_requests_and_their_token_times(capture):
    ours, theirs = wire_requests(capture, SERVER_PORT)
    assert ours.user_agent == "python/gevent-http-client-2.6.1"
    assert ours.sent == seconds(T0)
    assert [t - T0 for t in ours.token_times] == seconds([0.012, 0.015, 0.018])
    assert ours.ttft == seconds(0.012)
    assert ours.tpot == seconds(0.003)
    assert "aiohttp" in theirs.user_agent
    assert [t - T0 for t in theirs.token_times] == seconds([0.016, 0.022, 0.022])
    assert theirs.ttft == seconds(0.014)
    assert theirs.tpot == seconds(0.003)


def test_summarize_gives_medians_in_ms(capture):
    summary = summarize(wire_requests(capture, SERVER_PORT))
    assert summary == pytest.approx({"median_ttft_ms": 13.0, "median_tpot_ms": 3.0,
                                     "requests": 2.0}, abs=2 * US * 1000)
