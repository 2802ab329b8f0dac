"""Run every benchmark in this folder (``make bench``); each prints its own figures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    only = set(sys.argv[1:])
    for script in sorted(HERE.glob("bench_*.py")):
        if only and script.stem not in only:
            continue
        print(f"== {script.stem}")
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
