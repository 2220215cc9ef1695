"""Two small steps of the schema's input step (features.py) that make it fast on a
million rows without changing what it computes.

- LevelCodes, in front of the OneHotEncoder: text categories to integer codes. The
  OneHotEncoder matches text with a Python dict lookup per cell (about 1 s for a million
  rows of 5 categories); on integer codes it uses a binary search. pandas maps the text
  to codes in a hash table, so the two together take about a third of that. The codes
  are the positions of the levels the OneHotEncoder learnt from text before (sorted
  unique values), so its output is the same matrix, column for column.
- RowStack, the ColumnTransformer itself with its own joining of the blocks when the
  output is sparse (`_hstack`, the method scikit-learn provides for subclasses to
  control the stacking). scipy joins sparse blocks row by row in a loop (about 0.8 s for
  a million rows of 20 features, every block made CSR first); when every block has the
  same number of entries in each row (a dense numeric block; a one-hot block without an
  unknown level) the joined matrix is the blocks' entries side by side, which numpy
  puts together in about a tenth of that. Otherwise (a level never seen in training
  leaves a row without an entry) the blocks go to scikit-learn's own stacking as CSR
  (as_csr), scipy's fast path. Either way the same matrix, entry for entry.

Both are listed in scoring.TRUSTED_TYPES: a saved model holds them by name.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
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
    index = index_dtype(n * k)
    indices = np.tile(np.arange(k, dtype=index), n)
    indptr = np.arange(0, n * k + 1, k, dtype=index)
    return sparse.csr_matrix((dense.ravel(), indices, indptr), shape=(n, k))


def index_dtype(size: int) -> type:
    """int32 for a CSR matrix's indices while they fit, int64 beyond (as scipy chooses)."""
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


class Rows(NamedTuple):
    """A block as its entries per row: values and columns, each rows x entries (columns
    None for a dense block: entry j of every row is column j)."""

    values: np.ndarray
    columns: np.ndarray | None


def rows_of(X: Any, n_samples: int) -> Rows | None:
    """A dense block, or a CSR block with the same number of entries in every row, as
    its Rows; None for any other block, or for no rows at all."""
    if X.shape[0] != n_samples or n_samples == 0:
        return None
    if not sparse.issparse(X):
        values = np.asarray(X)
        return Rows(values, None) if values.ndim == 2 and values.dtype.kind in "biuf" else None
    if X.format != "csr":
        return None
    per_row = X.indptr[1] - X.indptr[0]
    if not np.array_equal(X.indptr, np.arange(n_samples + 1) * per_row):
        return None
    return Rows(X.data.reshape(n_samples, per_row), X.indices.reshape(n_samples, per_row))


def join_rows(blocks: list[Rows], widths: list[int], n_samples: int) -> sparse.csr_matrix:
    """The blocks side by side as one CSR matrix: row i holds each block's row i, its
    columns moved right by the widths of the blocks before it. Written block by block
    into arrays made once (numpy's concatenate along rows is several times slower)."""
    total, per_row = sum(widths), sum(b.values.shape[1] for b in blocks)
    index = index_dtype(max(total, n_samples * per_row))
    dtype = np.result_type(np.float64, *(b.values.dtype for b in blocks))
    data = np.empty((n_samples, per_row), dtype=dtype)
    indices = np.empty((n_samples, per_row), dtype=index)
    entry, column = 0, 0
    for block, width in zip(blocks, widths, strict=True):
        part = slice(entry, entry + block.values.shape[1])
        data[:, part] = block.values
        if block.columns is None:
            indices[:, part] = np.arange(column, column + block.values.shape[1], dtype=index)
        else:
            indices[:, part] = block.columns
            indices[:, part] += index(column)
        entry, column = part.stop, column + width
    indptr = np.arange(n_samples + 1, dtype=index) * per_row
    return sparse.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(n_samples, total))


class RowStack(ColumnTransformer):
    """scikit-learn's ColumnTransformer; its sparse output joined by join_rows where every
    block allows it, by scikit-learn's own stacking otherwise (see the module docstring)."""

    def _hstack(self, Xs, *, n_samples):
        if not self.sparse_output_:
            return super()._hstack(Xs, n_samples=n_samples)
        blocks = [rows_of(X, n_samples) for X in Xs]
        if all(b is not None for b in blocks):
            return join_rows(blocks, [X.shape[1] for X in Xs], n_samples)
        csr = [X if sparse.issparse(X) else as_csr(X) for X in Xs]
        return super()._hstack(csr, n_samples=n_samples)
