"""The base × platform matrix widget over a computed coverage (resolution against the registry:
tests/e2e/gui/test_gui_assemble.py)."""

from __future__ import annotations

from mabgui.core.registry.bases import BaseCoverage, Coverage, parse_stages
from mabgui.ui.views.manifests.bases_matrix import BasesMatrix

DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM golang:1 AS build
FROM example.com/base:1 AS app
FROM app AS test
FROM scratch
"""


def test_matrix_marks_missing_platforms(qtbot) -> None:  # type: ignore[no-untyped-def]
    build, app, test, scratch = parse_stages(DOCKERFILE)
    targets = ("linux/amd64", "linux/s390x")
    result = Coverage(targets, (
        BaseCoverage(build, "golang:1", "sha256:" + "a" * 64, ("linux/amd64",), (),
                     ("linux/amd64",)),
        BaseCoverage(app, "example.com/base:1", "sha256:" + "b" * 64,
                     ("linux/amd64", "linux/arm64"), ("linux/s390x",), targets),
        BaseCoverage(test, "app", needed=targets, note="built from the stage app"),
        BaseCoverage(scratch, "scratch", needed=targets),
    ))  # fmt: skip
    matrix = BasesMatrix()
    qtbot.addWidget(matrix)
    matrix.set_coverage(result)
    assert matrix.table.rowCount() == 4
    assert matrix.table.columnCount() == 5
    assert matrix.cell(0, "linux/s390x") == "build"
    assert matrix.cell(1, "linux/amd64") == "✓"
    assert matrix.cell(1, "linux/s390x") == "✗"
    assert matrix.cell(2, "linux/s390x") == "—"
    assert matrix.cell(3, "linux/amd64") == "—"
    assert matrix.warnings == ["example.com/base:1 (app) has no linux/s390x"]
    assert "linux/s390x" in matrix.summary.text()
