"""Ground truth for the fidelity benchmark: TTFT and TPOT as the network saw them.

`Capture` runs tcpdump on the loopback interface while the tools run; `wire_requests` reads
the capture back (dpkt) and returns, per streamed completion request, when its POST went out
and when each token message came back, with the sending tool told apart by its User-Agent.
A client's reported TTFT minus the wire TTFT of the same requests is that client's own delay
(its clock read before it sends, its wake-up after the bytes arrive), separate from the
server's speed. Needs tcpdump and the right to capture (root or CAP_NET_RAW).
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

TOKEN_MESSAGE = b'"choices":[{'  # a completions stream message that carries a token
USER_AGENT = re.compile(rb"(?im)^user-agent:\s*([^\r\n]*)")


@dataclass
class WireRequest:
    """One POST /v1/completions seen on the wire, and its streamed token messages."""

    sent: float  # capture timestamp of the request's first packet (epoch seconds)
    user_agent: str
    token_times: list[float] = field(default_factory=list)

    @property
    def ttft(self) -> float:
        return self.token_times[0] - self.sent

    @property
    def tpot(self) -> float | None:
        """Mean gap between token messages (one token per message when the server streams
        each token on its own, as vLLM does; messages sharing a packet count separately)."""
        n = len(self.token_times)
        return (self.token_times[-1] - self.token_times[0]) / (n - 1) if n > 1 else None


class Capture:
    """tcpdump on `lo` for TCP to and from `port`, written to `path` until `stop()`."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        """None if a capture can run here, else why not."""
        if shutil.which("tcpdump") is None:
            return "tcpdump not installed (apt-get install tcpdump)"
        probe = subprocess.Popen(["tcpdump", "-i", "lo", "-w", "/dev/null"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        if probe.poll() is None:  # still capturing: allowed
            probe.terminate()
            probe.wait(timeout=30)
            return None
        return f"tcpdump cannot capture: {probe.stderr.read().strip() if probe.stderr else ''}"

    def start(self) -> None:
        # -s 4096: enough for the POST's headers; -U: write each packet as it arrives.
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-s", "4096", "-U", "-w", str(self.path),
             f"tcp port {self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # tcpdump needs a moment before it sees packets

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def wire_requests(path: Path, port: int) -> list[WireRequest]:
    """Every completions request to `port` in the capture with at least one token message."""
    open_requests: dict[tuple[int, int], WireRequest] = {}  # (client port, server port)
    found: list[WireRequest] = []
    with path.open("rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            payload = bytes(tcp.data)
            if not payload:
                continue
            if tcp.dport == port and payload.startswith(b"POST /v1/completions"):
                agent = USER_AGENT.search(payload)
                request = WireRequest(ts, agent.group(1).decode() if agent else "")
                open_requests[(tcp.sport, tcp.dport)] = request
                found.append(request)
            elif tcp.sport == port and (answered := open_requests.get((tcp.dport, tcp.sport))):
                answered.token_times += [ts] * payload.count(TOKEN_MESSAGE)
    return [r for r in found if r.token_times]


def summarize(requests: list[WireRequest]) -> dict[str, float]:
    """Median TTFT and TPOT (ms) of `requests` on the wire."""
    tpots = [t for r in requests if (t := r.tpot) is not None]
    return {"median_ttft_ms": 1000.0 * statistics.median(r.ttft for r in requests),
            "median_tpot_ms": 1000.0 * statistics.median(tpots) if tpots else 0.0,
            "requests": float(len(requests))}
