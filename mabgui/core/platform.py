"""The one type every platform string goes through (``os/arch[/variant]``).

buildx, BuildKit, binfmt_misc, Debian and the OCI image spec each spell architectures their
own way (``aarch64``, ``armhf``, ``x86_64``, ``ppc64el``...). :func:`Platform.parse` accepts all
of them and normalises to the OCI spelling that ``docker buildx build --platform`` takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mabgui.core.errors import MabguiError

# Alias -> (arch, variant). A variant of None keeps whatever variant the string carried.
_ARCH_ALIASES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "x64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armv8": ("arm64", None),
    "arm64v8": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armv7l": ("arm", "v7"),
    "arm32v7": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "armv6": ("arm", "v6"),
    "armv6l": ("arm", "v6"),
    "arm32v6": ("arm", "v6"),
    "armv5": ("arm", "v5"),
    "ppc64el": ("ppc64le", None),
    "powerpc64le": ("ppc64le", None),
    "i686": ("386", None),
    "i586": ("386", None),
    "i486": ("386", None),
    "i386": ("386", None),
    "x86": ("386", None),
    "loongarch64": ("loong64", None),
    "mips64el": ("mips64le", None),
    "mipsel": ("mipsle", None),
}

# Architectures the OCI image spec / Go know; anything else is refused as unknown.
KNOWN_ARCHES = frozenset(
    {
        "amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le",
        "mips64", "mipsle", "mips", "loong64", "wasm", "unknown",
    }
)  # fmt: skip
KNOWN_OSES = frozenset(
    {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "wasip1", "js", "unknown"}
)
_VARIANT = re.compile(r"^v\d+$")


class PlatformError(MabguiError, ValueError):
    """A platform string that does not name a known os/arch/variant."""


@dataclass(frozen=True, order=True)
class Platform:
    """A normalised ``os/arch[/variant]`` triple; ``str()`` gives the buildx spelling."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``linux/arm64``, ``arm64``, ``linux/aarch64``, ``armhf``, ``linux/arm/v7``...

        A bare architecture means Linux. Raises :class:`PlatformError` with the reason.
        """
        raw = text.strip().lower()
        if not raw:
            raise PlatformError("empty platform")
        parts = raw.split("/")
        if len(parts) > 3 or any(not p for p in parts):
            raise PlatformError(f"{text!r} is not a platform: expected os/arch[/variant]")
        if len(parts) == 1 or parts[0] not in KNOWN_OSES:
            if len(parts) == 3:
                raise PlatformError(f"{text!r}: unknown operating system {parts[0]!r}")
            if len(parts) == 2 and parts[0] not in KNOWN_OSES and not _VARIANT.match(parts[1]):
                raise PlatformError(f"{text!r}: unknown operating system {parts[0]!r}")
            parts = ["linux", *parts]
        os_name, arch = parts[0], parts[1]
        variant = parts[2] if len(parts) == 3 else ""
        if arch in _ARCH_ALIASES:
            arch, alias_variant = _ARCH_ALIASES[arch]
            if alias_variant and not variant:
                variant = alias_variant
        if arch not in KNOWN_ARCHES:
            raise PlatformError(
                f"{text!r}: unknown architecture {arch!r} "
                f"(known: {', '.join(sorted(KNOWN_ARCHES - {'unknown'}))})"
            )
        if variant and not _VARIANT.match(variant):
            raise PlatformError(f"{text!r}: variant {variant!r} is not of the form v<N>")
        # Normalisations the OCI spec and containerd apply: arm64/v8 is plain arm64, and arm
        # without a variant means arm/v7 as buildx builds it.
        if arch == "arm64" and variant == "v8":
            variant = ""
        if arch == "arm" and not variant:
            variant = "v7"
        if arch == "amd64" and variant == "v1":
            variant = ""
        return cls(os_name, arch, variant)

    @classmethod
    def try_parse(cls, text: str) -> Platform | None:
        try:
            return cls.parse(text)
        except PlatformError:
            return None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @property
    def family(self) -> Platform:
        """The platform without its variant level (``linux/amd64/v3`` → ``linux/amd64``).

        amd64 micro-architecture levels are runnable by any amd64 host; arm variants are not
        interchangeable in the same way, so they are kept.
        """
        if self.architecture == "amd64" and self.variant:
            return Platform(self.os, self.architecture)
        return self


@dataclass(frozen=True)
class PlatformList:
    """A platform list as a tool printed it: the platforms, those marked ``*``, the unreadable."""

    platforms: tuple[Platform, ...] = ()
    marked: tuple[Platform, ...] = ()  # buildx's ``*``: fixed with ``create --platform``
    invalid: tuple[str, ...] = ()


def read_platform_list(values: str | Iterable[str]) -> PlatformList:
    """The one platform-list parser: comma-separated items, in order, without duplicates.

    Lenient (tool output): an item that is not a platform lands in ``invalid`` instead of
    raising; a trailing ``*`` marks the item. :func:`parse_platform_list` is its strict form.
    """
    seen: dict[Platform, None] = {}
    marked: dict[Platform, None] = {}
    invalid: list[str] = []
    for value in [values] if isinstance(values, str) else values:
        for item in value.split(","):
            text = item.strip()
            if not text:
                continue
            platform = Platform.try_parse(text.rstrip("*"))
            if platform is None:
                invalid.append(text)
                continue
            seen.setdefault(platform, None)
            if text.endswith("*"):
                marked.setdefault(platform, None)
    return PlatformList(tuple(seen), tuple(marked), tuple(invalid))


def parse_platform_list(
    values: str | Iterable[str], *, allow_empty: bool = False
) -> list[Platform]:
    """User input (``--platform a,b --platform c``) → platforms, in order, without duplicates.

    Raises :class:`PlatformError` naming the first bad item (or, unless ``allow_empty``, when
    nothing was given).
    """
    parsed = read_platform_list(values)
    if parsed.invalid:
        Platform.parse(parsed.invalid[0])  # raises with the precise reason
        raise PlatformError(f"{parsed.invalid[0]!r} is not a platform")
    if parsed.marked:
        raise PlatformError(f"'{parsed.marked[0]}*': '*' is not part of a platform")
    if not parsed.platforms and not allow_empty:
        raise PlatformError("no platform given")
    return list(parsed.platforms)


def host_platform() -> Platform:
    """The platform of the machine this process runs on (what builds natively here)."""
    import platform as _host_platform  # here: the stdlib module costs ~5 ms to import

    machine = _host_platform.machine() or "amd64"
    system = _host_platform.system().lower() or "linux"
    try:
        parsed = Platform.parse(f"{machine}")
    except PlatformError:
        parsed = Platform("linux", machine.lower())
    return Platform(
        system if system in KNOWN_OSES else "linux", parsed.architecture, parsed.variant
    )


def is_emulated(platform: Platform, native: Platform) -> bool:
    """True when ``platform`` runs under emulation on a node whose native platform is ``native``.

    amd64 levels count as native on amd64; arm/v7 and arm/v6 on an arm64 host that can run
    32-bit code are still reported as emulated since that is not guaranteed.
    """
    return platform.family != native.family
