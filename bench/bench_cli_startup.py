"""Bench: the CLI's start-up, this tree against another one (e.g. an older commit), side by side.

Each command runs as a whole process (``python -m mabgui …``) from each tree in turn, with the
bytecode compiled first in both (as pip does at install; this environment sets
PYTHONDONTWRITEBYTECODE, which would otherwise compile every module on every run). Prints the
median wall and CPU time (user+sys of the child) per command and tree, and the total of
``-X importtime`` for ``mabgui copy --help``.

    git archive COMMIT | tar -x -C /tmp/mabgui-before
    python bench/bench_cli_startup.py --before /tmp/mabgui-before [--runs 11]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "127.0.0.1:5000/busybox:latest"


def run(tree: Path, argv: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mabgui", *argv], env=env, capture_output=True, check=True,
        cwd="/",  # not a tree: `-m` puts the working directory first on sys.path
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_ms(tree: Path) -> float:
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mabgui", "copy", "--help"],
        env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    total = 0
    for line in res.stderr.splitlines():
        parts = line.split("|")
        top_level = len(parts) == 3 and not parts[2].startswith("  ")  # cumulative time
        if top_level and parts[0].startswith("import time:") and parts[1].strip().isdigit():
            total += int(parts[1])
    return total / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other tree")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    for tree in trees.values():
        compileall.compile_dir(str(tree / "mabgui"), quiet=1)
    commands = {
        "--version": ["--version"],
        "copy --help": ["copy", "--help"],
        "copy (same registry: every blob mounted)": ["copy", SOURCE, "", "--json"],
    }
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for name, argv in commands.items():
        for _ in range(args.runs + 1):  # the first round warms the page cache
            for label, tree in trees.items():
                words = [w or f"127.0.0.1:5000/mabgui-bench-start/{uuid.uuid4().hex[:8]}:x"
                         for w in argv]  # fmt: skip
                times.setdefault((name, label), []).append(run(tree, words))
    imports = {
        label: statistics.median(import_ms(t) for _ in range(5)) for label, t in trees.items()
    }
    print(f"{args.runs} alternating runs, medians, load average {os.getloadavg()[0]:.1f}")
    print("| command | before: wall / CPU | after: wall / CPU |")
    print("|---|---|---|")
    for name in commands:
        cells = []
        for label in trees:
            got = times[(name, label)][1:]
            wall = statistics.median(w for w, _ in got)
            cpu = statistics.median(c for _, c in got)
            cells.append(f"{wall:.3f} s / {cpu:.3f} s")
        print(f"| `mabgui {name}` | {cells[0]} | {cells[1]} |")
    print(
        f"| `-X importtime` of `mabgui copy --help`, top-level imports | "
        f"{imports['before']:.1f} ms | {imports['after']:.1f} ms |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
