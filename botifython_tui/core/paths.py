"""Folders and files the app makes: private from the start, never loosened; a full disk is named.

New folders are created 0700 (each missing parent too) and new files 0600, whatever the umask. An
existing folder is never chmod-ed to add a permission: one the app may not write to is refused with
a message naming it and the fix. Root bypasses permission bits, so for root a folder whose bits let
nobody write (like 0555) counts as read-only too: someone made it so on purpose.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
# An I/O error on a disk with less than this free is a full disk: SQLite reports a -shm file it
# cannot grow as "disk I/O error", not as "disk is full".
FULL_BELOW_BYTES = 1_000_000
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
_SQLITE_IOERR = 10
_SQLITE_FULL = 13


class PathProblem(Exception):
    """A folder or file the app needs cannot be used; the message names it and the fix."""


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes an ordinary user may still write on the disk holding `path` (or its nearest parent)."""
    here = Path(path)
    for candidate in (here, *here.parents):
        try:
            info = os.statvfs(candidate)
        except (OSError, ValueError):
            continue
        return info.f_bavail * info.f_frsize
    return None


def _megabytes(size: int | None) -> str:
    if size is None:
        return "unknown space free"
    mb = size / 1_000_000
    return f"{mb:.0f} MB free" if mb >= 10 else f"{mb:.1f} MB free"


def disk_full_message(path: str | os.PathLike[str], fix: str) -> str:
    """`The disk holding data/botifython.db is full (0.2 MB free). <fix>`"""
    return f"The disk holding {path} is full ({_megabytes(free_bytes(path))}). {fix}"


def is_disk_full(exc: BaseException, path: str | os.PathLike[str]) -> bool:
    """An OSError or sqlite3 error that means the disk holding `path` has no room left."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL or "disk is full" in str(exc):
        return True
    if primary == _SQLITE_IOERR or "disk I/O error" in str(exc):
        free = free_bytes(path)
        return free is not None and free < FULL_BELOW_BYTES
    return False


def may_write_dir(path: str | os.PathLike[str]) -> bool:
    """This process may create files in the folder, and its bits do not say "read-only"."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    if not stat.S_ISDIR(info.st_mode) or not os.access(path, os.W_OK | os.X_OK):
        return False
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return not is_root or bool(info.st_mode & 0o222)


def describe_os_error(exc: OSError, what: str, path: str | os.PathLike[str], fix: str) -> str:
    """One sentence for the user: the disk is full, the place is not writable, or what the OS said."""
    where = exc.filename or path
    if is_disk_full(exc, where):
        return disk_full_message(where, fix)
    reason = exc.strerror or str(exc)
    if exc.errno in _DENIED_ERRNOS:
        return f"The {what} {where} is not writable ({reason}). {fix}"
    return f"Cannot use the {what} {where}: {reason}. {fix}"


def _mode(path: Path) -> str:
    try:
        return f"mode {stat.S_IMODE(path.stat().st_mode):04o}"
    except OSError:
        return "no access"


def ensure_private_dir(path: Path, *, what: str, fix: str, require_writable: bool = True) -> bool:
    """Create `path` and any missing parent 0700; refuse an existing one that is not a writable
    folder (never chmod-ing it). Returns True if the folder was created now."""
    try:
        info: os.stat_result | None = os.stat(path)  # one look: another instance may be creating it
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as exc:  # a name too long, a path through a file…
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PathProblem(f"Cannot use the {what} folder {path}: {reason}; {fix}.") from exc
    if info is not None and stat.S_ISDIR(info.st_mode):
        if require_writable and not may_write_dir(path):
            raise PathProblem(
                f"The {what} folder {path} is not writable ({_mode(path)}); Botifython does not "
                f"change a folder's permissions. Make it writable (chmod u+w '{path}') or {fix}."
            )
        return False
    if info is not None:
        raise PathProblem(f"The {what} folder {path} exists but is not a folder; {fix}.")
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=PRIVATE_DIR_MODE)
            except FileExistsError:
                if not folder.is_dir():
                    raise
                continue  # another instance made it meanwhile: not ours to chmod
            os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    except OSError as exc:
        if is_disk_full(exc, path):
            raise PathProblem(disk_full_message(path, f"Free some space, or {fix}.")) from exc
        raise PathProblem(
            f"Cannot create the {what} folder {path}: {exc.strerror or exc}; {fix}."
        ) from exc
    return True


def remove_permissions(path: Path, keep: int) -> None:
    """Clear the permission bits outside `keep`; never adds one (a 0555 folder stays read-only)."""
    info = path.stat()
    current = stat.S_IMODE(info.st_mode)
    if current & ~keep:
        os.chmod(path, current & keep)
