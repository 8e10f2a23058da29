"""`make bench`: every benchmark script in this folder and the public-table suite; each writes JSON
under benchmarks/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    # bench_*.py, then the public-table suite (suite.py: hours on 2 cores for every table and family)
    for script in [*sorted(HERE.glob("bench_*.py")), HERE / "suite.py"]:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
