"""tools/bench_faults.py: every fault of the table is timed by an engine test, and the table says what it has."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tools import bench_faults


def test_every_fault_in_the_table_is_recorded_by_an_engine_test() -> None:
    recorded = set()
    for path in (ROOT / "tests" / "engine").glob("test_*.py"):
        recorded |= set(re.findall(r'record\(\s*"([^"]+)"', path.read_text()))
    assert recorded == set(bench_faults.FAULTS)


def test_the_table_has_a_row_per_fault_and_says_what_was_not_measured() -> None:
    rows = bench_faults.table({"drain": 3.4}).splitlines()[2:]
    assert len(rows) == len(bench_faults.FAULTS)
    assert rows[0].startswith("| drain |") and rows[0].endswith("| 3 s |")
    assert all(row.endswith("| not measured |") for row in rows[1:])


def test_a_fault_back_within_a_second_says_so_rather_than_zero() -> None:
    assert bench_faults.table({"drain": 0.4}).splitlines()[2].endswith("| under 1 s |")
