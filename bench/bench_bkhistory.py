"""BuildKit history at scale: a builder with N real records (default 500).

Slow and optional (not run by CI). It makes its own docker-container builder in a private
DOCKER_CONFIG (so nobody else's current builder or history changes), with a buildkitd config
that keeps 2000 records (BuildKit keeps 50 by default), then fills it with real records from a
loop of tiny builds (``docker buildx bake`` of ``--batch`` one-step targets per call: each
target is its own solve, so its own record), and measures:

1. ``docker buildx history ls --format json`` (buildx alone);
2. ``bkhistory.merged(details=False)``: what the "All builds" list shows first (target ≤ 1 s);
3. ``mabgui history --fast --json`` as a whole process;
4. ``bkhistory.merged(details=True)`` with a cold and a warm inspect cache (platforms);
5. the GUI panel: ``refresh()`` until the first rows are in the model, and the longest
   event-loop stall meanwhile;
6. opening a 3 platforms × 30 steps record (``history logs`` + parse) (target ≤ 1 s).

Run: ``PYTHONPATH=. python bench/bench_bkhistory.py [--records 500] [--keep] [--work DIR]
[--quick]``. ``--work DIR`` keeps the builder, its private DOCKER_CONFIG and its records in DIR
and reuses them on the next run (filling only what is missing); ``--quick`` skips the slow
cold-inspect and GUI measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUILDER = "mabgui-bench-hist"
BASE = "127.0.0.1:5000/busybox:latest"


def sh(*argv: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and res.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:5])} failed: {res.stderr[-2000:]}")
    return res  # type: ignore[no-any-return]


def count_records() -> int:
    """BuildKit's own count (``buildctl debug histories`` in the builder's container): buildx's
    ``history ls`` shows 50 at most."""
    res = sh("docker", "exec", f"buildx_buildkit_{BUILDER}0", "buildctl", "debug", "histories",
             check=False)  # fmt: skip
    return max(0, len([line for line in res.stdout.splitlines() if line.strip()]) - 1)


def make_builder(work: Path) -> None:
    cfg = work / "buildkitd.toml"
    cfg.write_text("[history]\n  maxEntries = 2000\n  maxAge = 604800\n")
    res = sh("docker", "buildx", "inspect", BUILDER, check=False)
    if res.returncode != 0:
        sh(
            "docker",
            "buildx",
            "create",
            "--name",
            BUILDER,
            "--driver",
            "docker-container",
            "--driver-opt",
            "network=host",
            "--buildkitd-config",
            str(cfg),
            "--bootstrap",
        )


def fill(work: Path, target: int, batch: int) -> float:
    """Tiny builds until the builder has ``target`` records; returns the seconds spent."""
    ctx = work / "tiny"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM scratch\nARG N\nCOPY f /f\n")
    (ctx / "f").write_text("x\n")
    t0 = time.monotonic()
    have = count_records()
    round_no = 0
    while have < target:
        n = min(batch, target - have)
        targets = {
            f"t{round_no}_{i}": {
                "context": str(ctx),
                "args": {"N": f"{round_no}-{i}-{time.time()}"},
                "output": ["type=cacheonly"],
            }
            for i in range(n)
        }
        bake = work / "bake.json"
        bake.write_text(
            json.dumps({"group": {"default": {"targets": list(targets)}}, "target": targets})
        )
        sh(
            "docker",
            "buildx",
            "bake",
            f"--allow=fs.read={ctx}",
            "--builder",
            BUILDER,
            "--progress=quiet",
            "-f",
            str(bake),
        )
        have = count_records()
        round_no += 1
        print(f"  {have} records ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    return time.monotonic() - t0


def make_3x30(work: Path) -> str:
    ctx = work / "three-by-thirty"
    ctx.mkdir(exist_ok=True)
    runs = "\n".join(
        f'RUN echo "step {i} on $(uname -m)" && echo {i} > /s{i}' for i in range(1, 30)
    )
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\n{runs}\n")
    meta = work / "meta.json"
    sh(
        "docker",
        "buildx",
        "build",
        "--builder",
        BUILDER,
        "--platform",
        "linux/amd64,linux/arm64,linux/arm/v7",
        "--no-cache",
        "--metadata-file",
        str(meta),
        "--output",
        "type=cacheonly",
        str(ctx),
    )
    return str(json.loads(meta.read_text())["buildx.build.ref"])


def timed(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gui_first_rows() -> tuple[float, float]:
    import qasync
    from PySide6.QtWidgets import QApplication

    from mabgui.core.build import bkhistory
    from mabgui.ui.views.builds.bkhistory_panel import BkHistoryPanel

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def lister(all_builders: bool, pages: int | None) -> bkhistory.Listing:
        return await bkhistory.merged(BUILDER, details=False, pages=pages)

    async def measure() -> tuple[float, float]:
        panel = BkHistoryPanel(lister=lister)
        panel.show()
        worst = 0.0
        t0 = time.perf_counter()
        panel.refresh()
        last = time.perf_counter()
        first = None
        while panel.tasks.running("refresh"):
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now
            if first is None and panel.model.rowCount() > 0:
                first = now - t0
        panel.close()
        return first or 0.0, worst

    with loop:
        result: tuple[float, float] = loop.run_until_complete(measure())
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--batch", type=int, default=10, help="targets a bake (records a second)")
    ap.add_argument("--keep", action="store_true", help="keep the builder (and its records)")
    ap.add_argument("--work", type=Path, help="reuse (or make) the builder and records here")
    ap.add_argument("--quick", action="store_true", help="skip cold inspect and the GUI")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))  # still remove the builder
    if args.work is not None:
        args.keep = True
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="mabgui-bench-hist-"))
    config = work / "docker-config"
    config.mkdir(exist_ok=True)
    os.environ["DOCKER_CONFIG"] = str(config)
    os.environ["MABGUI_DATA_DIR"] = str(work / "data")
    from mabgui.core.build import bkhistory, bkhistory_parse

    try:
        make_builder(work)
        spent = fill(work, args.records, args.batch)
        saved = work / "ref-3x30.txt"
        ref = saved.read_text().strip() if saved.exists() else make_3x30(work)
        saved.write_text(ref)
        n = count_records()
        print(f"records: {n} (made in {spent:.0f} s)")
        raw = timed(
            lambda: sh(
                "docker", "buildx", "history", "ls", "--builder", BUILDER, "--format", "json"
            )
        )
        first_page = timed(lambda: asyncio.run(bkhistory.merged(BUILDER, details=False, pages=1)))
        listed = asyncio.run(bkhistory.merged(BUILDER, details=False)).records
        in_turn = timed(
            lambda: asyncio.run(bkhistory.list_buildkit(BUILDER, pages=bkhistory_parse.MAX_PAGES))
        )
        hints = work / "data" / "bkhistory-cache"

        def cold_list() -> None:
            for hint in hints.glob("ls-*.json"):
                hint.unlink()
            asyncio.run(bkhistory.merged(BUILDER, details=False))

        no_hint = timed(cold_list)
        fast = timed(lambda: asyncio.run(bkhistory.merged(BUILDER, details=False)))
        cli = timed(
            lambda: sh(
                sys.executable,
                "-m",
                "mabgui",
                "history",
                "--builder",
                BUILDER,
                "--fast",
                "--json",
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        )
        cold = warm = first = stall = float("nan")
        if not args.quick:
            shutil.rmtree(work / "data" / "bkhistory-cache", ignore_errors=True)
            t0 = time.perf_counter()
            asyncio.run(bkhistory.merged(BUILDER, details=True))
            cold = time.perf_counter() - t0
            warm = timed(lambda: asyncio.run(bkhistory.merged(BUILDER, details=True)))
            first, stall = gui_first_rows()
        opened = timed(lambda: asyncio.run(bkhistory.show(ref)))
        progress, _details = asyncio.run(bkhistory.show(ref))
        lanes = {str(p): len(lane.steps) for p, lane in progress.lanes.items()}
        load = os.getloadavg()[0]
        print(f"| what | time ({n} records, load {load:.1f} on {os.cpu_count()} cores) | target |")
        print("|---|---|---|")
        print(f"| `docker buildx history ls --format json` | {raw:.3f} s | |")
        print(
            "| `bkhistory.merged(details=False, pages=1)`: the newest 50, shown first "
            f"| {first_page:.3f} s | ≤ 1 s |"
        )
        print(
            f"| all {len(listed)} records, pages one after another (before) | {in_turn:.3f} s | |"
        )
        print(
            f"| `bkhistory.merged(details=False)`: all {len(listed)}, concurrent pages, first "
            f"listing (no hint) | {no_hint:.3f} s | ≤ 1 s |"
        )
        print(
            f"| `bkhistory.merged(details=False)`: all {len(listed)}, concurrent pages where "
            f"the last listing's began | {fast:.3f} s | ≤ 1 s |"
        )
        print(f"| `mabgui history --fast --json` (whole process) | {cli:.3f} s | |")
        print(f"| `bkhistory.merged(details=True)`, cold inspect cache | {cold:.3f} s | |")
        print(f"| `bkhistory.merged(details=True)`, warm cache | {warm:.3f} s | |")
        print(f"| GUI panel: refresh → first rows in the model | {first:.3f} s | ≤ 1 s |")
        print(f"| GUI panel: longest event-loop gap while loading | {stall * 1000:.0f} ms | |")
        print(
            f"| open the 3×30 record (`history logs` + parse), lanes {lanes} "
            f"| {opened:.3f} s | ≤ 1 s |"
        )
    finally:
        if not args.keep:
            sh("docker", "buildx", "rm", BUILDER, check=False)
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
