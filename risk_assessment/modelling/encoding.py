"""Two small steps of the schema's input step (features.py) that make it fast on a
million rows without changing what it computes.

- LevelCodes, in front of the OneHotEncoder: text categories to integer codes. The
  OneHotEncoder matches text with a Python dict lookup per cell (about 1 s for a million
  rows of 5 categories); on integer codes it uses a binary search. pandas maps the text
  to codes in a hash table, so the two together take about a third of that. The codes
  are the positions of the levels the OneHotEncoder learnt from text before (sorted
  unique values), so its output is the same matrix, column for column.
- as_csr, at the end of each numeric or boolean block when the output is sparse: the
  ColumnTransformer stacks dense blocks beside the sparse one-hot block through scipy's
  general path (every block to COO and back, about 1.6 s); when every block is already
  CSR, scipy joins them row by row (its fast path), the same matrix in about 0.7 s.

Both are listed in scoring.TRUSTED_TYPES: a saved model holds them by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted


def columns_of(X: Any) -> list[pd.Series]:
    """The columns of a frame or 2-D array, as Series (one pass of pandas per column)."""
    if hasattr(X, "iloc"):
        return [X.iloc[:, j] for j in range(X.shape[1])]
    X = np.asarray(X, dtype=object)
    return [pd.Series(X[:, j], dtype=object) for j in range(X.shape[1])]


def learn_levels(values: pd.Series, fill_value: str | None) -> list[Any]:
    """The levels the OneHotEncoder learns from text: the sorted unique values, missing
    ones as fill_value (the imputer's constant before it); with no fill_value a missing
    value is a level of its own, last, as the encoder itself keeps it (a required
    feature has no missing value: validation refuses them)."""
    distinct = values.unique()  # missing values among the few distinct ones, not every row
    found = {value for value in distinct if not pd.isna(value)}
    if len(found) == len(distinct):
        return sorted(found)
    if fill_value is not None:
        return sorted(found | {fill_value})
    return [*sorted(found), None]


def level_codes(values: pd.Series, levels: list[Any], fill_value: str | None) -> np.ndarray:
    """Per value: the position of its level, -1 for a level never seen in training (the
    OneHotEncoder, ignoring unknown values, scores it as none of the levels)."""
    named = [level for level in levels if level is not None]
    codes = pd.Index(named, dtype=object).get_indexer(values)
    if fill_value in levels:  # a missing value has a level (fill_value, or None itself)
        codes[values.isna().to_numpy()] = levels.index(fill_value)
    return codes.astype(np.int32, copy=False)


class LevelCodes(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Text categories to the codes of their levels (sorted unique training values).

    fill_value: the level a missing value takes (features.MISSING_LEVEL when a feature
    of the group may be missing, as the SimpleImputer gave it before); None keeps it a
    level of its own. levels_ (per column, after fit) names each code: the risk list's
    reasons read them ("industry is retail").
    """

    def __init__(self, fill_value: str | None = None):
        self.fill_value = fill_value

    def fit(self, X: Any, y: Any = None) -> LevelCodes:
        """Learn each column's levels."""
        self.levels_ = [learn_levels(col, self.fill_value) for col in columns_of(X)]
        self.n_features_in_ = len(self.levels_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Each column's codes, as an int32 array (rows x columns)."""
        check_is_fitted(self, "levels_")
        cols = columns_of(X)
        if len(cols) != self.n_features_in_:
            raise ValueError(f"LevelCodes: {len(cols)} column(s), fitted on {self.n_features_in_}")
        out = np.empty((len(X), len(cols)), dtype=np.int32)
        for j, (col, levels) in enumerate(zip(cols, self.levels_, strict=True)):
            out[:, j] = level_codes(col, levels, self.fill_value)
        return out


def as_csr(X: Any) -> sparse.csr_matrix:
    """A dense block (array or frame) as a CSR matrix of float64, every entry stored: built
    directly (row i's entries at data[i*k:(i+1)*k]), no search for the non-zeros."""
    dense = np.ascontiguousarray(X, dtype=np.float64)
    n, k = dense.shape
    index = np.int32 if n * k < np.iinfo(np.int32).max else np.int64
    indices = np.tile(np.arange(k, dtype=index), n)
    indptr = np.arange(0, n * k + 1, k, dtype=index)
    return sparse.csr_matrix((dense.ravel(), indices, indptr), shape=(n, k))
