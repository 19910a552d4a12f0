"""Streaming decode and rewrite of a downloaded export: gzip, zip or plain CSV in, our CSV out.

The bytes are decompressed as they arrive (a zip is spooled first: its directory is at the end),
the `sep=,` hint and Botify's header are replaced by our column names, and whole records are
handed to a callback that counts them. Used by the export job and its benchmark.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from botifython_tui.core.botify import BotifyError
from botifython_tui.core.export_files import forget_part, register_part

CHUNK_SIZE = 1 << 20


class TruncatedDownload(BotifyError):
    """The file arrived whole over HTTP but its content ends early: fetched again from the start."""

    @property
    def reason(self) -> str:
        return str(self)


class StreamDecoder:
    """Recognise gzip, zip or plain CSV by its first bytes and decompress gzip as it arrives.

    Zip keeps its directory at the end, so a zip is spooled to a hidden file and read afterwards.
    """

    def __init__(self, spool_dir: Path) -> None:
        self.kind: str | None = None
        self._head = b""
        self._gzip: Any = None
        self._spool: BinaryIO | None = None
        self._spool_dir = spool_dir
        self.spool_path: Path | None = None

    def feed(self, data: bytes) -> bytes:
        if self.kind is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            data, self._head = self._head, b""
            if data[:2] == b"\x1f\x8b":
                self.kind = "gzip"
                self._gzip = zlib.decompressobj(wbits=31)
            elif data[:4] == b"PK\x03\x04":
                self.kind = "zip"
                fd, name = tempfile.mkstemp(
                    prefix=f".export.part-{os.getpid()}-", suffix=".zip", dir=self._spool_dir
                )
                self.spool_path = Path(name)
                register_part(self.spool_path)
                self._spool = os.fdopen(fd, "wb")
            else:
                self.kind = "plain"
        if self.kind == "gzip":
            return self._gunzip(data)
        if self.kind == "zip":
            assert self._spool is not None
            self._spool.write(data)
            return b""
        return data

    def _gunzip(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                out.append(self._gzip.decompress(data))
            except zlib.error as exc:
                raise TruncatedDownload(f"the file is not valid gzip: {exc}") from exc
            data = self._gzip.unused_data
            if data and self._gzip.eof:  # concatenated gzip members
                self._gzip = zlib.decompressobj(wbits=31)
            else:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        """Check the stream ended cleanly; returns any bytes still buffered."""
        if self.kind is None:  # fewer than 4 bytes in all
            self.kind = "plain"
            return self._head
        if self.kind == "gzip" and not self._gzip.eof:
            raise TruncatedDownload("the gzip stream ends before its end marker")
        if self.kind == "zip" and self._spool is not None:
            self._spool.close()
        return b""

    def zip_chunks(self) -> Any:
        """Yield the CSV inside the spooled zip, chunk by chunk."""
        assert self.spool_path is not None
        try:
            with zipfile.ZipFile(self.spool_path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if not names:
                    raise TruncatedDownload("the zip holds no file")
                name = next((n for n in names if n.lower().endswith(".csv")), names[0])
                with archive.open(name) as member:
                    while chunk := member.read(CHUNK_SIZE):
                        yield chunk
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise TruncatedDownload(f"the zip is damaged or cut short: {exc}") from exc

    def cleanup(self) -> None:
        if self._spool is not None and not self._spool.closed:
            self._spool.close()
        if self.spool_path is not None:
            with contextlib.suppress(OSError):
                self.spool_path.unlink()
            forget_part(self.spool_path)


class CsvRewriter:
    """Drop the `sep=,` hint, replace the header with our column names, write rows through.

    Rows reach `on_rows` in blocks of complete records (a quoted field may hold a newline, so a
    block only ends where the count of quote characters is even).
    """

    def __init__(
        self,
        out: BinaryIO,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None = None,
    ):
        self.out = out
        self.columns = columns
        self.on_rows = on_rows
        self.on_block = on_block  # a fast path for plain blocks; False means "use on_rows"
        self._pending = b""
        self._preamble_done = False
        self.rows = 0
        out.write((",".join(columns) + "\n").encode())

    def feed(self, data: bytes) -> None:
        if not data:
            return
        data = self._pending + data
        cut = data.rfind(b"\n")
        if cut < 0 or data.count(b'"', 0, cut) % 2:
            self._pending = data
            return
        block, self._pending = data[:cut], data[cut + 1 :]
        self._lines(block)

    def finish(self) -> None:
        if self._pending.strip():
            self._lines(self._pending)
        self._pending = b""

    def _lines(self, block: bytes) -> None:
        if (
            self.on_block is not None
            and self._preamble_done
            and block
            and b"\r" not in block
            and not block.startswith(b"\n")
            and self.on_block(block)
        ):
            self.out.write(block)
            self.out.write(b"\n")
            self.rows += block.count(b"\n") + 1
            return
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = block.split(b"\n")
        if b'"' in block:
            lines = _records(lines)
        if not self._preamble_done:
            lines = self._skip_preamble(lines)
        lines = [line for line in lines if line]
        if not lines:
            return
        kept = self.on_rows(lines)
        if kept:
            self.out.write(b"\n".join(kept) + b"\n")
            self.rows += len(kept)

    def _skip_preamble(self, lines: list[bytes]) -> list[bytes]:
        while lines and not lines[0].strip():
            lines = lines[1:]
        if not lines:
            return lines
        if lines[0].lstrip(b"\xef\xbb\xbf").lower().startswith(b"sep="):
            lines = lines[1:]
            while lines and not lines[0].strip():
                lines = lines[1:]
            if not lines:
                return lines
        self._preamble_done = True
        first = lines[0].lstrip(b"\xef\xbb\xbf").strip(b'"').lower()
        if first.startswith((b"http://", b"https://")):
            # no header line: the data starts at once (without the byte-order mark)
            return [lines[0].removeprefix(b"\xef\xbb\xbf"), *lines[1:]]
        return lines[1:]


def _records(lines: list[bytes]) -> list[bytes]:
    """Rejoin the physical lines of a record whose quoted field holds a newline."""
    records: list[bytes] = []
    current: list[bytes] = []
    in_quotes = False
    for line in lines:
        current.append(line)
        if line.count(b'"') % 2:
            in_quotes = not in_quotes
        if not in_quotes:
            records.append(b"\n".join(current))
            current = []
    if current:
        records.append(b"\n".join(current))
    return records
