"""Files the service creates are private to their owner: directories 0700, files 0600.

Article text is public, but the database also holds notify-URL-derived delivery rows and the
alert log can quote them; nothing the monitor writes is for other local users.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents, the ones created here made 0700 (existing ones are
    left as their owner set them)."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask; be exact
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty and 0600 unless it exists (its parent made private first).

    SQLite creates the WAL and shared-memory files with the database file's permissions, so a
    database created here keeps all three private.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path
