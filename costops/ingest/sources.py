"""Input paths → readable sources: files, directories, globs, .gz, stdin; read in chunks."""

from __future__ import annotations

import codecs
import glob
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from costops.errors import InputDataError
from costops.ingest.formats import otlp

CHUNK_BYTES = 16 * 1024 * 1024
# No log record is this long: a longer line is cut off unparsed (see `line_limit`), on every path.
MAX_LINE_BYTES = 16 * 1024 * 1024
HEAD_BYTES = 256  # the start of a line that `line_limit` looks at
KEPT_BYTES = 64 * 1024  # of a line cut off, what is kept for the quarantine
# In a directory, only files that look like logs are read; a file named explicitly always is.
LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
TEXT_CHECK_BYTES = 64 * 1024  # the start of the content that `not_text` judges


# A file as it was read: (absolute path, size, modification time, inode, change time; times in
# ns). A file whose identity is remembered is skipped unread. The inode and the change time keep
# a rewrite whose modification time was put back (touch -d, cp -p, a file renamed over the path)
# from passing as the file read before.
FileIdentity = tuple[str, int, int, int, int]


@dataclass(frozen=True)
class Source:
    name: str  # the path as shown to the user, or "<stdin>"
    path: Path | None  # None for stdin


@dataclass(frozen=True)
class Whole:
    """A small file read at once (see `ChunkReader.read_whole`)."""

    sha256: str  # of exactly the bytes in `chunks`
    chunks: list[Chunk]
    identity: FileIdentity | None  # None when the file changed while it was read
    modified: float  # its modification time (seconds)
    # DuckDB's CSV reader, one column per line, reads the file into the same lines as `chunks`
    # (no CR, no U+0001 to split on, no BOM, all UTF-8, no line cut off; gzip by its name).
    direct: bool = False

    @property
    def lines(self) -> int:
        """Its number of lines, blank ones included (as the chunks split them)."""
        last = self.chunks[-1] if self.chunks else None
        return last.first_line + last.text.count("\n") if last else 0


