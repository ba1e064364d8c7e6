"""Corrupt history, stored values, full disks and odd options (issue 15, build side; no engine)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import resource
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui import cli
from mabgui.core import build as B
from mabgui.core import log
from mabgui.core import progress as P
from mabgui.core.build import history
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

HERE = FIXTURES / "progress"
CTX = HERE / "ctx-multi"
AMD64 = Platform.parse("linux/amd64")
DIGEST = "sha256:" + "c" * 64


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MABGUI_DATA_DIR", str(data))
    return data


def _save(
    raw: bytes | None = None,
    spec: B.BuildSpec | None = None,
    values: tuple[str, ...] = (),
    root: Path | None = None,
) -> history.HistoryEntry:
    raw = raw if raw is not None else (HERE / "fail-arm64.rawjson").read_bytes()
    parser = P.ProgressParser([AMD64], AMD64)
    parser.feed(raw)
    parser.close(1)
    spec = spec or B.BuildSpec(context=str(CTX), platforms=[AMD64])
    return history.save(
        spec, parser.progress, gzip.compress(raw), started=1.8e9, secret_values=values, root=root
    )


# --- case 2: a malformed history entry ----------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        {"platforms": "x"},
        {"started": "abc"},
        {"started": None},
        {"spec": [1]},
        {"exit_code": "one"},
        {"duration_s": {"s": 1}},
        {"summary": 5},
    ],
)
def test_a_malformed_entry_is_skipped_and_reported(
    damage: dict[str, object], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _save()
    bad = _save()
    meta = json.loads((bad.path / history.META_FILE).read_text())
    (bad.path / history.META_FILE).write_text(json.dumps({**meta, **damage}))
    listing = history.read_entries()
    assert [e.id for e in listing.entries] == [good.id]
    (reason,) = listing.skipped
    assert bad.id in reason
    assert [e.id for e in history.list_entries()] == [good.id]
    # `mabgui history` lists the rest and says what it skipped; --json stays JSON.
    assert cli.main(["history", "--mine"]) == 0
    out, err = capsys.readouterr()
    assert good.id in out
    assert f"saved build {bad.id!r} skipped" in err
    assert cli.main(["history", "--mine", "--json"]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [good.id]
    # The end of the next build (save, then prune) is not stopped by it.
    assert _save().id
    with pytest.raises(history.HistoryError, match="damaged"):
        history.get(bad.id)


def test_odd_spec_fields_do_not_stop_a_replay(capsys: pytest.CaptureFixture[str]) -> None:
    entry = _save()
    meta = json.loads((entry.path / history.META_FILE).read_text())
    meta["spec"]["platforms"] = 5
    (entry.path / history.META_FILE).write_text(json.dumps(meta))
    assert history.load(entry.id).steps
    assert cli.main(["replay", entry.id, "--json"]) == 1  # the saved build failed
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_history_is_private_and_written_whole(data_dir: Path) -> None:
    entry = _save()
    base = data_dir / "builds"
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o700
    for name in (history.META_FILE, history.STREAM_FILE):
        assert stat.S_IMODE((entry.path / name).stat().st_mode) == 0o600
    assert [p.name for p in base.iterdir()] == [entry.id]  # no temporary left


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes beyond ``limit`` bytes fail with EFBIG, as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_leaves_no_half_written_build(data_dir: Path) -> None:
    _save()  # the folder exists
    with _file_size_limit(200), pytest.raises(OSError, match="too large"):
        _save()
    names = [p.name for p in (data_dir / "builds").iterdir()]
    assert len(names) == 1
    assert len(history.list_entries()) == 1


def test_a_missing_or_unwritable_folder_is_an_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((NotADirectoryError, FileExistsError)):
        _save(root=blocker / "builds")


# --- case 5: no build-arg value or secret stored ------------------------------------------------


def _stream_with(values: dict[str, str]) -> bytes:
    """A stream where BuildKit expanded the values into a step name, a log line and an error."""
    v = "sha256:" + "d" * 64
    name = f"[linux/amd64 1/1] RUN echo {values['GITHUB_PAT']} {values['VERSION']}"
    log_line = f"token={values['GITHUB_PAT']} secret={values['secret']}\n".encode()
    lines = [
        {"vertexes": [{"digest": v, "name": name, "started": "2026-11-29T16:22:37Z"}]},
        {"logs": [{"vertex": v, "stream": 1, "data": base64.b64encode(log_line).decode()}]},
        {
            "vertexes": [
                {
                    "digest": v,
                    "name": name,
                    "started": "2026-11-29T16:22:37Z",
                    "completed": "2026-11-29T16:22:38Z",
                    "error": f"exit 1: {values['DB_PASSWORD']}",
                }
            ]
        },
    ]
    text = "\n".join(json.dumps(line, indent=2 if i == 0 else None) for i, line in enumerate(lines))
    return (text + f"\nERROR: failed: {values['DB_PASSWORD']}\n").encode()


def _every_file(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            yield path, data


def test_no_build_arg_value_or_secret_is_stored(data_dir: Path, tmp_path: Path) -> None:
    secret_file = tmp_path / "npmrc"
    secret_file.write_text("s3cret-file-content\n")
    values = {
        "GITHUB_PAT": "ghp_notsecretlooking123",  # a name the former filter let through
        "VERSION": "1.2.3-plainvalue",
        "DB_PASSWORD": "hunter2-pw",
        "secret": "s3cret-file-content",
    }
    spec = B.BuildSpec(
        context=str(CTX),
        platforms=[AMD64],
        build_args={k: v for k, v in values.items() if k != "secret"},
        secrets=[B.Secret("npmrc", str(secret_file))],
    )
    run = B.BuildRun(spec, save_history=False)  # registers the values with the log
    assert sorted(run.secret_values) == sorted({*values.values(), "s3cret-file-content\n"})
    for value in values.values():
        assert log.redact(f"x {value} y") == "x *** y"
    entry = _save(_stream_with(values), spec, tuple(run.secret_values))
    seen = 0
    for path, data in _every_file(data_dir):
        seen += 1
        for value in values.values():
            assert value.encode() not in data, f"{value!r} in {path}"
    assert seen == 2
    meta = json.loads((entry.path / history.META_FILE).read_text())
    assert meta["spec"]["build_args"] == ["DB_PASSWORD", "GITHUB_PAT", "VERSION"]
    # The scrubbed stream still replays: same steps, values masked.
    replayed = history.load(entry.id)
    (step,) = replayed.steps.values()
    assert step.name == "RUN echo *** ***"
    assert replayed.log.text(0) == "token=*** secret=***"
    assert step.error == "exit 1: ***"


# --- case 10, 11: options ------------------------------------------------------------------------


def test_record_to_a_missing_folder_is_refused_before_the_build(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["build", str(CTX), "--record", "/nonexistent/dir/x.rawjson", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    error = json.loads(out)
    assert error["ok"] is False
    assert "folder '/nonexistent/dir' does not exist" in error["error"]
    assert "nothing was started" in err


def test_a_damaged_saved_stream_is_reported_as_damaged(capsys: pytest.CaptureFixture[str]) -> None:
    entry = _save()
    entry.stream_path.write_bytes(b"\x1f\x8b\x08\x00 damaged")
    assert cli.main(["replay", entry.id, "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is False
    assert "damaged" in err
    assert "does not exist" not in err


def test_history_limit_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    _save()
    assert cli.main(["history", "--limit", "-1"]) == 2
    assert "expected 0 or more" in capsys.readouterr().err
    with pytest.raises(history.HistoryError, match="negative"):
        history.read_entries(-1)
    assert cli.main(["history", "--limit", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_platform_without_steps_is_not_ok() -> None:
    windows = Platform.parse("windows/amd64")
    progress = P.parse_bytes(
        (HERE / "cached-rebuild.rawjson").read_bytes(), [AMD64, windows], AMD64, exit_code=0
    )
    lanes = progress.summary()["platforms"]
    assert lanes["windows/amd64"] == {"ok": False, "steps": [], "error": None}
    assert lanes["linux/amd64"]["ok"] is True


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "/nonexistent.rawjson"],
        ["build", "--platform", "linux/sparc", str(CTX)],
        ["build", "--build-arg", "=x", str(CTX)],
        ["build", "/nonexistent/context"],
    ],
)
def test_json_means_json_on_stdout_in_every_outcome(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, "--json"]) == 1
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["ok"] is False
    assert data["error"]
    assert "mabgui: error:" in err


def test_spec_values_given_on_the_command_line_are_not_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["build", "--build-arg", "1BAD=hunter2-value", str(CTX)]) == 1
    assert "hunter2-value" not in capsys.readouterr().err


def test_saved_entries_written_by_version_1_still_read(data_dir: Path) -> None:
    entry = _save()
    meta = json.loads((entry.path / history.META_FILE).read_text())
    meta.update(version=1, native="linux/amd64", spec={**meta["spec"], "build_args": {"A": "***"}})
    (entry.path / history.META_FILE).write_text(json.dumps(meta))
    again = history.get(entry.id)
    assert again.native == ()  # the machine's platform, not the builder's: not trusted
    assert B.BuildSpec.from_json(again.spec).build_args == {"A": ""}
    assert os.path.isdir(again.path)
