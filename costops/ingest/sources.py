"""Input paths → readable sources: files, directories, globs, .gz, stdin; read in chunks."""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from costops.errors import InputDataError

CHUNK_BYTES = 16 * 1024 * 1024
# In a directory, only files that look like logs are read; a file named explicitly always is.
LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    name: str  # the path as shown to the user, or "<stdin>"
    path: Path | None  # None for stdin


@dataclass(frozen=True)
class Chunk:
    text: str
    first_line: int  # 1-based line number of the chunk's first line
    utf8_ok: bool  # False when the bytes were not UTF-8 (bad characters became U+FFFD)


def expand(paths: list[str]) -> list[Source]:
    """Files as given, directories recursively, glob patterns expanded; `-` is stdin."""
    sources: list[Source] = []
    for raw in paths:
        if raw == "-":
            sources.append(Source("<stdin>", None))
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _looks_like_log(p))
            sources.extend(Source(str(p), p) for p in found)
        elif path.is_file():
            sources.append(Source(raw, path))
        elif glob.has_magic(raw):
            matches = sorted(Path(p) for p in glob.glob(raw, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputDataError(f"{raw}: no files match this pattern")
            sources.extend(Source(str(p), p) for p in matches)
        else:
            raise InputDataError(f"{raw}: no such file or directory")
    return sources


def _looks_like_log(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return not path.name.startswith(".") and name.endswith(LOG_SUFFIXES)


class ChunkReader:
    """Reads a source in newline-aligned text chunks while hashing the raw bytes."""

    def __init__(self, source: Source, chunk_bytes: int = CHUNK_BYTES):
        self.source = source
        self.chunk_bytes = chunk_bytes
        self.sha256 = hashlib.sha256()
        self.lines_done = 0  # lines handed out so far
        self.gzipped = False  # known once the source has been opened

    def fingerprint(self) -> tuple[str, int]:
        """The hash of the (decompressed) content, read ahead so a known file can be skipped,
        and its number of lines."""
        digest = hashlib.sha256()
        lines = 0
        last = b"\n"
        with self._open() as stream:
            while block := stream.read(self.chunk_bytes):
                digest.update(block)
                lines += block.count(b"\n")
                last = block[-1:]
        return digest.hexdigest(), lines + (last != b"\n")

    def chunks(self) -> Iterator[Chunk]:
        with self._open() as stream:
            carry = b""
            line = 1
            while True:
                block = stream.read(self.chunk_bytes)
                if not block:
                    break
                self.sha256.update(block)
                data = carry + block
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                carry = data[cut + 1 :]
                complete = data[:cut]
                first = line
                line += complete.count(b"\n") + 1
                self.lines_done = line - 1
                yield _decode(complete, first)
            if carry:
                self.lines_done = line
                yield _decode(carry, line)

    def _open(self) -> BinaryIO | gzip.GzipFile:
        raw: BinaryIO
        if self.source.path is None:
            raw = sys.stdin.buffer
        else:
            try:
                raw = open(self.source.path, "rb")  # noqa: SIM115 - closed by the caller's with
            except OSError as exc:
                raise InputDataError(f"{self.source.name}: cannot read: {exc.strerror}") from exc
        peek = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        self.gzipped = peek == GZIP_MAGIC or bool(
            self.source.path and self.source.path.suffix == ".gz"
        )
        if self.gzipped:
            return _GzipChecked(raw, self.source.name)
        return raw


class _GzipChecked(gzip.GzipFile):
    """A gzip stream whose corruption surfaces as a one-line input error."""

    def __init__(self, raw: BinaryIO, name: str):
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw
        self._name = name

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputDataError(f"{self._name}: not a readable gzip file: {exc}") from exc

    def close(self) -> None:
        super().close()
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def _decode(data: bytes, first_line: int) -> Chunk:
    try:
        return Chunk(data.decode("utf-8"), first_line, True)
    except UnicodeDecodeError:
        return Chunk(data.decode("utf-8", errors="replace"), first_line, False)
