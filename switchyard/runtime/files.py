"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(
    path: str | os.PathLike[str], data: bytes | str, *, durable: bool = True
) -> None:
    """Write `data` to a sibling temporary file, then rename it over `path`.

    durable: fsync the file and its directory, so after a crash or power cut `path`
    holds the old or the new content whole (off for files a restart rewrites anyway).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    payload = data.encode() if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as out:
            out.write(payload)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
