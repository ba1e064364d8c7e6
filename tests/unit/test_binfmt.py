"""binfmt_misc parsing, registration lines and the local backend over recorded handler files."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui.core import binfmt, log
from mabgui.core.binfmt import BinfmtError, LocalBinfmt, RegisterSpec
from mabgui.core.platform import Platform

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binfmt"
P = Platform.parse


@pytest.fixture
def host_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "binfmt_misc"
    shutil.copytree(FIXTURES / "extra", dest)
    return dest


def test_recorded_host_handlers() -> None:
    state = binfmt.read_state(FIXTURES / "host")
    assert state.mounted
    assert state.enabled
    assert [h.name for h in state.handlers] == [
        "qemu-aarch64", "qemu-arm", "qemu-ppc64le", "qemu-riscv64", "qemu-s390x",
    ]  # fmt: skip
    by_name = {h.name: h for h in state.handlers}
    assert by_name["qemu-aarch64"].platforms == (P("linux/arm64"),)
    assert by_name["qemu-arm"].platforms == (P("linux/arm/v7"), P("linux/arm/v6"))
    # ppc64le's mask ignores the high byte of e_machine: still derived from the magic.
    assert by_name["qemu-ppc64le"].platforms == (P("linux/ppc64le"),)
    assert by_name["qemu-s390x"].platforms == (P("linux/s390x"),)
    s390x = by_name["qemu-s390x"]
    assert s390x.enabled
    assert s390x.flags == "POF"
    assert s390x.fix_binary
    assert s390x.interpreter == "/usr/libexec/qemu-binfmt/s390x-binfmt-P"
    assert s390x.kind == "magic"
    assert s390x.offset == 0
    assert all(not h.warnings() for h in state.handlers)
    assert state.enabled_platforms() >= {P("linux/arm64"), P("linux/s390x"), P("linux/riscv64")}


def test_extension_and_non_qemu_handlers() -> None:
    state = binfmt.read_state(FIXTURES / "extra")
    ext = state.handler("mabgui-test-ext")
    assert ext is not None
    assert ext.kind == "extension"
    assert ext.extension == ".mbgt"
    assert ext.match == ".mbgt"
    assert not ext.enabled
    assert ext.interpreter == "/bin/sh"
    assert ext.flags == ""
    assert ext.platforms == ()
    assert not ext.is_qemu
    assert ext.warnings() == []
    py = state.handler("python3.11")
    assert py is not None
    assert py.kind == "magic"
    assert py.magic == "a70d0d0a"
    assert py.enabled
    assert py.platforms == ()
    assert not py.is_qemu
    assert py.warnings() == []  # no F needed for non-emulators
    data = state.to_json()
    assert {h["name"] for h in data["handlers"]} >= {"python3.11", "mabgui-test-ext"}
    assert (
        next(h for h in data["handlers"] if h["name"] == "mabgui-test-ext")["type"] == "extension"
    )


def test_platform_comes_from_the_magic_not_the_name(tmp_path: Path) -> None:
    root = tmp_path / "bm"
    shutil.copytree(FIXTURES / "host", root)
    # A handler named after nothing in particular still serves s390x by its ELF magic.
    (root / "qemu-s390x").rename(root / "mystery")
    handler = binfmt.read_state(root).handler("mystery")
    assert handler is not None
    assert handler.platforms == (P("linux/s390x"),)


def test_missing_fix_binary_warns() -> None:
    text = (FIXTURES / "host" / "qemu-arm").read_text().replace("flags: POF", "flags: PO")
    handler = binfmt.parse_handler("qemu-arm", text)
    assert not handler.fix_binary
    assert any("flag F" in w for w in handler.warnings())


def test_recorded_fix_binary_registration() -> None:
    handler = binfmt.parse_handler(
        "qemu-s390x", (FIXTURES / "fix-binary" / "qemu-s390x").read_text()
    )
    assert handler.interpreter == "/usr/bin/qemu-s390x-static"
    assert handler.flags == "F"
    assert handler.fix_binary
    assert handler.platforms == (P("linux/s390x"),)
    # What mabgui registered is exactly what it computes for s390x.
    magic, mask = binfmt.elf_magic(P("linux/s390x"))
    assert (handler.magic, handler.mask) == (magic.hex(), mask.hex())


def test_unmounted_root(tmp_path: Path) -> None:
    state = binfmt.read_state(tmp_path)
    assert not state.mounted
    assert state.handlers == []


def test_daemon_dump_matches_the_proc_files() -> None:
    state = binfmt.parse_dump((FIXTURES / "daemon-dump.txt").read_text(), "daemon")
    assert state.mounted
    assert state.enabled
    assert state.writable
    assert state.handlers == binfmt.read_state(FIXTURES / "host").handlers
    assert not binfmt.parse_dump("", "daemon").mounted


@pytest.mark.parametrize("platform", binfmt.INSTALLABLE_PLATFORMS)
def test_elf_magic_round_trips(platform: str) -> None:
    magic, mask = binfmt.elf_magic(P(platform))
    assert len(magic) == len(mask) == 20
    assert P(platform) in binfmt.platforms_from_magic(magic.hex(), mask.hex())


def test_elf_magic_matches_the_recorded_debian_magic() -> None:
    for name in ("qemu-aarch64", "qemu-arm", "qemu-riscv64", "qemu-s390x", "qemu-ppc64le"):
        recorded = binfmt.parse_handler(name, (FIXTURES / "host" / name).read_text())
        magic, _ = binfmt.elf_magic(recorded.platforms[0])
        assert magic.hex() == recorded.magic


def test_register_lines_from_binfmt_d() -> None:
    (spec,) = binfmt.read_conf(FIXTURES / "binfmt.d" / "qemu-s390x.conf")
    assert spec.name == "qemu-s390x"
    assert spec.kind == "M"
    assert spec.flags == "OPF"
    assert spec.interpreter == "/usr/libexec/qemu-binfmt/s390x-binfmt-P"
    assert spec.platforms == (P("linux/s390x"),)
    recorded = binfmt.read_state(FIXTURES / "host").handler("qemu-s390x")
    assert recorded is not None
    assert (spec.magic.hex(), spec.mask.hex()) == (recorded.magic, recorded.mask)
    assert binfmt.parse_register_line(spec.line()) == spec
    (py,) = binfmt.read_conf(FIXTURES / "binfmt.d" / "python3.11.conf")
    assert py.magic == bytes.fromhex("a70d0d0a")
    assert py.mask == b""
    assert py.flags == ""
    (llvm,) = binfmt.read_conf(FIXTURES / "binfmt.d" / "llvm-14-runtime.binfmt.conf")
    assert llvm.magic == b"BC"
    assert llvm.interpreter == "/usr/bin/lli-14"
    ext = binfmt.parse_register_line(":mabgui-test-ext:E::mbgt::/bin/sh:")
    assert ext.kind == "E"
    assert ext.extension == "mbgt"
    assert ext.line() == ":mabgui-test-ext:E::mbgt::/bin/sh:"


def test_spec_for_platform_line() -> None:
    spec = binfmt.spec_for_platform(P("s390x"), "/usr/bin/qemu-s390x-static")
    assert spec.name == "qemu-s390x"
    assert spec.flags == "F"
    line = spec.line()
    assert line.startswith(":qemu-s390x:M::\\x7f\\x45\\x4c\\x46\\x02\\x02")
    assert line.endswith(":/usr/bin/qemu-s390x-static:F")
    assert (
        binfmt.spec_from_handler(
            binfmt.parse_handler("qemu-s390x", (FIXTURES / "fix-binary" / "qemu-s390x").read_text())
        )
        == spec
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RegisterSpec("bad/name", "/bin/sh", "", "E", extension="x"), "not a valid handler name"),
        (RegisterSpec("status", "/bin/sh", "", "E", extension="x"), "not a valid handler name"),
        (RegisterSpec("x", "bin/sh", "", "E", extension="x"), "absolute path"),
        (RegisterSpec("x", "/bin/sh", "FZ", "E", extension="x"), "unknown flag"),
        (RegisterSpec("x", "/bin/sh", "F", "M", 0, b"\x7fELF", b"\xff"), "must be as long"),
        (RegisterSpec("x", "/bin/sh", "F", "M", 0, b""), "needs magic"),
        (RegisterSpec("x", "/bin/sh", "F", "M", 250, b"\x7fELF\x00\x00\x00\x00"), "must fit"),
    ],
)
def test_invalid_specs_are_refused(spec: RegisterSpec, message: str) -> None:
    with pytest.raises(BinfmtError, match=message):
        spec.line()


def test_bad_register_lines() -> None:
    for line in ("", "nope", ":a:X::m::/bin/sh:", ":a:M:zz:m::/bin/sh:"):
        with pytest.raises(BinfmtError):
            binfmt.parse_register_line(line)


def test_parse_platforms() -> None:
    assert binfmt.parse_platforms(["arm64,riscv64", "linux/arm/v7"]) == [
        P("linux/arm64"), P("linux/riscv64"), P("linux/arm/v7"),
    ]  # fmt: skip
    assert len(binfmt.parse_platforms(["all"])) == len(binfmt.INSTALLABLE_PLATFORMS)
    with pytest.raises(BinfmtError, match="unknown architecture"):
        binfmt.parse_platforms(["sparc"])
    with pytest.raises(BinfmtError, match="no platform"):
        binfmt.parse_platforms([" , "])


# --- the local backend, over a copy of the recorded files ----------------------------------------


async def test_local_disable_writes_zero(host_copy: Path) -> None:
    backend = LocalBinfmt(host_copy)
    handler = await backend.set_enabled("qemu-s390x", False)
    assert (host_copy / "qemu-s390x").read_text() == "0"
    assert handler.name == "qemu-s390x"
    assert not handler.enabled


class Records(logging.Handler):
    """The messages of the ``binfmt`` logger (which does not propagate once logging is set up)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def binfmt_log() -> Iterator[Records]:
    logger = log.get("binfmt")
    records = Records()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)
    logger.setLevel(level)