@dataclass(frozen=True)
class Chunk:
    text: str
    first_line: int  # 1-based line number of the chunk's first line
    bad_utf8: tuple[int, ...]  # lines that were not UTF-8 (their bad bytes became U+FFFD)
    unparsed: dict[int, str]  # lines not to parse (cut off, or where a .gz broke off): why
    # A line split in parts (a long OTLP export): every line of the chunk is part `part` (from 1)
    # of line `first_line`. 0: an ordinary chunk.
    part: int = 0
    last_part: bool = True


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
            if not found:
                names = ", ".join(f"*{suffix}" for suffix in LOG_SUFFIXES)
                raise InputDataError(
                    f"{raw}: no log files in this directory (looked for {names}, also gzipped; "
                    "name a file to read it whatever its name)"
                )
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
    """Reads a source in newline-aligned text chunks while hashing the raw bytes.

    A line over its limit (`line_limit`) is cut off: only its first bytes are kept, and it is
    reported unparsed, so memory stays bounded whatever a line's length. A gzip stream that
    breaks off (truncated, corrupt) ends the source: the lines before the break are read, the rest
    is reported as one unreadable line (`damage` says why); nothing is raised."""

    def __init__(self, source: Source, chunk_bytes: int = CHUNK_BYTES):
        self.source = source
        self.chunk_bytes = chunk_bytes
        self.sha256 = hashlib.sha256()  # of exactly the bytes `chunks` read
        self.lines_done = 0  # lines handed out so far
        self.gzipped = False  # known once the source has been opened
        self.damage: str | None = None  # why a gzip stream broke off
        self.long_lines = False  # set by `fingerprint`: a line is longer than MAX_LINE_BYTES
        self.key_counts: Counter[str] = Counter()  # set by `fingerprint`: see COUNTED_PATTERNS
        self.escaped_ascii = False  # set by `fingerprint`: a key could hide from the counting
        self._identity: tuple[int, ...] | None = None  # the file `fingerprint` read
        # Judged on the first block by the first read (`fingerprint`, or `read_stdin_head`):
        self.head = b""  # the first TEXT_CHECK_BYTES of the content
        self.refused: str | None = None  # why the content is not read at all (see `not_text`)
        self.array = False  # the content starts like one JSON array, not JSON Lines
        self.spooled: Path | None = None  # stdin's array, copied for DuckDB's array reader
        self._replay: tuple[BinaryIO | gzip.GzipFile, Iterator[bytes]] | None = None
        self._stopped = False  # `stop`: a read in another thread ends at its next block

    def fingerprint(self, count_keys: bool = True) -> tuple[str, int]:
        """The hash of the (decompressed) content, read ahead so a known file can be skipped,
        and its number of lines. Also notes what keeps a file off the fast path: a long line,
        a damaged stream, how often each of COUNTED_PATTERNS occurs (only with `count_keys`:
        the fast path alone reads the counts). `lines_done` follows the count, so another thread
        can show progress."""
        digest = hashlib.sha256()
        lines = 0
        last = b"\n"
        since_newline = 0  # bytes of the line that is still open
        tail = b""  # the end of the previous block, so a key split between blocks is counted
        with self._open() as stream:
            if hasattr(stream, "fileno"):
                info = os.fstat(stream.fileno())
                self._identity = _stat_key(info)
            for number, block in enumerate(self._blocks(stream)):
                if number == 0:
                    self._judge(block)
                    if self.refused is not None:
                        break  # not read any further: none of it is stored
                digest.update(block)
                lines += block.count(b"\n")
                self.lines_done = lines
                last = block[-1:]
                since_newline = self._scan_lengths(block, since_newline)
                if count_keys:
                    self._count_keys(tail, block)
                    tail = block[-_KEY_OVERLAP:]
            _note_damage(digest, self.damage)
        self.long_lines = self.long_lines or since_newline > MAX_LINE_BYTES
        return digest.hexdigest(), lines + (last != b"\n")

    @property
    def identity(self) -> FileIdentity | None:
        """The file as `fingerprint` found it (None for stdin)."""
        if self.source.path is None or self._identity is None:
            return None
        _, inode, size, mtime_ns, ctime_ns = self._identity
        return (str(self.source.path.resolve()), size, mtime_ns, inode, ctime_ns)

    def read_whole(self, max_bytes: int) -> Whole | None:
        """A file of JSON Lines no longer than `max_bytes` (decompressed), read and hashed at
        once. None for anything that needs the chunked read (a larger file, stdin, an array, not
        text, a broken .gz): nothing of it is kept."""
        path = self.source.path
        if path is None:
            return None
        self.chunk_bytes = max_bytes + 1
        with self._open() as stream:
            before = os.fstat(stream.fileno())
            if not self.gzipped and before.st_size > max_bytes:
                return None
            blocks = self._blocks(stream)
            data = next(blocks, b"")
            if len(data) > max_bytes or self.damage is not None:
                return None
        self._judge(data)
        if self.refused is not None or self.array:
            return None
        lines = _Lines()
        chunks = [*lines.feed(data), *lines.finish(None)]
        if any(chunk.part for chunk in chunks):  # a long export line, split: read it in parts
            return None
        try:
            after = os.stat(path)
        except OSError:
            return None
        same = _stat_key(before) == _stat_key(after)
        identity = _file_identity(path, after) if same else None
        direct = (
            identity is not None and (not self.gzipped or path.suffix == ".gz")
            and b"\r" not in data and b"\x01" not in data and not data.startswith(codecs.BOM_UTF8)
            and not any(chunk.bad_utf8 or chunk.unparsed for chunk in chunks)
        )  # fmt: skip
        sha256 = hashlib.sha256(data).hexdigest()
        return Whole(sha256, chunks, identity, after.st_mtime, direct)

    def changed(self) -> bool:
        """Whether the path no longer names the file `fingerprint` read, as it read it (rotated,
        truncated, appended to)."""
        if self.source.path is None or self._identity is None:
            return True
        try:
            info = os.stat(self.source.path)
        except OSError:
            return True
        return self._identity != _stat_key(info)

    def read_stdin_head(self) -> None:
        """Stdin can be read once: judge its first block now (`refused`, `array`). An array is
        copied to a file (`spooled`) for DuckDB's reader, hashing what is copied; otherwise
        `chunks` goes on from the first block."""
        stream = self._open()
        blocks = self._blocks(stream)
        first = next(blocks, b"")
        self._judge(first)
        if not self.array:
            self._replay = (stream, chain([first], blocks))
            return
        handle, name = tempfile.mkstemp(prefix="costops-stdin-", suffix=".json")
        self.spooled = Path(name)
        with stream, os.fdopen(handle, "wb") as spool:
            for block in chain([first], blocks):
                self.sha256.update(block)
                spool.write(block)
        _note_damage(self.sha256, self.damage)

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *_: object) -> None:
        """Remove what `read_stdin_head` spooled."""
        if self.spooled is not None:
            self.spooled.unlink(missing_ok=True)
            self.spooled = None

    def _judge(self, first: bytes) -> None:
        self.head = first[:TEXT_CHECK_BYTES]
        self.refused = not_text(self.head)
        self.array = self.refused is None and starts_array(self.head)

    def chunks(self) -> Iterator[Chunk]:
        """The source as chunks of whole lines, hashing exactly the bytes read into `sha256`."""
        lines = _Lines()
        self.sha256 = hashlib.sha256()  # a spooled stdin was hashed while it was copied
        if self._replay is not None:
            stream, blocks = self._replay
            self._replay = None
        else:
            stream = self._open()
            blocks = self._blocks(stream)
        with stream:
            for block in blocks:
                self.sha256.update(block)
                yield from lines.feed(block)
                self.lines_done = lines.line - 1
        _note_damage(self.sha256, self.damage)
        yield from lines.finish(self.damage)
        self.lines_done = lines.line - 1

    def _blocks(self, stream: BinaryIO | gzip.GzipFile) -> Iterator[bytes]:
        """The (decompressed) bytes in blocks of about `chunk_bytes`. A gzip stream is read
        piece by piece (`read1`), so the data before a break in it is kept."""
        self.damage = None
        read = stream.read1 if isinstance(stream, gzip.GzipFile) else stream.read
        pieces: list[bytes] = []
        size = 0
        while not self._stopped:
            try:
                piece = read(self.chunk_bytes - size)
            except (OSError, EOFError, zlib.error) as exc:
                if not self.gzipped:
                    raise
                self.damage = f"not a readable gzip file: {exc} (the rest of the file is lost)"
                piece = b""
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
            if size >= self.chunk_bytes:
                yield b"".join(pieces)
                pieces, size = [], 0
        if pieces:
            yield b"".join(pieces)

    def _scan_lengths(self, block: bytes, since_newline: int) -> int:
        """Note a line longer than MAX_LINE_BYTES; return the length of the line left open."""
        first = block.find(b"\n")
        if first < 0:
            return since_newline + len(block)
        last = block.rfind(b"\n")
        if since_newline + first > MAX_LINE_BYTES or _long_line(block, first + 1, last) >= 0:
            self.long_lines = True
        return len(block) - last - 1

    def stop(self) -> None:
        """End a `fingerprint` running in another thread at its next block (its result is then
        of part of the file: only for a read that is being abandoned)."""
        self._stopped = True

    def _count_keys(self, tail: bytes, block: bytes) -> None:
        """Count COUNTED_PATTERNS in `block`, and those split between it and the previous
        block."""
        head = block[:_KEY_OVERLAP]
        seam = tail + head
        for name, pattern in COUNTED_PATTERNS.items():
            split = seam.count(pattern) - tail.count(pattern) - head.count(pattern)
            self.key_counts[name] += block.count(pattern) + split
        self.escaped_ascii = self.escaped_ascii or bool(_ESCAPED_ASCII.search(block))

    def _open(self) -> BinaryIO | gzip.GzipFile:
        raw: BinaryIO
        if self.spooled is not None:  # JSON Lines after all: read from the copy
            raw = open(self.spooled, "rb")  # noqa: SIM115 - closed by the caller's with
        elif self.source.path is None:
            raw = sys.stdin.buffer
        else:
            try:
                raw = open(self.source.path, "rb")  # noqa: SIM115 - closed by the caller's with
            except OSError as exc:
                raise InputDataError(f"{self.source.name}: cannot read: {exc.strerror}") from exc
        peek = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        self.gzipped = _is_gzip(peek, self.source.path)
        if self.gzipped:
            return _Gzip(raw)
        return raw


