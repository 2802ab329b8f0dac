"""Run every benchmark in this folder (``make bench``); each prints its own figures.

``python -m bench bench_imports`` runs only the named ones (bench_digests, bench_find,
bench_imports, bench_web).
"""

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
        # Each benchmark reads its own arguments (bench_imports: --scale, --rounds); none here.
        sys.argv = [str(script)]
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
