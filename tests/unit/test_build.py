"""Build spec → argv, checks before start, history and the build/replay CLI (no engine needed)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from mabgui import cli
from mabgui.core import build as B
from mabgui.core.build import history
from mabgui.core.platform import Platform, PlatformError
from tests.conftest import FIXTURES

HERE = FIXTURES / "progress"
CTX = HERE / "ctx-multi"
THREE = [Platform.parse(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7")]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MABGUI_DATA_DIR", str(data))
    return data


def test_argv_full_spec() -> None:
    spec = B.BuildSpec(
        context="ctx",
        dockerfile="ctx/Dockerfile.alt",
        target="final",
        platforms=THREE,
        tags=["127.0.0.1:5000/app:1", "127.0.0.1:5000/app:latest"],
        build_args={"VERSION": "1.2", "EMPTY": ""},
        secrets=[B.Secret("npmrc", "/home/me/.npmrc")],
        output=B.OutputKind.PUSH,
        no_cache=True,
        pull=True,
        provenance=False,
        sbom=True,
        builder="multi",
    )
    assert spec.argv("/tmp/meta.json") == [
        "docker", "buildx", "build", "--builder", "multi", "--progress=rawjson",
        "--platform", "linux/amd64,linux/arm64,linux/arm/v7",
        "--file", "ctx/Dockerfile.alt", "--target", "final",
        "--tag", "127.0.0.1:5000/app:1", "--tag", "127.0.0.1:5000/app:latest",
        "--build-arg", "VERSION=1.2", "--build-arg", "EMPTY=",
        "--secret", "id=npmrc,src=/home/me/.npmrc",
        "--push", "--no-cache", "--pull", "--provenance=false", "--sbom=true",
        "--metadata-file", "/tmp/meta.json", "--", "ctx",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("output", "dest", "expected"),
    [
        (B.OutputKind.LOAD, "", ["--load"]),
        (B.OutputKind.LOCAL, "out", ["--output", "type=local,dest=out"]),
        (B.OutputKind.OCI, "img.tar", ["--output", "type=oci,dest=img.tar"]),
        (B.OutputKind.CACHE, "", ["--output", "type=cacheonly"]),
        (B.OutputKind.DEFAULT, "", []),
    ],
)
def test_argv_outputs(output: B.OutputKind, dest: str, expected: list[str]) -> None:
    argv = B.BuildSpec(context=".", output=output, output_dest=dest).argv()
    # No --builder: buildx (and mabgui) use the current builder.
    assert argv[:4] == ["docker", "buildx", "build", "--progress=rawjson"]
    assert argv[4:-2] == expected
    assert argv[-2:] == ["--", "."]
    assert "--platform" not in argv


def test_spec_json_round_trip_without_secret_values() -> None:
    spec = B.BuildSpec(
        context=str(CTX),
        platforms=THREE,
        tags=["127.0.0.1:5000/x:1"],
        build_args={"VERSION": "1", "NPM_TOKEN": "s3cr3t", "db_password": "hunter2"},
        secrets=[B.Secret("npmrc", "/run/npmrc")],
        provenance=True,
    )
    data = spec.to_json()
    text = json.dumps(data)
    assert "s3cr3t" not in text
    assert "hunter2" not in text
    assert data["build_args"] == ["NPM_TOKEN", "VERSION", "db_password"]  # names only
    assert data["secrets"] == [{"id": "npmrc", "src": "/run/npmrc"}]
    again = B.BuildSpec.from_json(json.loads(text))
    assert again.build_args == {"NPM_TOKEN": "", "VERSION": "", "db_password": ""}
    again.build_args = dict(spec.build_args)
    assert again == spec
    # An older file kept {name: value}: the names come back, never the values.
    old = {**data, "build_args": {"API": "***", "V": "1"}}
    assert B.BuildSpec.from_json(old).build_args == {"API": "", "V": ""}


@pytest.mark.parametrize(
    "data",
    [
        [],
        "x",
        {"context": 5},
        {"platforms": "linux/amd64"},
        {"platforms": ["linux/sparc"]},
        {"secrets": [{"id": "x"}]},
        {"output": "tarball"},
        {"no_cache": "yes"},
        {"build_args": 7},
    ],
)
def test_spec_from_json_refuses_damaged_data(data: object) -> None:
    with pytest.raises(B.SpecError, match="spec"):
        B.BuildSpec.from_json(data)


def test_context_named_like_a_flag_stays_a_positional() -> None:
    argv = B.BuildSpec(context="--help").argv()
    assert argv[-2:] == ["--", "--help"]
    assert argv.index("--") == len(argv) - 2


def test_check_spec_accepts_a_good_spec() -> None:
    spec = B.BuildSpec(context=str(CTX), platforms=THREE, tags=["127.0.0.1:5000/a/b:c"])
    v = B.check_spec(spec)
    assert v.ok, v.errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context": "/nonexistent/ctx"}, "build context '/nonexistent/ctx' does not exist"),
        ({"context": str(CTX / "hello.txt")}, "is not a directory"),
        ({"context": str(HERE)}, "Dockerfile"),  # no Dockerfile in that folder
        ({"dockerfile": "/nonexistent/Dockerfile"}, "Dockerfile '/nonexistent/Dockerfile' not"),
        ({"output": B.OutputKind.PUSH}, "push needs at least one tag"),
        ({"output": B.OutputKind.LOCAL}, "output local: give the destination"),
        ({"output": B.OutputKind.OCI, "output_dest": "/nonexistent/dir/x.tar"}, "does not exist"),
        ({"secrets": [B.Secret("npmrc", "/nonexistent/npmrc")]}, "file '/nonexistent/npmrc'"),
        ({"build_args": {"1BAD": "x"}}, "build arg '1BAD' is not a valid name"),
        ({"target": "bad target"}, "is not a stage name"),
    ],
)
def test_check_spec_refuses_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"context": str(CTX), **kwargs}
    v = B.check_spec(B.BuildSpec(**args))  # type: ignore[arg-type]
    assert not v.ok
    assert any(message in e for e in v.errors), v.errors


def test_parse_helpers() -> None:
    assert B.parse_platforms(["linux/amd64,arm64", "linux/arm/v7", "amd64"]) == THREE
    with pytest.raises(PlatformError, match=r"invalid --platform: .*unknown architecture 'sparc'"):
        B.parse_platforms(["linux/sparc"])
    assert B.parse_build_arg("A=b=c") == ("A", "b=c")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        B.parse_build_arg("=x")
    assert B.Secret.parse("id=npmrc,src=/a/b") == B.Secret("npmrc", "/a/b")
    assert B.Secret.parse("id=x,source=/p") == B.Secret("x", "/p")
    assert B.Secret.parse("npmrc=/a/b") == B.Secret("npmrc", "/a/b")
    with pytest.raises(ValueError, match="only file secrets"):
        B.Secret.parse("id=x,env=TOKEN")
    with pytest.raises(ValueError, match="expected id=ID,src=PATH"):
        B.Secret.parse("justtext")


def test_metadata_digest_from_recorded_metadata_file() -> None:
    digest = B.read_metadata_digest(str(HERE / "multi-platform.metadata.json"))
    assert digest == "sha256:eb98b368a78e72d3deb5b0950009eebea120d892c0246562d71548de0219a369"
    assert B.read_metadata_digest("/nonexistent.json") == ""
    assert B.metadata_digest({"containerimage.descriptor": {"digest": "sha256:1"}}) == "sha256:1"
    assert B.metadata_digest([]) == ""


# --- history ------------------------------------------------------------------------------------


def _saved(name: str, exit_code: int) -> history.HistoryEntry:
    from mabgui.core.progress import ProgressParser

    raw = (HERE / name).read_bytes()
    parser = ProgressParser(THREE)
    parser.feed(raw)
    parser.close(exit_code, digest="sha256:abc" if exit_code == 0 else "", duration_s=3.5)
    spec = B.BuildSpec(context=str(CTX), platforms=THREE, build_args={"API_TOKEN": "t0k3n"})
    return history.save(spec, parser.progress, gzip.compress(raw), started=1_800_000_000.0)


def test_history_save_list_load_delete(data_dir: Path) -> None:
    ok = _saved("multi-platform.rawjson", 0)
    failed = _saved("fail-arm64.rawjson", 1)
    assert ok.path.parent == data_dir / "builds"
    assert history.history_dir() == data_dir / "builds"
    entries = history.list_entries()
    assert {e.id for e in entries} == {ok.id, failed.id}
    assert "t0k3n" not in (ok.path / history.META_FILE).read_text()
    again = history.get(failed.id)
    assert not again.ok
    assert again.platforms == {
        "linux/amd64": "done", "linux/arm64": "error", "linux/arm/v7": "canceled",
    }  # fmt: skip
    assert again.exit_code == 1
    reopened = history.load(failed.id)
    assert reopened.summary()["platforms"]["linux/arm64"]["ok"] is False
    assert reopened.summary()["platforms"] == failed.summary["platforms"]
    ok_again = history.load(ok)
    assert ok_again.result is not None
    assert ok_again.result.digest == "sha256:abc"
    assert ok_again.duration_s == 3.5
    history.delete(ok.id)
    assert [e.id for e in history.list_entries()] == [failed.id]
    with pytest.raises(history.HistoryError, match="no saved build"):
        history.get(ok.id)
    with pytest.raises(history.HistoryError, match="is not a build id"):
        history.get("../etc")


def test_history_prune_and_damaged_entries(data_dir: Path) -> None:
    for _ in range(3):
        _saved("cached-rebuild.rawjson", 0)
    (data_dir / "builds" / "junk").mkdir()
    (data_dir / "builds" / "junk" / history.META_FILE).write_text("{not json")
    assert len(history.list_entries()) == 3
    assert history.prune(1) == 2
    assert len(history.list_entries()) == 1
    entry = history.list_entries()[0]
    entry.stream_path.write_bytes(b"\x1f\x8b damaged")
    with pytest.raises(history.HistoryError, match="damaged"):
        history.load(entry)


def test_open_recording_plain_gz_and_errors(tmp_path: Path) -> None:
    plain = history.open_recording(HERE / "fail-arm64.rawjson")
    gz = tmp_path / "ci.rawjson.gz"
    gz.write_bytes(gzip.compress((HERE / "fail-arm64.rawjson").read_bytes()))
    assert history.open_recording(gz).summary() == plain.summary()
    with pytest.raises(history.HistoryError, match="does not exist"):
        history.open_recording(tmp_path / "missing.json")
    with pytest.raises(history.HistoryError, match="is a directory"):
        history.open_recording(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(history.HistoryError, match="holds no build progress"):
        history.open_recording(empty)
    text = tmp_path / "log.txt"
    text.write_text("#1 [internal] load build definition\n#1 DONE 0.0s\n")
    with pytest.raises(history.HistoryError, match="not a --progress=rawjson stream"):
        history.open_recording(text)


def test_read_recording_gives_the_unparsed_bytes_and_refuses_like_open(tmp_path: Path) -> None:
    raw = (HERE / "fail-arm64.rawjson").read_bytes()
    gz = tmp_path / "ci.rawjson.gz"
    gz.write_bytes(gzip.compress(raw))
    assert history.read_recording(HERE / "fail-arm64.rawjson") == raw
    assert history.read_recording(gz) == raw
    with pytest.raises(history.HistoryError, match="does not exist"):
        history.read_recording(tmp_path / "missing.json")
    with pytest.raises(history.HistoryError, match="is a directory"):
        history.read_recording(tmp_path)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(raw)[:40])
    with pytest.raises(history.HistoryError, match="damaged"):
        history.read_recording(cut)


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_replay_failed_build_names_platform_and_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["replay", str(HERE / "fail-arm64.rawjson"), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    summary = json.loads(out)
    assert set(summary) == {"ok", "error", "duration_s", "digest", "platforms", "shared"}
    assert summary["ok"] is False
    assert summary["platforms"]["linux/arm64"]["ok"] is False
    assert "mabgui: error: build failed on linux/arm64 at [2/3] RUN echo" in err
    assert "exit code: 1" in err
    assert "checking aarch64" in err  # the step's last log line as the hint
    assert "linux/amd64 at" not in err


def test_cli_replay_ok_text(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["replay", str(HERE / "cross-stage.rawjson")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "linux/amd64" in out
    assert "linux/arm64      ok" in out
    assert "(emulated)" in out
    assert err == ""


def test_cli_replay_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "/nonexistent.rawjson"]) == 1
    assert "'/nonexistent.rawjson' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--platform", "linux/sparc"], "invalid --platform: 'linux/sparc': unknown architecture"),
        (["--platform", "linux/arm64/v8/x"], "invalid --platform"),
        (["--build-arg", "=x"], "--build-arg ''=…: expected NAME=VALUE"),
        (["--secret", "nope"], "--secret 'nope'"),
        (["--push", "--load"], "give only one of --push, --load, --output"),
        (["--output", "type=tar,dest=x"], "unsupported type 'tar'"),
    ],
)
def test_cli_build_refuses_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["build", *argv, str(CTX)]) == 1
    assert message in capsys.readouterr().err


def test_cli_build_bad_flag_value_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "--provenance", "maybe", str(CTX)]) == 2
    assert "expected true or false" in capsys.readouterr().err
    assert cli.main(["build", "--provenance", "maybe", str(CTX), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False
    assert out["kind"] == "usage"
    assert "expected true or false" in out["error"]


def test_cli_replay_shows_the_emulation_cost(capsys: pytest.CaptureFixture[str]) -> None:
    stream = Path(__file__).parents[2] / "bench" / "data" / "progress-3x30x200.rawjson.gz"
    assert cli.main(["replay", str(stream)]) == 0
    out = capsys.readouterr().out
    assert "emulation cost (same RUN step, native linux/amd64 vs QEMU):" in out
    assert "compared linux/amd64 natively with linux/" in out
    slow = [line for line in out.splitlines() if "× slower" in line]
    assert len(slow) == 3
    assert all(float(line.split("×")[0].split()[-1]) > 2 for line in slow)
    assert "FROM --platform=$BUILDPLATFORM" in out


def test_cli_history_and_replay_by_id(capsys: pytest.CaptureFixture[str]) -> None:
    # --mine: mabgui's own builds only (BuildKit's records: tests/unit/test_bkhistory.py)
    assert cli.main(["history", "--mine"]) == 0
    assert "no saved builds in" in capsys.readouterr().out
    saved = _saved("fail-arm64.rawjson", 1)
    assert cli.main(["history", "--mine", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == saved.id
    assert listed["spec"]["context"] == str(CTX.resolve())
    assert listed["spec"]["build_args"] == ["API_TOKEN"]
    assert cli.main(["history", "--mine"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(saved.id)
    assert "FAILED" in line
    assert "linux/arm64" in line
    assert cli.main(["replay", saved.id, "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["platforms"]["linux/arm64"]["ok"] is False
    assert "build failed on linux/arm64" in err