# Keys whose every occurrence is counted while hashing: on the fast path each must occur exactly
# once per line that has it, or a line may repeat it (which DuckDB's reader would not show).
# One pattern counts every key that ends in `_tokens` (the counts, prefix_tokens, max_tokens) and
# every string that does (a finish_reason of "max_tokens"), so the text is scanned twice, not once
# per key; the fast path counts the same in what DuckDB read (fast.CHECK_SQL), and any other
# occurrence (in attributes, say) only makes the counts differ: the file takes the general path.
COUNTED_PATTERNS = {"request_id": b'"request_id"', "_tokens": b'_tokens"'}
_KEY_OVERLAP = max(len(pattern) for pattern in COUNTED_PATTERNS.values()) - 1
# A printable ASCII character written as \u00XX: a key spelled so that counting misses it.
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9A-Fa-f]")


class _Gzip(gzip.GzipFile):
    """A gzip stream that also closes the file under it (stdin stays open)."""

    def __init__(self, raw: BinaryIO):
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        super().close()
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def unchanged(identity: FileIdentity) -> bool:
    """Whether the file is still as `identity` found it."""
    try:
        info = os.stat(identity[0])
    except OSError:
        return False
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns) == identity[1:]


def gzipped(path: Path) -> bool:
    """Whether the file is read through gzip (as ChunkReader reads it): by its first bytes or
    its name."""
    try:
        with open(path, "rb") as raw:
            return _is_gzip(raw.read(2), path)
    except OSError:
        return _is_gzip(b"", path)


