"""Token prices for datasets that record token counts but no cost.

The price file is RouterArena's `cost.json` shape, which is also what a team can write
by hand: `{"model": {"input_token_price_per_million": 0.25,
"output_token_price_per_million": 1.25}, ...}` in USD per million tokens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.learning.dataset import DatasetError, ModelAnswer, cost_micros_for

MICROS_PER_USD = 1_000_000


@dataclass(frozen=True)
class TokenPrices:
    """Micro-USD per million tokens, the registry's unit (`input_per_mtok_micros`)."""

    input_micros_per_mtok: int
    output_micros_per_mtok: int

    def cost_micros(self, answer: ModelAnswer) -> int:
        """The recorded cost, else the tokens at these prices (rounded up)."""
        return cost_micros_for(
            answer,
            input_micros_per_mtok=self.input_micros_per_mtok,
            output_micros_per_mtok=self.output_micros_per_mtok,
        )


def usd_to_micros(usd: float) -> int:
    """USD to micro-USD, rounded up so a paid call never costs 0; float noise such as
    236.99999999999997 does not round up to 237 + 1."""
    return math.ceil(round(usd * MICROS_PER_USD, 6))


def load_prices(path: Path | str) -> dict[str, TokenPrices]:
    """Prices by model from a cost.json-shaped file; a bad entry names its field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise DatasetError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DatasetError(path, "must be an object keyed by model name")
    return {model: _prices(path, model, entry) for model, entry in raw.items()}


def _prices(path: Path, model: str, entry: Any) -> TokenPrices:
    if not isinstance(entry, Mapping):
        raise DatasetError(path, "must be an object", field=model)
    values = []
    for key in ("input_token_price_per_million", "output_token_price_per_million"):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise DatasetError(
                path, f"must be a number >= 0 (USD), got {value!r}", field=f"{model}.{key}"
            )
        values.append(round(value * MICROS_PER_USD))
    return TokenPrices(input_micros_per_mtok=values[0], output_micros_per_mtok=values[1])