async def test_every_write_is_logged_with_its_outcome(host_copy: Path, binfmt_log: Records) -> None:
    backend = LocalBinfmt(host_copy)
    await backend.set_enabled("qemu-s390x", False)
    assert binfmt_log.messages == [
        f"INFO disable qemu-s390x: writing '0' to {host_copy}/qemu-s390x",
        f"INFO disable qemu-s390x: the kernel accepted the write to {host_copy}/qemu-s390x",
        "INFO disable qemu-s390x: done, the handler reads disabled",
    ]
    binfmt_log.messages.clear()
    with pytest.raises(BinfmtError):
        await backend.set_enabled("qemu-s390x", True)  # a plain file never reads "enabled"
    assert binfmt_log.messages[-1] == "WARNING enable qemu-s390x: the handler still reads disabled"
    binfmt_log.messages.clear()
    (host_copy / "register").unlink()
    (host_copy / "register").mkdir()  # a write that fails
    spec = binfmt.parse_register_line(":mabgui-t:E::mbgt::/bin/sh:")
    with pytest.raises(BinfmtError, match="Is a directory"):
        await backend.register(spec)
    assert binfmt_log.messages == [
        f"INFO register mabgui-t: writing ':mabgui-t:E::mbgt::/bin/sh:' to {host_copy}/register",
        f"WARNING register mabgui-t: writing ':mabgui-t:E::mbgt::/bin/sh:' to {host_copy}/register"
        " failed: Is a directory",
    ]


