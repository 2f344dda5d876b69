"""`init`'s look at how fine each estimated categorical column is: one that is too fine to survive the
DP category estimate (most of its rows in levels rarer than the release line) comes back mostly
'__other__' (a 3,535-level column with about 76 rows a level came back 96% '__other__'), so the draft
says so before anything is spent.

Like the types, this reads the steward's own table on the steward's machine and writes only column
names into the draft's comments: no value, no count.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .config import ReleaseConfig
from .load import iter_raw, with_null_tokens
from .plan import plan_budget, split_domains

__all__ = ["too_fine_columns"]

_MOST_KEYS = 200_000  # past this many distinct values a column is too fine at any budget; stop counting it
_RARE_ROWS_SHARE = 0.5  # too fine: at least this share of the column's rows lies in levels below the line


def too_fine_columns(config: ReleaseConfig) -> dict[str, float]:
    """Estimated categorical columns most of whose rows lie in levels too rare to be found at this budget,
    with the rows a level needs (public: from the budget and the table's size)."""
    from synthgate.privacy.accountant import Budget

    columns = [c.name for c in config.attributes if c.type == "categorical" and c.categories == "estimate"]
    if not columns:
        return {}
    counters = {name: Counter[str]() for name in columns}
    n_rows = 0
    header = [c.name for c in config.columns]
    for batch in iter_raw(config.source_path, config.source_format, columns, header):
        n_rows += batch.num_rows
        for name in columns:
            if len(counters[name]) > _MOST_KEYS:
                continue
            spec = config.column(name)
            values = with_null_tokens(batch.column(name), spec).drop_null().cast("string")
            counters[name].update(values.to_pylist())
    plan = plan_budget(config, Budget(config.privacy.epsilon, config.privacy.delta))
    n_train = n_rows * (1 - (config.holdout.fraction or 0.0))
    shares = dict(split_domains(plan, n_hat=n_train, kinds=config.estimated_kinds,
                                contribution=config.contribution).level_shares)
    flagged: dict[str, float] = {}
    for name, counter in counters.items():
        line = shares[name] * n_rows  # a level needs about this many rows (of the whole table) to be found
        counts = np.fromiter(counter.values(), dtype=np.int64, count=len(counter))
        if len(counter) > _MOST_KEYS or (counts.sum() and counts[counts < line].sum() >= _RARE_ROWS_SHARE * counts.sum()):
            flagged[name] = float(shares[name] * n_train)
    return flagged
