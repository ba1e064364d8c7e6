"""Bench: wall time of a real 3-platform build through mabgui vs the same buildx CLI command.

Both run the same build of bench/data/ctx-wall (5 RUN steps × 200 log lines, amd64 native,
arm64 and arm/v7 under QEMU, ``--no-cache --output type=cacheonly``), alternating
CLI / mabgui so that load changes on the shared machine hit both alike:

* CLI:    ``docker buildx build --builder default --progress=plain … CTX`` (output drained),
* mabgui: the whole ``mabgui build … --json CTX`` process (validation, rawjson parsing,
          per-platform model, history saved to a temporary data dir).

Target (issue Builds): median wall-time ratio mabgui / CLI ≤ 1.05.

    python bench/bench_build_wall.py [--runs 3] [--record]

``--record`` rewrites the "build wall time" section of bench/RESULTS.md. Needs the engine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CTX = ROOT / "bench" / "data" / "ctx-wall"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## build wall time (mabgui vs CLI)"
PLATFORMS = "linux/amd64,linux/arm64,linux/arm/v7"
TARGET = 1.05
COMMON = ["--platform", PLATFORMS, "--no-cache", "--output", "type=cacheonly"]


def _mabgui() -> list[str]:
    exe = shutil.which("mabgui")
    return [exe] if exe else [sys.executable, "-m", "mabgui"]


CPU: dict[str, list[float]] = {"cli": [], "mabgui": []}


def timed(argv: list[str], env: dict[str, str], kind: str = "") -> float:
    """Wall time of ``argv``; its client-side CPU time (user+sys of it and its children)
    goes to ``CPU[kind]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({res.returncode}): {res.stderr[-2000:]!r}")
    if kind:
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        CPU[kind].append(cpu)
    return took


def run(runs: int) -> dict[str, object]:
    cli = ["docker", "buildx", "build", "--builder", "default", "--progress=plain", *COMMON]
    cli.append(str(CTX))
    ours = [*_mabgui(), "build", "--builder", "default", *COMMON, "--json", str(CTX)]
    pairs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="mabgui-bench-") as data:
        env = {**os.environ, "MABGUI_DATA_DIR": data}
        timed(cli, env)  # warm-up: base image metadata, QEMU pages, Python bytecode
        timed(ours, env)
        for i in range(runs):
            if i % 2 == 0:
                c = timed(cli, env, "cli")
                m = timed(ours, env, "mabgui")
            else:
                m = timed(ours, env, "mabgui")
                c = timed(cli, env, "cli")
            pairs.append((c, m))
            print(f"run {i + 1}: CLI {c:.2f}s  mabgui {m:.2f}s  ratio {m / c:.3f}", flush=True)
    ratios = [m / c for c, m in pairs]
    return {
        "runs": runs,
        "pairs": pairs,
        "cli_median": statistics.median(c for c, _ in pairs),
        "mabgui_median": statistics.median(m for _, m in pairs),
        "ratio_median": statistics.median(ratios),
        "cpu_cli": statistics.median(CPU["cli"]),
        "cpu_mabgui": statistics.median(CPU["mabgui"]),
        "ratio_of_medians": statistics.median(m for _, m in pairs)
        / statistics.median(c for c, _ in pairs),
    }


def report(r: dict[str, object]) -> str:
    pairs = r["pairs"]
    assert isinstance(pairs, list)
    ratio = float(r["ratio_median"])  # type: ignore[arg-type]
    rows = [f"| {i + 1} | {c:.2f} s | {m:.2f} s | {m / c:.3f} |" for i, (c, m) in enumerate(pairs)]
    return "\n".join(
        [
            SECTION,
            "",
            f"`python bench/bench_build_wall.py --runs {r['runs']}` — {time.strftime('%Y-%m-%d')},"
            f" Python {platform.python_version()}, 2 shared cores (other helpers' tests running"
            " on the same daemon, so single runs are noisy).",
            "",
            f"Build: `bench/data/ctx-wall` for {PLATFORMS} (arm under QEMU), `--no-cache "
            "--output type=cacheonly`. CLI = `docker buildx build --progress=plain …`; mabgui = "
            "the whole `mabgui build … --json` process (validation, rawjson parsing, model, "
            "history). Runs alternate CLI/mabgui after one warm-up each.",
            "",
            "| run | CLI | mabgui | ratio |",
            "|---|---|---|---|",
            *rows,
            f"| **median** | {float(r['cli_median']):.2f} s | "  # type: ignore[arg-type]
            f"{float(r['mabgui_median']):.2f} s | **{ratio:.3f}** "  # type: ignore[arg-type]
            f"(target ≤ {TARGET}) {'✔' if ratio <= TARGET else '✘'} |",
            "",
            f"Client-side CPU time (user+sys of the command and its children, median): CLI "
            f"{float(r['cpu_cli']):.2f} s, mabgui {float(r['cpu_mabgui']):.2f} s — "  # type: ignore[arg-type]
            "the work mabgui adds (Python start-up, validation via `docker buildx ls`, "
            "parsing, history), independent of the machine's load. The build itself runs "
            "in dockerd/BuildKit, outside both.",
            "",
        ]
    )


def record(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[nxt + 1 :] if nxt >= 0 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    r = run(args.runs)
    section = report(r)
    print(section)
    if args.record:
        record(section)
        print(f"recorded in {RESULTS}")
    return 0 if float(r["ratio_median"]) <= TARGET else 1  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