async def test_local_remove_writes_minus_one(host_copy: Path) -> None:
    backend = LocalBinfmt(host_copy)
    with pytest.raises(BinfmtError, match="did not remove"):
        await backend.remove("qemu-s390x")  # a plain file stays: the kernel would delete it
    assert (host_copy / "qemu-s390x").read_text() == "-1"


async def test_local_unknown_handler(host_copy: Path) -> None:
    backend = LocalBinfmt(host_copy)
    with pytest.raises(BinfmtError, match="no handler named 'qemu-sparc'") as info:
        await backend.set_enabled("qemu-sparc", True)
    assert "qemu-s390x" in info.value.hint
    for name in ("../status", "status", "register", "-x", "--all", "a/b", "a:b", "x" * 65):
        with pytest.raises(BinfmtError, match="is not a valid handler name"):
            await backend.remove(name)
    assert (host_copy / "status").read_text() == "enabled\n"


async def test_local_unmounted(tmp_path: Path) -> None:
    backend = LocalBinfmt(tmp_path)
    with pytest.raises(BinfmtError, match="not mounted") as info:
        await backend.set_enabled("qemu-arm", True)
    assert info.value.command == f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}"


async def test_remove_all_needs_the_confirmation(host_copy: Path) -> None:
    backend = LocalBinfmt(host_copy)
    for wrong in ("", "yes", "REMOVE EVERY HANDLER"):
        with pytest.raises(BinfmtError, match="explicit confirmation"):
            await backend.remove_all(wrong)
    assert (host_copy / "status").read_text() == "enabled\n"
    await backend.remove_all(binfmt.REMOVE_ALL_CONFIRMATION)
    assert (host_copy / "status").read_text() == "-1"


