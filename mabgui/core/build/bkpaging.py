"""Which ``history ls --filter startedAt<T`` pages to ask next, so that pages run concurrently.

buildx asks each BuildKit node for its newest 50 records (no flag lifts that), and each call
costs ~0.15 s of docker CLI and plugin start-up. Asked one after another (each page below the
previous page's oldest record) 500 records take 11 calls in a row. Here the first page tells how
many seconds 50 records span; the next pages are asked at once at bounds spaced by that span
below it. Every answer marks a range of whole seconds as known; ranges left between the pages
(the records were denser than guessed) are asked again in the next round, until nothing is left.

Only ``startedAt<T`` is used (``>`` would let BuildKit cut a page by its own limit before buildx
drops the records of the boundary second, so a full page could look short). ``T`` is a whole
second: a page "newest 50 below T" whose oldest record started in second ``o`` holds every
record of the seconds ``o+1 … T-1`` (and some of ``o``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mabgui.core.build.bkhistory_parse import LS_PAGE  # buildx: at most 50 a node

FILL = 0.9  # bounds are spaced 90% of a page's span apart: pages overlap a little


@dataclass
class Coverage:
    """The whole seconds below ``top`` whose records are all known."""

    top: int
    spans: list[int] = field(default_factory=list)  # whole seconds a full page made known
    _known: list[tuple[int, int]] = field(default_factory=list)  # [lo, hi)
    skipped: list[int] = field(default_factory=list)  # seconds with over a page of records

    def add(self, bound: int, seconds_by_node: Mapping[str, Sequence[int]]) -> None:
        """A page asked with ``startedAt<bound``: the start seconds of its records, per node."""
        full = [min(s) for s in seconds_by_node.values() if len(s) >= LS_PAGE]
        if not full:
            self._known.append((0, bound))  # no node had more: everything below is known
            return
        oldest = max(full)  # the node whose page reached back the least
        if oldest + 1 < bound:
            self._known.append((oldest + 1, bound))
            self.spans.append(bound - oldest - 1)
        else:  # a page of one second: its older records cannot be reached, go on below it
            self._known.append((oldest, bound))
            self.skipped.append(oldest)

    def gaps(self) -> list[tuple[int, int]]:
        """The ranges ``[lo, hi)`` still unknown, newest first (``lo`` 0: no older bound)."""
        out: list[tuple[int, int]] = []
        hi = self.top  # everything from here up is known
        for lo_k, hi_k in sorted(self._known, key=lambda r: r[1], reverse=True):
            if hi_k < hi:
                out.append((hi_k, hi))
            hi = min(hi, lo_k)
            if hi <= 0:
                return out
        out.append((0, hi))
        return out

    def span(self) -> int:
        """Whole seconds a full page makes known (the median seen), at least 1."""
        if not self.spans:
            return 1
        ordered = sorted(self.spans)
        return max(1, ordered[len(ordered) // 2])

    def plan(self, slots: int, hint: Sequence[int] = ()) -> list[int]:
        """The bounds to ask next: the top of every gap, then pages lower in the gaps: where
        the last listing's records (``hint``: their start seconds) say pages begin, else
        guessed from the span of the pages seen so far."""
        gaps = self.gaps()
        bounds = [hi for _, hi in gaps]
        guessed = []
        for lo, hi in gaps:
            replayed = replay(hint, lo, hi)
            bounds += replayed
            if not replayed and not (hint and lo == 0):  # the hint has no older ones: trust it
                guessed.append((lo, hi))
        step = max(1.0, self.span() * FILL)
        for lo, hi in sorted(guessed, key=lambda g: g[1] - g[0], reverse=True):
            k = 1
            while len(bounds) < slots and (guess := hi - round(k * step)) > lo:
                bounds.append(guess)
                k += 1
        return list(dict.fromkeys(bounds))[:slots]


def replay(hint: Sequence[int], lo: int, hi: int) -> list[int]:
    """The bounds that paging down from ``hi`` to ``lo`` one page after another would use, if
    the records were those of ``hint`` (start seconds): known in advance, they can be asked at
    once. A stale hint only costs a page more or less; what is known comes from the answers."""
    ordered = sorted((s for s in hint if lo <= s < hi), reverse=True)
    out: list[int] = []
    bound, i = hi, 0
    while True:
        while i < len(ordered) and ordered[i] >= bound:
            i += 1
        page = ordered[i : i + LS_PAGE]
        if len(page) < LS_PAGE:
            return out
        oldest = page[-1]
        bound = oldest + 1 if oldest + 1 < bound else oldest
        if bound <= lo:
            return out
        out.append(bound)


def start(seconds_by_node: Mapping[str, Sequence[int]]) -> Coverage:
    """Coverage after the first page (no filter): everything newer than its oldest is known."""
    every = [s for seconds in seconds_by_node.values() for s in seconds]
    cov = Coverage(top=max(every, default=0) + 1)
    cov.add(cov.top, seconds_by_node)
    return cov


def by_node(refs_and_seconds: Iterable[tuple[str, float | None]]) -> dict[str, list[int]]:
    """Start seconds grouped by node (``builder/node/id`` refs); records without a start are
    left out."""
    out: dict[str, list[int]] = {}
    for ref, started in refs_and_seconds:
        node = ref.rsplit("/", 1)[0]
        out.setdefault(node, [])
        if started is not None:
            out[node].append(int(started))
    return out
