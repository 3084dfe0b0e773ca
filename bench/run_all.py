"""Run every benchmark in bench/ in turn and print their figures.

    .venv/bin/python bench/run_all.py            # all of them
    .venv/bin/python bench/run_all.py rules feeds  # only those

Each benchmark is a standalone script (see its docstring for options and what it needs:
the PostgreSQL and Redis benchmarks expect the local services on loopback).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = sorted(HERE.glob("bench_*.py"))
    failures = 0
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"\n=== {script.name} ===", flush=True)
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
