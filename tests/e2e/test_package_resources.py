"""The packaging inputs: icons match the SVG, .ico/.icns hold every size, the desktop file and
AppStream metainfo describe the app id and the pyproject version, the installer scripts parse,
and debdeps computes a Depends line from a real ELF file.

The full build (PyInstaller, .deb, dpkg -i, smoke test under Xvfb) is installers/ci-smoke.sh, a
separate CI step: it takes about a minute and a half, too long for the test suite.
"""

from __future__ import annotations

import configparser
import fnmatch
import importlib.util
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from mabgui import APP_ID

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
ICONS = RESOURCES / "icons"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pyproject() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _qimage(data: bytes) -> object:
    from PySide6.QtGui import QImage

    image = QImage.fromData(data)
    assert not image.isNull()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def test_png_icons_match_the_svg(qapp: object) -> None:
    """Editing resources/mabgui.svg without running make-icons.py leaves stale PNGs."""
    from PySide6.QtGui import QImage

    make_icons = _load(RESOURCES / "make-icons.py", "make_icons")
    fresh = make_icons.generate()
    for size in PNG_SIZES:
        name = f"mabgui-{size}.png"
        committed = _qimage((ICONS / name).read_bytes())
        rendered = _qimage(fresh[name])
        assert isinstance(committed, QImage)
        assert isinstance(rendered, QImage)
        assert (committed.width(), committed.height()) == (size, size)
        # Qt versions may antialias a little differently: compare with a small tolerance.
        worst = 0
        for y in range(size):
            for x in range(0, size, max(1, size // 64)):
                a, b = committed.pixel(x, y), rendered.pixel(x, y)
                worst = max(
                    worst, *(abs(((a >> s) & 255) - ((b >> s) & 255)) for s in (0, 8, 16, 24))
                )
        assert worst <= 24, f"{name} differs from the SVG: run python resources/make-icons.py"


def test_ico_holds_every_windows_size(qapp: object) -> None:
    data = (ICONS / "mabgui.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        w, h, _, _, planes, bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        size = w or 256
        assert (w, planes, bits) == (h, 1, 32)
        blob = data[offset : offset + length]
        assert len(blob) == length
        if blob.startswith(b"\x89PNG"):
            image = _qimage(blob)
            assert image.width() == size  # type: ignore[attr-defined]
        else:  # BITMAPINFOHEADER: height counts the AND mask too
            header_size, bw, bh = struct.unpack_from("<Iii", blob)
            assert (header_size, bw, bh) == (40, size, 2 * size)
        sizes.append(size)
    assert {16, 24, 32, 48, 256} <= set(sizes)


def test_icns_holds_every_macos_size(qapp: object) -> None:
    data = (ICONS / "mabgui.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack_from(">I", data, 4)[0] == len(data)
    expected = {b"icp4": 16, b"icp5": 32, b"ic07": 128, b"ic08": 256, b"ic09": 512, b"ic10": 1024}
    found = {}
    pos = 8
    while pos < len(data):
        ostype, length = data[pos : pos + 4], struct.unpack_from(">I", data, pos + 4)[0]
        found[ostype] = _qimage(data[pos + 8 : pos + length]).width()  # type: ignore[attr-defined]
        pos += length
    assert pos == len(data)
    for ostype, size in expected.items():
        assert found.get(ostype) == size, ostype


def test_desktop_file_launches_the_app_by_its_id() -> None:
    path = RESOURCES / f"{APP_ID}.desktop"
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "mabgui"  # /usr/bin/mabgui of the .deb
    assert entry["Icon"] == APP_ID  # the hicolor icons are installed under the app id
    assert entry["Terminal"] == "false"
    assert "Development;" in entry["Categories"]
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(path)], check=True)


def test_metainfo_describes_this_app_and_version() -> None:
    path = RESOURCES / f"{APP_ID}.metainfo.xml"
    root = ET.parse(path).getroot()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    version = _pyproject()["project"]["version"]  # type: ignore[index]
    releases = [r.get("version") for r in root.iter("release")]
    assert version in releases, (
        f'add <release version="{version}" date=…> with its notes to {path.name}'
    )
    if shutil.which("appstreamcli"):
        subprocess.run(["appstreamcli", "validate", "--no-net", str(path)], check=True,
                       capture_output=True)  # fmt: skip


def test_packaged_resources_are_package_data() -> None:
    """Every file the packages take from resources/ is also installed by pip (mabgui.resources)."""
    tool = _pyproject()["tool"]
    patterns = tool["setuptools"]["package-data"]["mabgui.resources"]  # type: ignore[index]
    files = [p.relative_to(RESOURCES).as_posix() for p in RESOURCES.rglob("*") if p.is_file()]
    needed = [f for f in files if not f.endswith((".py", ".pyc")) and "__pycache__" not in f]
    assert "icons/mabgui-256.png" in needed
    for f in needed:
        assert any(fnmatch.fnmatch(f, pat) for pat in patterns), f


def test_installer_scripts_parse() -> None:
    for script in [*ROOT.glob("installers/**/*.sh")]:
        subprocess.run(["bash", "-n", str(script)], check=True)
    compile((ROOT / "installers" / "mabgui.spec").read_text(), "mabgui.spec", "exec")
    ET.parse(ROOT / "installers" / "macos" / "entitlements.plist")
    iss = (ROOT / "installers" / "windows" / "mabgui.iss").read_text()
    assert f"AppId={APP_ID}" in iss
    for section in ("[Setup]", "[Files]", "[Icons]", "[Code]"):
        assert section in iss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Debian packaging")
def test_debdeps_finds_the_packages_of_an_elf_file(tmp_path: Path) -> None:
    if not (shutil.which("dpkg-query") and shutil.which("readelf")):
        pytest.fail("debdeps needs dpkg-query and readelf (binutils)")
    shutil.copy2("/bin/ls", tmp_path / "ls")  # links libc.so.6 (and libselinux on Debian)
    out = subprocess.run(
        [sys.executable, str(ROOT / "installers" / "linux" / "debdeps.py"), str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    deps = out.stdout.strip().split(", ")
    assert any(d.startswith("libc6 (>= 2.") for d in deps), deps
