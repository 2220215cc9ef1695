"""The model's input step: a ColumnTransformer built from the schema, and the map from its
output columns back to the schema's features (for the risk list's reasons).

Groups, each of the features in declared order (selected by position, so a numeric schema's
model also takes a plain float matrix, the server's fast path):
- counts: integer/number features with min >= 0. Heavy-tailed (activity, seats, spend):
  `transform` "log" applies log1p, then StandardScaler. log1p keeps the course's model
  exactly as before and was chosen by cross-validated log-loss against "raw" (training's
  transform selection, measured per training run and recorded in the metadata).
- signed: integer/number features that may be negative (NPS): arcsinh instead of log1p
  (the same log-like squashing of tails, defined for every real), then StandardScaler.
  QuantileTransformer would cope with tails too, but its 1,000 quantiles per feature make
  the model file large and its reasons harder to read; a monotone squash keeps "above /
  below average" meaningful.
- flags: booleans, as 0/1 (not scaled).
- categories: one-hot, a level never seen in training scored as none of them (ignored).
  The text goes to level codes first (encoding.LevelCodes: the levels the OneHotEncoder
  would learn from the text, sorted), which the OneHotEncoder encodes three times faster.
  With categories the step's output is a sparse matrix (scipy CSR): a client has one level
  of each category, so most of the one-hot columns are 0, and the logistic regression fits
  a million rows about 2.5 times faster on the sparse matrix than on its dense copy
  (benchmarks/bench_schema.py); `dense` turns it back into an array where one is needed.
  The blocks are then joined by encoding.RowStack (the ColumnTransformer with a faster
  join of the same matrix). A model saved before LevelCodes (an imputer and the
  OneHotEncoder on the text, a plain ColumnTransformer) still loads and explains:
  fitted_levels reads either.
Missing values (features with "required": false) are imputed from the training data:
numbers by the median, booleans by the most frequent value (0 when the training data has
no value at all), categories as their own `missing` level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from risk_assessment.core.columns import ColumnSchema, Feature
from risk_assessment.modelling.encoding import LevelCodes, RowStack

MISSING_LEVEL = "missing"


def numeric_steps(func, transform: str, scale: bool, missing: bool) -> Pipeline:
    """Impute (when values may be missing), squash the tails (log), scale."""
    steps: list[tuple[str, Any]] = []
    if missing:
        # keep_empty_features: a column with no value in the training data (the first
        # files lacked it) is imputed as 0, not dropped (which broke the column count)
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    squash = FunctionTransformer(func, feature_names_out="one-to-one")
    steps.append(("transform", squash if transform == "log" else "passthrough"))
    steps.append(("scale", StandardScaler() if scale else "passthrough"))
    return Pipeline(steps)


def flag_step(missing: bool) -> Any:
    """Booleans as they are (0/1), the most frequent value where one may be missing."""
    impute = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
    return Pipeline([("impute", impute)]) if missing else "passthrough"


def category_step(missing: bool) -> Pipeline:
    """Text to level codes (a missing value to the `missing` level where one may be
    missing), then one-hot: the levels and columns the OneHotEncoder learnt from the text
    itself, in a third of the time (encoding.py)."""
    codes = LevelCodes(fill_value=MISSING_LEVEL if missing else None)
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=True)
    return Pipeline([("codes", codes), ("onehot", onehot)])


def groups(schema: ColumnSchema) -> dict[str, list[int]]:
    """The features' positions per group (counts, signed, flags, categories)."""
    out: dict[str, list[int]] = {"counts": [], "signed": [], "flags": [], "categories": []}
    for i, f in enumerate(schema.features):
        if f.numeric:
            out["counts" if f.min is not None and f.min >= 0 else "signed"].append(i)
        else:
            out["flags" if f.type == "boolean" else "categories"].append(i)
    return {name: cols for name, cols in out.items() if cols}


def column_transformer(schema: ColumnSchema, transform: str, scale: bool) -> ColumnTransformer:
    """The schema's input step (see the module docstring)."""
    features, parts, found = schema.features, [], groups(schema)
    csr = "categories" in found  # the output is sparse (joined by RowStack)

    def missing(cols: list[int]) -> bool:
        return any(not features[i].required for i in cols)

    for name, cols in found.items():
        if name in ("counts", "signed"):
            func = np.log1p if name == "counts" else np.arcsinh
            step: Any = numeric_steps(func, transform, scale, missing(cols))
        elif name == "flags":
            step = flag_step(missing(cols))
        else:
            step = category_step(missing(cols))
        parts.append((name, step, cols))
    if csr:  # sparse output whenever there are categories (1.0: whatever the share of zeros)
        return RowStack(parts, remainder="drop", sparse_threshold=1.0)
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def dense(Z: Any) -> np.ndarray:
    """The input step's output as a float array (it is sparse when there are categories)."""
    return np.asarray(Z.toarray() if sparse.issparse(Z) else Z, dtype=float)


def column_means(Z: Any) -> np.ndarray:
    """The mean of each column of the input step's output, sparse or dense."""
    return np.asarray(Z.mean(axis=0), dtype=float).ravel()


def fitted_levels(step: Pipeline) -> list[list[Any]]:
    """Per column of a fitted categories step: its levels, in the order of its one-hot
    columns. Of LevelCodes where the step has it; of the OneHotEncoder in a model saved
    before LevelCodes (an imputer and the encoder on the text), which still loads."""
    found = (
        step.named_steps["codes"].levels_
        if "codes" in step.named_steps
        else step.named_steps["onehot"].categories_
    )
    # a missing value kept as a level of its own (None, NaN: the old step's imputer did
    # not see the loader's None) is named as the missing level, not read as a number
    return [[MISSING_LEVEL if pd.isna(lv) else lv for lv in levels] for levels in found]


def output_features(columns: ColumnTransformer, schema: ColumnSchema) -> list[int]:
    """Per output column of a fitted ColumnTransformer: the position of its feature."""
    owner: list[int] = []
    for name, step, cols in columns.transformers_:
        if name == "remainder":
            continue
        if name != "categories":
            owner += list(cols)
            continue
        for col, levels in zip(cols, fitted_levels(step), strict=True):
            owner += [col] * len(levels)
    return owner


def output_levels(columns: ColumnTransformer) -> list[Any]:
    """Per output column: its category level (None for a numeric or boolean column)."""
    levels: list[Any] = []
    for name, step, cols in columns.transformers_:
        if name == "remainder":
            continue
        if name != "categories":
            levels += [None] * len(cols)
            continue
        for found in fitted_levels(step):
            levels += list(found)
    return levels


def feature_words(feature: Feature, value: Any) -> str:
    """'industry is retail', 'auto renew is yes': a category or boolean value in words."""
    if feature.type == "boolean":
        return f"{feature.words} is {'yes' if value == 1 else 'no'}"
    return f"{feature.words} is {value if isinstance(value, str) else MISSING_LEVEL}"


MLFLOW_TYPES = {"integer": "long", "number": "double", "category": "string", "boolean": "boolean"}


def mlflow_signature(schema: ColumnSchema) -> dict[str, Any]:
    """The model's MLflow signature (as an MLmodel file's `signature`), from the schema:
    one column spec per feature with its type and whether it may be missing; the output
    a 0/1 per row."""
    inputs = [
        {"type": MLFLOW_TYPES[f.type], "name": f.name, "required": f.required}
        for f in schema.features
    ]
    return {"inputs": inputs, "outputs": [{"type": "long", "required": True}]}
