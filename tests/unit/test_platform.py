from __future__ import annotations

import pytest

from mabgui.core.platform import (
    Platform,
    PlatformError,
    is_emulated,
    parse_platform_list,
    read_platform_list,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("amd64", "linux/amd64"),
        ("x86_64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("armhf", "linux/arm/v7"),
        ("armv7", "linux/arm/v7"),
        ("linux/arm", "linux/arm/v7"),
        ("armel", "linux/arm/v6"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("ppc64el", "linux/ppc64le"),
        ("riscv64", "linux/riscv64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("i686", "linux/386"),
        ("loongarch64", "linux/loong64"),
        ("windows/amd64", "windows/amd64"),
        (" Linux/ARM64 ", "linux/arm64"),
    ],
)
def test_parse_normalises_aliases(text: str, expected: str) -> None:
    assert str(Platform.parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("linux/sparc", "unknown architecture 'sparc'"),
        ("plan9/amd64/v1/x", "expected os/arch"),
        ("linux//v7", "expected os/arch"),
        ("linux/arm/seven", "variant 'seven'"),
        ("beos/amd64/v2", "unknown operating system"),
    ],
)
def test_parse_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(PlatformError, match=reason):
        Platform.parse(text)


def test_platform_list_keeps_order_and_drops_duplicates() -> None:
    got = parse_platform_list("linux/arm64, amd64,aarch64,linux/arm/v7")
    assert [str(p) for p in got] == ["linux/arm64", "linux/amd64", "linux/arm/v7"]
    with pytest.raises(PlatformError):
        parse_platform_list(" , ")
    assert parse_platform_list([], allow_empty=True) == []


def test_platform_list_takes_repeated_flags() -> None:
    got = parse_platform_list(["linux/amd64,arm64", "linux/arm/v7", "amd64"])
    assert [str(p) for p in got] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    with pytest.raises(PlatformError, match="unknown architecture 'sparc'"):
        parse_platform_list(["linux/amd64", "linux/sparc"])
    with pytest.raises(PlatformError, match="not part of a platform"):
        parse_platform_list("linux/arm64*")


def test_read_platform_list_is_lenient_for_tool_output() -> None:
    got = read_platform_list(["linux/arm64*", " linux/amd64", "linux/sparc", "linux/arm64"])
    assert [str(p) for p in got.platforms] == ["linux/arm64", "linux/amd64"]
    assert [str(p) for p in got.marked] == ["linux/arm64"]
    assert got.invalid == ("linux/sparc",)


def test_emulated_compares_families() -> None:
    native = Platform.parse("linux/amd64")
    assert not is_emulated(Platform.parse("linux/amd64/v3"), native)
    assert is_emulated(Platform.parse("linux/arm64"), native)
    assert is_emulated(Platform.parse("linux/386"), native)
