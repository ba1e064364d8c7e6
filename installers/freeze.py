#!/usr/bin/env python3
"""Build the one-folder app with PyInstaller and smoke-test it (any OS; stdlib only).

    python installers/freeze.py [--dist DIR] [--build DIR] [--no-self-test]

Outputs go to installers/dist/ and installers/build/ by default (both ignored by git).

1. reads the version from pyproject.toml (the one place it is written);
2. builds the wheel of this source tree and unpacks it into installers/build/pyi/stage, so the
   frozen app gets ``mabgui`` and ``mabgui.resources`` with their dist-info exactly as an
   installed copy has them (an editable install of the build interpreter is never frozen);
3. installs PyInstaller into the build interpreter if it is missing (a build tool only);
4. runs installers/mabgui.spec → DIST/mabgui/ (Linux, Windows) or DIST/mabgui.app (macOS);
5. runs the frozen ``--version`` and ``--self-test`` (offscreen) and fails if either fails.

The OS scripts (installers/linux/build-deb.sh, installers/macos/build-dmg.sh,
installers/windows/build.ps1) call this and then package DIST.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installers" / "mabgui.spec"
PYINSTALLER = "pyinstaller>=6.10"
SELF_TEST_TIMEOUT = 60  # seconds; the self-test takes about 2 s


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def frozen_executable(dist: Path) -> Path:
    """The console-capable executable of the build, for smoke tests."""
    if sys.platform == "win32":
        return dist / "mabgui" / "mabgui-cli.exe"
    if sys.platform == "darwin":
        return dist / "mabgui.app" / "Contents" / "MacOS" / "mabgui"
    return dist / "mabgui" / "mabgui"


def run(argv: list[str], **kwargs: object) -> None:
    print("+ " + " ".join(argv), flush=True)
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def stage_package(build: Path) -> Path:
    wheels = build / "wheel"
    stage = build / "stage"
    shutil.rmtree(wheels, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--wheel-dir", str(wheels), str(ROOT)],
    )  # fmt: skip
    (wheel,) = wheels.glob("mabgui-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(stage)
    return stage


def ensure_pyinstaller() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        run([sys.executable, "-m", "pip", "install", "--quiet", PYINSTALLER])


def self_test(dist: Path, version: str) -> None:
    exe = frozen_executable(dist)
    with tempfile.TemporaryDirectory(prefix="mabgui-freeze-") as home:
        # On Linux the app keeps its settings under XDG_CONFIG_HOME: leave the user's alone.
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=home)
        out = subprocess.run(
            [str(exe), "--version"], env=env, capture_output=True, text=True, timeout=120
        )
        if out.returncode != 0 or version not in out.stdout:
            raise SystemExit(
                f"freeze: `{exe} --version` printed {out.stdout!r} {out.stderr!r} "
                f"(exit {out.returncode}), expected version {version}"
            )
        print(f"+ {exe} --self-test", flush=True)
        proc = subprocess.Popen([str(exe), "--self-test"], env=env)
        try:
            code = proc.wait(timeout=SELF_TEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            threads = _threads(proc.pid)
            proc.kill()
            proc.wait()
            raise SystemExit(
                f"freeze: `{exe} --self-test` still running after {SELF_TEST_TIMEOUT} s "
                f"(it takes about 2 s); its threads were: {threads}"
            ) from None
        if code != 0:
            raise SystemExit(f"freeze: `{exe} --self-test` failed (exit {code})")


def _threads(pid: int) -> str:
    """Thread names and kernel wait channels of a hung process (Linux), for the error message."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return "(unknown on this OS)"
    found = []
    for task in sorted(tasks.iterdir()):
        try:
            comm = (task / "comm").read_text().strip()
            wchan = (task / "wchan").read_text().strip()
        except OSError:
            continue
        found.append(f"{comm}@{wchan or '-'}")
    return ", ".join(found)


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the one-folder mabgui app.")
    parser.add_argument(
        "--dist",
        type=Path,
        default=ROOT / "installers" / "dist",
        help="output folder (installers/dist)",
    )
    parser.add_argument(
        "--build",
        type=Path,
        default=ROOT / "installers" / "build" / "pyi",
        help="work folder (installers/build/pyi)",
    )
    parser.add_argument("--no-self-test", action="store_true", help="do not run the frozen app")
    args = parser.parse_args()
    started = time.monotonic()
    version = project_version()
    build: Path = args.build.resolve()
    dist: Path = args.dist.resolve()
    build.mkdir(parents=True, exist_ok=True)
    print(f"freeze: mabgui {version} for {sys.platform} with Python {sys.version.split()[0]}")
    stage = stage_package(build)
    ensure_pyinstaller()
    env = dict(
        os.environ,
        MABGUI_STAGE=str(stage),
        MABGUI_VERSION=version,
        PYTHONPATH=os.pathsep.join([str(stage), *filter(None, [os.environ.get("PYTHONPATH")])]),
        QT_QPA_PLATFORM="offscreen",  # PyInstaller's Qt hooks start Qt to find its plugins
    )
    run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(build / "work"), str(SPEC)],
        env=env,
    )  # fmt: skip
    if not args.no_self_test:
        self_test(dist, version)
    print(f"freeze: {frozen_executable(dist)} ready in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
