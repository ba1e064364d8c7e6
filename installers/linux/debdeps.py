#!/usr/bin/env python3
"""Compute the .deb Depends of a PyInstaller one-folder build (a small dpkg-shlibdeps).

    python3 installers/linux/debdeps.py /path/to/opt/mabgui

Reads the NEEDED entries of every ELF file in the folder (readelf), drops the libraries the
folder ships itself, finds each remaining one on this machine (ldconfig -p) and the Debian
package that owns it (dpkg -S). libc6 gets the highest GLIBC_x.y symbol version any file needs.
Prints one line: ``pkg-a, pkg-b (>= 1.2), …``. Exits 1, naming the libraries, when a needed
library is not installed here (install its package and build again: the smoke test needs it too).

Qt plugins that only some set-ups load (embedded-Linux platforms, the GTK theme, printing, SQL
drivers…) are left out: Qt skips a plugin whose libraries are missing and the app works.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

# Paths (relative to the build folder, fnmatch patterns) whose libraries are not required.
OPTIONAL = (
    "*/Qt/plugins/platforms/libqeglfs.so",
    "*/Qt/plugins/platforms/libqlinuxfb.so",
    "*/Qt/plugins/platforms/libqminimal*.so",
    "*/Qt/plugins/platforms/libqvnc.so",
    "*/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "*/Qt/plugins/egldeviceintegrations/*",
    "*/Qt/plugins/generic/*",
    "*/Qt/plugins/platformthemes/libqgtk3.so",
    "*/Qt/plugins/printsupport/*",
    "*/Qt/plugins/sqldrivers/*",
    "*/Qt/plugins/networkinformation/*",
    "*/Qt/plugins/tls/*",
    "*/Qt/lib/libQt6EglFS*",
)


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def needed(path: Path) -> list[str]:
    out = subprocess.run(
        ["readelf", "-d", "-W", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def glibc_versions(path: Path) -> set[tuple[int, ...]]:
    out = subprocess.run(
        ["readelf", "-V", "-W", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)}


def system_libraries() -> dict[str, str]:
    """soname → path, for the libraries of this machine's architecture (ldconfig -p)."""
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    want = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(machine, "")
    libs: dict[str, str] = {}
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"^\s*(\S+) \(([^)]*)\) => (\S+)$", out, re.M):
        soname, flags, path = m.groups()
        if want and want not in flags:
            continue
        libs.setdefault(soname, path)
    return libs


def owners(paths: list[str]) -> dict[str, str]:
    """path → package, trying both sides of the merged /usr (dpkg knows only one of them)."""
    candidates: dict[str, str] = {}
    for p in paths:
        candidates[p] = p
        other = p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p
        candidates[other] = p
        real = str(Path(p).resolve())
        candidates.setdefault(real, p)
    out = subprocess.run(
        ["dpkg-query", "-S", *candidates], capture_output=True, text=True
    ).stdout  # exit 1 when some are unknown; the known ones are printed all the same
    found: dict[str, str] = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        if path in candidates:
            pkg = pkgs.split(",")[0].strip().split(":")[0]  # "libfoo1:amd64" → "libfoo1"
            found.setdefault(candidates[path], pkg)
    return found


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]
    elves = [p for p in files if is_elf(p)]
    shipped = {p.name for p in root.rglob("*") if p.is_file()}
    required: set[str] = set()
    glibc: set[tuple[int, ...]] = set()
    for elf in elves:
        rel = str(elf.relative_to(root))
        if any(fnmatch.fnmatch("/" + rel, pat) for pat in OPTIONAL):
            continue
        required.update(n for n in needed(elf) if n not in shipped)
        glibc |= glibc_versions(elf)
    system = system_libraries()
    missing = sorted(n for n in required if n not in system)
    if missing:
        print(
            "debdeps: these libraries are needed but not installed on this machine: "
            + ", ".join(missing),
            file=sys.stderr,
        )
        return 1
    paths = sorted({system[n] for n in required})
    pkg_of = owners(paths)
    unowned = sorted(p for p in paths if p not in pkg_of)
    if unowned:
        print(f"debdeps: no Debian package owns: {', '.join(unowned)}", file=sys.stderr)
        return 1
    packages = set(pkg_of.values())
    deps = []
    for pkg in sorted(packages):
        if pkg == "libc6" and glibc:
            deps.append(f"libc6 (>= {'.'.join(map(str, max(glibc)))})")
        else:
            deps.append(pkg)
    print(", ".join(deps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
