"""A clean frame's columns as the store binds them, and as the export formats them (a part
of ingestion).

The store takes Python values (int, float, text, None), made a whole column at a time by
numpy's tolist(). The export (store/fresh.py) writes the same values as text; it is given
the numbers as arrays where the array holds exactly the bound values (numbers, with NaN
where None was bound; integers and booleans without a missing value), so that they are
formatted without first looking at every value's type: about 0.6 s less for a million
rows of 20 columns (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.store.tables import stored_names


def column_values(values: pd.Series, kind: str) -> list:
    """A typed column as Python values for the store: int, float or text, None missing
    (numpy's tolist() converts a whole column at once)."""
    missing = values.isna().to_numpy()
    if kind in ("integer", "boolean"):
        out = values.fillna(0).to_numpy(dtype="int64").tolist()
    elif kind == "number":
        out = values.to_numpy(dtype=float).tolist()
    else:
        out = values.tolist()
    if missing.any():
        out = [None if m else v for v, m in zip(out, missing.tolist(), strict=True)]
    return out


def export_values(values: pd.Series, kind: str, bound: list) -> Any:
    """The column as the export takes it: numbers as a float array (NaN where None was
    bound), integers and booleans without a missing value as an int64 array, any other
    as the very values bound."""
    if kind == "number":
        return values.to_numpy(dtype=float)
    if kind in ("integer", "boolean") and not values.isna().any():
        return values.to_numpy(dtype=np.int64)
    return bound


def stored_columns(
    data: pd.DataFrame | None, schema: ColumnSchema = DEFAULT_SCHEMA
) -> tuple[list[list], list[Any]]:
    """A clean frame's columns as the store takes them, in the schema's stored order (id,
    features, the target 1/0 or None when unlabelled, value): integers and booleans as
    int, numbers as float, categories as text, missing as None; and the same columns for
    the export (export_values; the target always as bound). ([], []) for no frame."""
    if data is None:
        return [], []
    columns, export = [data[schema.id].astype(str).tolist()], []
    for name in stored_names(schema):
        kind = schema.feature(name).type if name in schema.feature_names else "number"
        values = data[name] if name in data else pd.Series(None, index=data.index, dtype=float)
        columns.append(column_values(values, kind))
        export.append(export_values(values, kind, columns[-1]))
    n = len(schema.features)
    target = column_values(data[schema.target.column], "integer")
    columns = [*columns[: n + 1], target, *columns[n + 1 :]]
    return columns, [columns[0], *export[:n], target, *export[n:]]
