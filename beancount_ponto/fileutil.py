"""Crash-safe file writing.

:func:`atomic_write_text` replaces a file so that a reader (or a crash, even
``kill -9`` or a power cut after the call returns) sees either the whole old
content or the whole new content, never a mix: the text goes to a temporary
file in the same folder, is flushed to disk, then renamed over the target,
and the folder entry is flushed too. :func:`atomic_append_text` appends the
same way without holding the file in memory and keeps an edit another program
saves meanwhile. :func:`spool_pairs` parks a long stream of records on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk (a no-op where the OS does not allow it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


Stamp = tuple[int, int, int]


class FileChangedError(OSError):
    """The file changed (another program saved it) while it was being rewritten."""


def stamp(path: Path) -> Stamp | None:
    """Inode, modification time and size of ``path``; None when it does not exist."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def atomic_write(
    path: Path,
    write: Callable[[BinaryIO], object],
    *,
    mode: int | None = None,
    expect: Stamp | bool | None = False,
) -> None:
    """Replace ``path`` atomically with what ``write`` writes to a binary handle.

    A symbolic link is followed: the file it points to is replaced (the
    temporary file lives in that file's folder) and the link stays.

    Args:
        path: the file to write; its folder must exist.
        write: writes the whole new content to the handle it is given.
        mode: permission bits; default keeps those of the existing file, else 0644.
        expect: the :func:`stamp` the file must still have just before it is
            replaced (``False``: no check).

    Raises:
        FileChangedError: ``expect`` was given and the file changed meanwhile;
            nothing was replaced.
    """
    path = Path(os.path.realpath(path))
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if expect is not False and stamp(path) != expect:
            raise FileChangedError(f"{path} changed while it was being written")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), mode=mode)


def atomic_append_text(path: Path, text: str, attempts: int = 5) -> None:
    """Replace ``path`` atomically by its content followed by ``text`` (UTF-8).

    The old content is copied in chunks, so memory stays flat however large
    the file; a missing newline at its end is added first. If another program
    saves the file during the copy, the copy starts again, so its edit is kept.

    Raises:
        FileChangedError: the file kept changing for ``attempts`` tries.
    """

    def write(handle: BinaryIO) -> None:
        ends_with_newline = True
        with contextlib.suppress(FileNotFoundError), open(path, "rb") as old:
            shutil.copyfileobj(old, handle, 1 << 18)
            if old.tell() > 0:
                old.seek(-1, os.SEEK_END)
                ends_with_newline = old.read(1) == b"\n"
        if not ends_with_newline:
            handle.write(b"\n")
        handle.write(text.encode("utf-8"))

    for attempt in range(attempts):
        try:
            atomic_write(path, write, expect=stamp(path))
            return
        except FileChangedError:
            if attempt == attempts - 1:
                raise


def spool_pairs(items: Iterator[tuple[str, str]], folder: Path | None) -> tuple[IO[str], list[int]]:
    """Write (id, text) pairs to an anonymous temp file; return it and the record offsets.

    Keeps memory flat however long the backfill: only offsets stay in memory.
    ``folder`` None means the system's temp folder (a dry run creates nothing beside
    the ledger).
    """
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.TemporaryFile("w+", encoding="utf-8", dir=folder)  # noqa: SIM115 - returned
    offsets: list[int] = []
    for pid, text in items:
        offsets.append(handle.tell())
        handle.write(json.dumps([pid, text]) + "\n")
    return handle, offsets
