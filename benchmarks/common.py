"""Timing and reporting shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    group: str
    name: str
    value: float  # the measured figure, in `unit`
    unit: str
    spread: str = ""  # min..max over the runs
    reference: str = ""  # what it is compared with
    ratio: float | None = None  # value / reference value (or rate / peer rate)
    target: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def per_op_us(fn: Callable[[], object], *, number: int, repeats: int) -> tuple[float, float, float]:
    """Median, min and max microseconds per call over `repeats` runs of `number` calls."""
    fn()  # warm
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs), min(runs), max(runs)


def paired_ratio(
    fn: Callable[[], object], raw: Callable[[], object], *, number: int, repeats: int
) -> tuple[tuple[float, float, float], float]:
    """Times `fn` and its raw reference in alternation and returns fn's (median, min, max) us
    per call and the median of the per-round ratios. On a shared VM the speed drifts by tens of
    percent within a minute; paired rounds see the same drift, so the ratio stays put."""
    fn(), raw()  # warm
    runs, ratios = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        mid = time.perf_counter()
        for _ in range(number):
            raw()
        end = time.perf_counter()
        runs.append((mid - start) / number * 1e6)
        ratios.append((mid - start) / (end - mid))
    return (statistics.median(runs), min(runs), max(runs)), statistics.median(ratios)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def print_table(rows: list[Row]) -> None:
    headers = [
        "group",
        "benchmark",
        "median",
        "unit",
        "spread",
        "reference",
        "ratio",
        "target",
        "met",
    ]
    table = [
        [
            r.group,
            r.name,
            fmt(r.value),
            r.unit,
            r.spread,
            r.reference,
            fmt(r.ratio, 2) if r.ratio is not None else "-",
            r.target,
            "-" if r.met is None else ("yes" if r.met else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(str(row[i])) for row in table)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for row in table:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
