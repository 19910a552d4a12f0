"""Finding and reading the files to index: folder walks, special files, names that are not UTF-8."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from botifython_tui.core.memory.chunking import Skipped
from botifython_tui.core.memory.events import IngestReport
from botifython_tui.core.memory.file_formats import MAX_FILE_BYTES, file_type

IGNORED_DIRS = {
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "site-packages", ".idea", ".vscode",
}  # fmt: skip


def utf8_name(name: str) -> bool:
    """False for a path holding undecodable bytes (os.fsdecode keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def special_file(mode: int) -> str | None:
    """What a file that is not a regular file is ("a FIFO" …), or None for a regular file."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; `Skipped` for anything else, decided on the open file.

    Opened without blocking, so a FIFO put in place after the folder was scanned is refused
    instead of waiting forever for a writer.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        special = special_file(info.st_mode)
        if special:
            raise Skipped(f"not a regular file ({special})")
        if info.st_size > MAX_FILE_BYTES:
            raise Skipped(
                f"{path.name} is {info.st_size / 1e6:.1f} MB; files over "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB are not indexed"
            )
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def walk(folder: Path, report: IngestReport) -> list[Path]:
    """The supported regular files under a folder (resolved, sorted); the rest go to `report`."""
    files: list[Path] = []

    def on_error(exc: OSError) -> None:
        report.skipped.append((str(exc.filename), f"cannot be read: {exc.strerror or exc}"))

    for root, dirs, names in os.walk(folder, onerror=on_error):  # never follows dir links
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if file_type(path) is None:
                report.skipped.append(
                    (str(path), f"not a supported type ({path.suffix or 'no extension'})")
                )
                continue
            try:  # never open a FIFO (it would wait forever), a socket or a device
                special = special_file(os.stat(path).st_mode)
            except OSError as exc:
                report.skipped.append((str(path), f"cannot be read: {exc.strerror or exc}"))
                continue
            if special:
                report.skipped.append((str(path), f"not a regular file ({special})"))
                continue
            files.append(Path(os.path.realpath(path)))
    return files


def collect(
    paths: list[str | os.PathLike[str]], known: dict[str, str], report: IngestReport
) -> tuple[list[Path], list[str]]:
    """The files named or under the folders named, and the known sources gone from them."""
    files: list[Path] = []
    seen: set[Path] = set()
    gone: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        resolved = Path(os.path.realpath(path))
        if not path.exists():
            under = [s for s in known if s == str(resolved) or s.startswith(f"{resolved}{os.sep}")]
            if under:
                gone += under
            else:
                report.skipped.append((str(path), "no such file or folder"))
            continue
        if path.is_dir():
            found = walk(resolved, report)
            present = {str(f) for f in found}
            gone += [s for s in known if s.startswith(f"{resolved}{os.sep}") and s not in present]
        else:
            found = [resolved]
        for item in found:
            if item not in seen:
                seen.add(item)
                files.append(item)
    return files, sorted(set(gone))
