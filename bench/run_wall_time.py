"""Wall time of `festsafe-nb run high-latency --env demo` against a plain papermill CLI run.

Both commands run as a user would type them, alternately, in one process of this script;
the trivial notebook (one `print`) is the floor any papermill-based tool pays: interpreter,
papermill import, kernel start. Prints medians and the ratio (target: at most 2x).

    .venv/bin/python bench/run_wall_time.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trivial = work / "trivial.ipynb"
        nb = new_notebook(
            cells=[new_code_cell("print('hello')")],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        )
        nbformat.write(nb, str(trivial))
        ours_cmd = [
            str(BIN / "festsafe-nb"),
            "run",
            "high-latency",
            "--env",
            "demo",
            "--reports-dir",
            str(work / "reports"),
        ]
        plain_cmd = [str(BIN / "papermill"), str(trivial), str(work / "out.ipynb")]
        timed(plain_cmd)  # warm the page cache for both
        timed(ours_cmd)
        ours, plain = [], []
        for _ in range(args.repeat):
            plain.append(timed(plain_cmd))
            ours.append(timed(ours_cmd))
    mo, mp = statistics.median(ours), statistics.median(plain)

    def runs(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    print(f"papermill CLI, trivial notebook : median {mp:.2f} s  (runs: {runs(plain)})")
    print(f"festsafe-nb run high-latency    : median {mo:.2f} s  (runs: {runs(ours)})")
    print(f"ratio festsafe-nb / papermill   : {mo / mp:.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
