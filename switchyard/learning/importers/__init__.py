"""Importers: the shared benchmark data and a team's own CSV, into the dataset format.

Each returns `list[DatasetRecord]` and raises `DatasetError` naming file, line and
field when its input cannot be read. `BUILT_IN` maps the names the CLI and the
simulator's `--replay` accept to the importers that read `../shared/data`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.importers.common import DATA_DIR_ENV, default_data_dir
from switchyard.learning.importers.generic_csv import import_csv
from switchyard.learning.importers.gsm8k import import_gsm8k
from switchyard.learning.importers.mmlu import import_mmlu
from switchyard.learning.importers.mt_bench import import_mt_bench
from switchyard.learning.importers.routerarena import arena_task_type, import_routerarena

Importer = Callable[[Path], list[DatasetRecord]]

BUILT_IN: dict[str, Importer] = {
    "gsm8k": import_gsm8k,
    "mmlu": import_mmlu,
    "mt-bench": import_mt_bench,
    "routerarena": import_routerarena,
}

__all__ = [
    "BUILT_IN",
    "DATA_DIR_ENV",
    "Importer",
    "arena_task_type",
    "default_data_dir",
    "import_csv",
    "import_gsm8k",
    "import_mmlu",
    "import_mt_bench",
    "import_routerarena",
]
