"""python -m benchmarks [--quick] [--only inproc,pdf,http,hostile,pages,counter] [--http-seconds S] [--json PATH]"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Row, print_table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a one-minute pass")
    parser.add_argument(
        "--only", default="inproc,pdf,http,hostile,pages,counter", help="comma-separated groups"
    )
    parser.add_argument(
        "--http-seconds", type=float, help="load per HTTP row (default 2 with --quick, else 8)"
    )
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = parser.parse_args()
    groups = args.only.split(",")
    rows: list[Row] = []
    started = time.monotonic()
    if "inproc" in groups:
        from benchmarks import inproc

        rows += inproc.run(args.quick)
    if "pdf" in groups:
        from benchmarks import pdf

        rows += pdf.run(args.quick)
    if "http" in groups:
        from benchmarks import http_load

        rows += http_load.run(args.quick, args.http_seconds)
    if "hostile" in groups:
        from benchmarks import hostile

        rows += hostile.run(args.quick)
    if "pages" in groups:
        from benchmarks import pages

        rows += pages.run(args.quick)
    if "counter" in groups:
        from benchmarks import counter

        rows += counter.run(args.quick)
    print_table(rows)
    missed = [r for r in rows if r.met is False]
    print(
        f"\n{len(rows)} measurements in {time.monotonic() - started:.0f} s; "
        f"{sum(r.met is True for r in rows)} targets met, {len(missed)} missed"
        + (": " + "; ".join(f"{r.group} {r.name}" for r in missed) if missed else "")
    )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "quick": args.quick,
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count(),
                },
                "rows": [r.as_dict() for r in rows],
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
