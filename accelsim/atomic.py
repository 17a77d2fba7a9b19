"""Atomic file writes: write to a temporary file in the same folder, fsync, rename over the target, fsync the folder.

A reader never sees a half-written file, and an interrupted writer leaves the old file (or none) in place; the
folder is fsynced after the rename so the new name itself survives a power loss. A target that is a directory,
or a folder that cannot be written, raises :class:`~accelsim.errors.AccelsimError` naming the path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from accelsim.errors import AccelsimError


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a platform without directory handles: the rename is as durable as it gets
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` to produce the file, then atomically move it to ``path``."""
    target = Path(path)
    if target.is_dir():
        raise AccelsimError(f"{target}: is a directory; give the path of a file to write")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise AccelsimError(f"{target}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(tmp_path, target)
        except OSError as exc:
            raise AccelsimError(f"{target}: cannot replace it ({exc.strerror or exc})") from None
        _fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    atomic_write(path, lambda p: p.write_bytes(data))
