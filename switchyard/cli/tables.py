"""The CLI's one table printer: left-aligned columns, two spaces apart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
