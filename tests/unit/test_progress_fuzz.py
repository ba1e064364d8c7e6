"""A fuzz pass over the progress parser (issue 15): no input may raise, in bounded time.

Fragments of a real stream, generated SolveStatus-shaped JSON (one-line and pretty-printed)
and random bytes, joined and fed in random chunk sizes with a random record cap. Bounded:
``max_examples`` keeps it well under 20 s on a loaded CI box.
"""

from __future__ import annotations

import json

import pytest

from mabgui.core import progress as P
from mabgui.core.platform import Platform
from tests.unit.test_progress_hostile import REAL, check_model

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AMD64 = Platform.parse("linux/amd64")

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["sha256:" + "a" * 64, "2026-11-29T16:22:37.389Z", "aGVsbG8K", "[1/2] RUN"]),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["vertexes", "statuses", "logs", "warnings", "digest", "name", "vertex", "id", "data",
     "stream", "started", "completed", "current", "total", "error", "cached", "inputs", "level"]
)  # fmt: skip
_status = st.recursive(
    st.dictionaries(_keys, _json, max_size=5),
    lambda inner: st.dictionaries(_keys, st.lists(inner, max_size=3) | _json, max_size=5),
    max_leaves=12,
)
_piece = st.one_of(
    _status.map(lambda v: json.dumps(v).encode() + b"\n"),
    _status.map(lambda v: json.dumps(v, indent=2).encode() + b"\n"),
    st.binary(max_size=40),
    st.integers(0, len(REAL) - 1).flatmap(
        lambda a: st.integers(a, min(len(REAL), a + 4000)).map(lambda b: REAL[a:b])
    ),
    st.sampled_from([b"{\n", b"}\n", b"\n", b"ERROR: x\n", b"{", b"\r\n", b"\xff"]),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_piece, max_size=12), chunk=st.integers(1, 5000), cap=st.integers(2, 3000))
def test_fuzz_the_parser_never_raises(pieces: list[bytes], chunk: int, cap: int) -> None:
    data = b"".join(pieces)
    parser = P.ProgressParser([AMD64], None, max_record=cap)
    for start in range(0, len(data), chunk):
        parser.feed(data[start : start + chunk])
    parser.close(None)
    check_model(parser.progress)
