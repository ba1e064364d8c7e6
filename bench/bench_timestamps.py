"""parse_timestamp (datetime.fromisoformat) on the timestamps of a real recorded build.

PYTHONPATH=$PWD python bench/bench_timestamps.py
"""

from __future__ import annotations

import gzip
import re
import timeit
from pathlib import Path

from mabgui.core.progress.timestamps import parse_timestamp

DATA = Path(__file__).parent / "data" / "progress-3x30x200.rawjson.gz"


def main() -> None:
    text = gzip.decompress(DATA.read_bytes()).decode()
    stamps = re.findall(r'"(?:started|completed)":\s*"([^"]+)"', text)
    runs = 20
    best = min(timeit.repeat(lambda: [parse_timestamp(t) for t in stamps], number=runs, repeat=5))
    print(f"{len(stamps)} timestamps: {best / runs / len(stamps) * 1e9:.0f} ns each")


if __name__ == "__main__":
    main()