def _fake_interpreters(tmp_path: Path, *names: str) -> str:
    d = tmp_path / "bin"
    d.mkdir()
    for name in names:
        exe = d / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    return str(d)


def test_plan_install(host_copy: Path, tmp_path: Path) -> None:
    bindir = _fake_interpreters(tmp_path, "qemu-mips64el-static", "qemu-i386")
    backend = LocalBinfmt(host_copy, interpreter_dirs=[bindir])
    specs = backend.plan_install([P("mips64le"), P("386")])
    assert [(s.name, s.interpreter, s.flags) for s in specs] == [
        ("qemu-mips64el", f"{bindir}/qemu-mips64el-static", "F"),
        ("qemu-i386", f"{bindir}/qemu-i386", "F"),
    ]
    # Already there and enabled: skipped and reported.
    already: list[str] = []
    specs = backend.plan_install([P("mips64le"), P("s390x")], already)
    assert [s.name for s in specs] == ["qemu-mips64el"]
    assert already == ["qemu-s390x"]
    # There but disabled: refused before anything is written.
    s390x = host_copy / "qemu-s390x"
    s390x.write_text(s390x.read_text().replace("enabled", "disabled", 1))
    with pytest.raises(BinfmtError, match="already has a handler, disabled: qemu-s390x") as info:
        backend.plan_install([P("mips64le"), P("s390x")])
    assert "mabgui emulators enable qemu-s390x" in info.value.hint
    with pytest.raises(BinfmtError, match="qemu-loongarch64-static") as info:
        backend.plan_install([P("loong64")])
    assert "qemu-user-static" in info.value.hint
    assert (host_copy / "register").read_text() == ""


def test_commands_to_run_by_hand(host_copy: Path, tmp_path: Path) -> None:
    backend = LocalBinfmt(host_copy)
    assert (
        backend.command_for("disable", "qemu-s390x") == f"echo 0 | sudo tee {host_copy}/qemu-s390x"
    )
    assert (
        backend.command_for("enable", "qemu-s390x") == f"echo 1 | sudo tee {host_copy}/qemu-s390x"
    )
    assert backend.command_for("remove", "qemu-arm") == f"echo -1 | sudo tee {host_copy}/qemu-arm"
    bindir = _fake_interpreters(tmp_path, "qemu-s390x-static")
    backend = LocalBinfmt(host_copy, interpreter_dirs=[bindir])
    install = backend.command_for("install", "s390x")
    assert install.startswith("echo ':qemu-s390x:M::\\x7f")
    assert install.endswith(f":{bindir}/qemu-s390x-static:F' | sudo tee {host_copy}/register")