def _is_gzip(head: bytes, path: Path | None) -> bool:
    return head == GZIP_MAGIC or bool(path and path.suffix == ".gz")


def _stat_key(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def file_identity(source: Source) -> FileIdentity | None:
    """The file's identity now, without reading it (None for stdin or a file not there)."""
    if source.path is None:
        return None
    try:
        info = os.stat(source.path)
    except OSError:
        return None
    return _file_identity(source.path, info)


def _file_identity(path: Path, info: os.stat_result) -> FileIdentity:
    return (str(path.resolve()), info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)


def _note_damage(digest: Any, damage: str | None) -> None:
    """A broken stream's hash also covers the break: the readable part of a damaged file is not
    the same content as a whole file of those bytes (or an empty file)."""
    if damage is not None:
        digest.update(b"\0" + damage.encode())


def not_text(head: bytes) -> str | None:
    """Why content that starts with `head` is not a text log, or None. A NUL byte alone is not
    enough (a bad line of a text log may hold one; it is quarantined): it takes NUL bytes and
    bytes that are not UTF-8, as in any binary file, or a UTF-16 byte order mark."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text, not UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)"
    if b"\0" not in head:
        return None
    try:  # not final: a character cut off at the end of `head` is not an error
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "not text (NUL bytes and bytes that are not UTF-8 at its start)"
    return None


def starts_array(head: bytes) -> bool:
    """Whether content that starts with `head` starts like a JSON array (after a BOM and white
    space): an export of records as one array, not JSON Lines."""
    return head.removeprefix(UTF8_BOM).lstrip(b" \t\r\n")[:1] == b"["


def first_line_is_json(head: bytes) -> bool:
    """Whether content that starts with `head` (and is not one valid JSON array) reads as JSON
    Lines: it has more than one line, and its first line is a whole JSON value (a first line
    that is an array) or a later line is a whole JSON object (a first line that is junk, such
    as a lone `[`). A damaged array is neither: its lines are fragments (`{`, `"a": 1,`) or
    elements followed by commas."""
    first, _, rest = head.partition(b"\n")
    if not rest.strip():
        return False
    if _whole_json(first):
        return True
    return any(line.strip().startswith(b"{") and _whole_json(line) for line in rest.split(b"\n"))


def _whole_json(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8-sig"))
    except ValueError:
        return False
    return True


def line_limit(head: bytes) -> int:
    """The longest line read, in bytes, given its first HEAD_BYTES; a longer line is cut off
    unparsed. The one place a format may get a limit of its own: an OTLP export line batches
    thousands of spans."""
    return otlp.MAX_LINE_BYTES if otlp.starts_export(head) else MAX_LINE_BYTES


def too_long(limit: int) -> str:
    """The quarantine reason for a line cut off at `limit` bytes."""
    return f"line longer than {limit // (1024 * 1024)} MiB: not parsed"


def _long_line(data: bytes, start: int, stop: int) -> int:
    """Where the first line of data[start:stop] (lines end at a newline or at `stop`) longer
    than MAX_LINE_BYTES begins, or -1. Jumps a window at a time, not line by line."""
    while stop - start > MAX_LINE_BYTES:
        newline = data.rfind(b"\n", start, start + MAX_LINE_BYTES + 1)
        if newline < 0:
            return start
        start = newline + 1
    return -1


class _Lines:
    """Cuts a byte stream into chunks of whole lines. A line over its limit is cut off: its first
    KEPT_BYTES stay (for the quarantine), the rest is dropped as it streams by. An export line
    over MAX_LINE_BYTES (and within its own limit) is split into export lines of whole traces,
    in chunks of its own (`Chunk.part`)."""

    def __init__(self) -> None:
        self.line = 1  # the number of the line `open` begins
        self.open: list[bytes] = []  # the beginning of a line not ended yet, in pieces
        self.open_bytes = 0
        self.cut: str | None = None  # why the line in `open` is being cut off

    def feed(self, block: bytes) -> Iterator[Chunk]:
        batch = _Batch(self.line)
        if self.cut is not None:
            newline = block.find(b"\n")
            if newline < 0:
                return
            batch.add_cut(self.open[0], self.line, self.cut)
            self.line += 1
            self._reset()
            block = block[newline + 1 :]
        end = block.rfind(b"\n")
        if end >= 0:
            data = b"".join([*self.open, block[:end]])  # the open line is copied once, at its end
            self._reset()
            batch = yield from self._ended(data, batch)
            block = block[end + 1 :]
        self._extend(block)
        if batch.segments:
            yield batch.chunk()

    def finish(self, damage: str | None) -> Iterator[Chunk]:
        """The last line (not ended by a newline), or the place where the stream broke off."""
        reason = damage or self.cut
        if reason is not None:
            self.line += 1
            yield _decode(self._head(KEPT_BYTES), self.line - 1, {self.line - 1: reason})
        elif self.open:
            data = b"".join(self.open)
            self._reset()
            batch = yield from self._ended(data, _Batch(self.line))
            if batch.segments:
                yield batch.chunk()

    def _ended(self, data: bytes, batch: _Batch) -> Generator[Chunk, None, _Batch]:
        """The lines of `data` (each ended) into `batch`, lines over their limit cut off; the
        chunks of a split line (and of the lines before it) are yielded. Returns the batch the
        lines after the last split line are in."""
        start = 0  # where the text not yet in `batch` begins
        at = _long_line(data, 0, len(data))
        while at >= 0:
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            number = self.line + data.count(b"\n", start, at)
            self.line = number + 1
            if at > start:
                batch.segments.append(data[start : at - 1])
            limit = line_limit(data[at : at + HEAD_BYTES])
            if end - at > limit:
                batch.add_cut(data[at : at + KEPT_BYTES], number, too_long(limit))
            else:  # an export line: split
                if batch.segments:
                    yield batch.chunk()
                yield from _split_export(memoryview(data)[at:end], number)
                batch = _Batch(number + 1)
            start = end + 1
            at = _long_line(data, start, len(data)) if end < len(data) else -1
        if start <= len(data):
            batch.segments.append(data[start:])
            self.line += data.count(b"\n", start) + 1
        return batch

    def _extend(self, piece: bytes) -> None:
        """`piece` onto the open line; the line is cut off once it passes its limit."""
        if not piece:
            return
        self.open.append(piece)
        self.open_bytes += len(piece)
        if self.open_bytes > MAX_LINE_BYTES:
            limit = line_limit(self._head(HEAD_BYTES))
            if self.open_bytes > limit:
                self.open, self.cut = [self._head(KEPT_BYTES)], too_long(limit)

    def _head(self, size: int) -> bytes:
        """The first `size` bytes of the open line."""
        head = b""
        for piece in self.open:
            if len(head) >= size:
                break
            head += piece[: size - len(head)]
        return head

    def _reset(self) -> None:
        self.open, self.open_bytes, self.cut = [], 0, None


@dataclass
class _Batch:
    """Consecutive lines for one chunk, from line `first` on."""

    first: int
    segments: list[bytes] = field(default_factory=list)  # each one or more lines, not ended
    unparsed: dict[int, str] = field(default_factory=dict)

    def add_cut(self, kept: bytes, number: int, reason: str) -> None:
        self.segments.append(kept)
        self.unparsed[number] = reason

    def chunk(self) -> Chunk:
        return _decode(b"\n".join(self.segments), self.first, self.unparsed)


def _split_export(line: memoryview, number: int) -> Iterator[Chunk]:
    """An export line too long to parse in one piece as chunks of smaller export lines, all
    numbered `number`; the last chunk is marked (`Chunk.last_part`). A line that cannot be
    split is quarantined, its first KEPT_BYTES kept."""
    try:
        exports = otlp.split_export(str(line, "utf-8"), otlp.GROUP_CHARS)
        held = next(exports)  # reads the whole line: a line that is not JSON fails here
    except StopIteration:
        held = '{"resourceSpans":[]}'
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        why = (
            "not valid UTF-8" if isinstance(exc, UnicodeDecodeError)
            else "not valid JSON" if isinstance(exc, json.JSONDecodeError)
            else f"not an OTLP export: {exc}"
        )  # fmt: skip
        yield _decode(bytes(line[:KEPT_BYTES]), number, {number: why})
        return
    part, lines, size = 1, [held], len(held)
    for export in exports:
        if size + len(export) > CHUNK_BYTES:
            yield Chunk("\n".join(lines), number, (), {}, part, last_part=False)
            part, lines, size = part + 1, [], 0
        lines.append(export)
        size += len(export)
    yield Chunk("\n".join(lines), number, (), {}, part)


def _decode(data: bytes, first_line: int, unparsed: dict[int, str]) -> Chunk:
    """Decode as UTF-8; a line that is not valid UTF-8 (only that line) gets U+FFFD for its bad
    bytes and its number in `bad_utf8`. One decode whatever the number of bad lines: the bad
    bytes come through as lone surrogates, found with one scan."""
    try:
        return Chunk(data.decode("utf-8"), first_line, (), unparsed)
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    bad: list[int] = []
    line, counted = first_line, 0
    for match in _ESCAPED_BYTES.finditer(text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        if not bad or bad[-1] != line:
            bad.append(line)
    return Chunk(_ESCAPED_BYTES.sub("\ufffd", text), first_line, tuple(bad), unparsed)


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")  # invalid bytes, as surrogateescape gives them
