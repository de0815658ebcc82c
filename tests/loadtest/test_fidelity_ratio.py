"""The fidelity bench's ratio: per round when the tools ran side by side, else per tool.

Figures of run B in bench/README.md (median TPOT in ms per round, ours and theirs side by
side, the server's speed moving about 6x over the run).
"""

from __future__ import annotations

import pytest

from bench.grid import fidelity_ratio

OURS = [{"median_tpot_ms": v} for v in (11.63, 16.77, 29.63, 65.80)]
THEIRS = [{"median_tpot_ms": v} for v in (12.15, 11.59, 27.94, 72.80)]


def test_side_by_side_rounds_are_paired_and_their_ratios_medianed():
    value, per_round = fidelity_ratio("median_tpot_ms", OURS, THEIRS, paired=True)
    assert per_round == pytest.approx([11.63 / 12.15, 16.77 / 11.59, 29.63 / 27.94, 65.80 / 72.80])
    assert value == pytest.approx((11.63 / 12.15 + 29.63 / 27.94) / 2)  # 0.957 and 1.060
    assert value == pytest.approx(1.009, abs=5e-4)


def test_sequential_rounds_compare_the_per_tool_medians():
    value, per_round = fidelity_ratio("median_tpot_ms", OURS, THEIRS, paired=False)
    assert per_round == []
    assert value == pytest.approx(((16.77 + 29.63) / 2) / ((12.15 + 27.94) / 2))  # 1.157
    assert value == pytest.approx(1.157, abs=5e-4)


def test_paired_rounds_must_match_in_number():
    with pytest.raises(ValueError):
        fidelity_ratio("median_tpot_ms", OURS, THEIRS[:3], paired=True)
