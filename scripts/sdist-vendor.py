"""Adds the repository's vendor/ directory to the Python sdist that maturin wrote.

    sdist-vendor.py <sdist .tar.gz> <vendor directory>

The workspace's Cargo.toml, which the sdist carries at its root, patches crates with copies in
vendor/ ([patch.crates-io], see vendor/README.md). maturin packs the path dependencies it finds
through the crate's own manifest but not those a [patch] names, and refuses include patterns
outside the crate's directory, so the sdist would not build. This rewrites the archive with
vendor/ beside that Cargo.toml, in the same order and with the same file times as the rest.
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path


def main(sdist: Path, vendor: Path) -> None:
    with tarfile.open(sdist, "r:gz") as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
    root = members[0][0].name.split("/")[0]
    if any(m.name.startswith(f"{root}/vendor/") for m, _ in members):
        sys.exit(f"{sdist} already holds vendor/")
    mtime = max(m.mtime for m, _ in members)
    added = []
    for path in sorted(p for p in vendor.rglob("*") if p.is_file()):
        info = tarfile.TarInfo(f"{root}/vendor/{path.relative_to(vendor).as_posix()}")
        data = path.read_bytes()
        info.size, info.mtime, info.mode = len(data), mtime, 0o644
        added.append((info, data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=mtime) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as new:
            for info, data in members + added:
                new.addfile(info, io.BytesIO(data) if data is not None else None)
    sdist.write_bytes(out.getvalue())
    print(f"  {sdist.name}: {len(added)} files of vendor/ added")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
