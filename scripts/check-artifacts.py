"""Checks the artifacts scripts/dist built, and fails loudly when one is not what it says.

    check-artifacts.py wheel <wheel> <expected platform tag>
    check-artifacts.py npm <main package .tgz> <platform package .tgz>...

For the wheel: abi3, the platform tag in its name, auditwheel agreeing on that tag, and a shared
library without symbol tables or debug info. For npm: the main package carries the loader and
types but no binary, and names each platform package as an optional dependency of its own
version; each platform package carries one stripped addon that needs glibc 2.17 at most, and
declares the os, cpu and libc npm installs it on. Runs under the dist venv (pyelftools comes
with auditwheel).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

MAX_GLIBC = (2, 17)


def fail(message: str) -> None:
    print(f"check-artifacts: {message}", file=sys.stderr)
    sys.exit(1)


def check_elf(name: str, data: bytes) -> None:
    """A stripped library whose every glibc symbol version is at most MAX_GLIBC."""
    elf = ELFFile(io.BytesIO(data))
    kept = [s.name for s in elf.iter_sections() if s.name == ".symtab" or s.name.startswith(".debug")]
    if kept:
        fail(f"{name} is not stripped: it has {', '.join(kept)}")
    versions = set()
    for section in elf.iter_sections():
        if section.name == ".gnu.version_r":
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    found = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", aux.name)
                    if found:
                        versions.add((int(found[1]), int(found[2])))
    if not versions:
        fail(f"{name} names no glibc symbol version: not a glibc build?")
    newest = max(versions)
    if newest > MAX_GLIBC:
        fail(f"{name} needs GLIBC_{newest[0]}.{newest[1]}, newer than {MAX_GLIBC[0]}.{MAX_GLIBC[1]}")
    print(f"  {name}: {len(data):,} bytes, stripped, needs glibc {newest[0]}.{newest[1]} at most")


def check_wheel(wheel: Path, tag: str) -> None:
    if "-cp310-abi3-" not in wheel.name:
        fail(f"{wheel.name} is not a CPython 3.10+ abi3 wheel")
    if tag not in wheel.name:
        fail(f"{wheel.name} does not carry the platform tag {tag}")
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("auditwheel")), "show", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0 or f'"{tag}"' not in shown.stdout:
        fail(f"auditwheel does not find {wheel.name} consistent with {tag}:\n{shown.stdout}{shown.stderr}")
    with zipfile.ZipFile(wheel) as archive:
        libraries = [n for n in archive.namelist() if n.endswith(".so")]
        if len(libraries) != 1:
            fail(f"{wheel.name} holds {len(libraries)} shared libraries, expected 1")
        check_elf(libraries[0], archive.read(libraries[0]))
        if not any(n.endswith("py.typed") for n in archive.namelist()):
            fail(f"{wheel.name} lacks py.typed")
    print(f"  {wheel.name}: {wheel.stat().st_size:,} bytes, auditwheel: {tag}")


def read_tgz(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {
            m.name.removeprefix("package/"): archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def check_npm(main: Path, platforms: list[Path]) -> None:
    files = read_tgz(main)
    for needed in ("index.js", "feed.js", "index.mjs", "index.d.ts", "package.json", "README.md"):
        if needed not in files:
            fail(f"{main.name} lacks {needed}")
    if any(n.endswith(".node") for n in files):
        fail(f"{main.name} carries a binary: the binaries belong in the platform packages")
    pkg = json.loads(files["package.json"])
    if "devDependencies" in pkg or "scripts" in pkg:
        fail(f"{main.name} still has devDependencies or scripts")
    optional = pkg.get("optionalDependencies", {})
    for platform in platforms:
        files = read_tgz(platform)
        sub = json.loads(files["package.json"])
        if optional.get(sub["name"]) != pkg["version"] or sub["version"] != pkg["version"]:
            fail(f"{main.name} does not name {sub['name']}@{sub['version']} as an optional dependency")
        for field in ("os", "cpu", "libc"):
            if not sub.get(field):
                fail(f"{platform.name} does not declare its {field}")
        if sub["main"] not in files or not sub["main"].endswith(".node"):
            fail(f"{platform.name}: its main file {sub['main']} is not in it")
        check_elf(sub["main"], files[sub["main"]])
        print(f"  {platform.name}: {platform.stat().st_size:,} bytes ({'/'.join(sub['os'] + sub['cpu'] + sub['libc'])})")
    print(f"  {main.name}: {main.stat().st_size:,} bytes")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "wheel":
        check_wheel(Path(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "npm":
        check_npm(Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
    else:
        fail(__doc__ or "usage")
