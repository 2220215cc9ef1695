"""The input step's fast parts (modelling/encoding.py): level codes in front of the
OneHotEncoder and RowStack's joining of the blocks give the matrix and the model of the
input step before them (an imputer and the OneHotEncoder on the text, scikit-learn's
ColumnTransformer), entry for entry, on random data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from risk_assessment.core.columns import parse_schema
from risk_assessment.modelling.encoding import LevelCodes, RowStack, as_csr, join_rows, rows_of
from risk_assessment.modelling.features import (
    MISSING_LEVEL,
    column_transformer,
    dense,
    groups,
    output_features,
    output_levels,
)

LEVELS = ["a", "b", "B", "retail", "é", "missing", "10", "9", " x"]  # "missing": a real level too


def old_numeric(func, transform: str, scale: bool, missing: bool) -> Pipeline:
    """A numeric block before encoding.py: dense, imputed, squashed, scaled."""
    impute = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    squash = FunctionTransformer(func) if transform == "log" else "passthrough"
    steps = [("transform", squash), ("scale", StandardScaler() if scale else "passthrough")]
    return Pipeline((impute if missing else []) + steps)


def old_step(name: str, transform: str, scale: bool, missing: bool):
    """A group's step before encoding.py; categories: the imputer (where a value may be
    missing) and the OneHotEncoder on the text."""
    if name in ("counts", "signed"):
        func = np.log1p if name == "counts" else np.arcsinh
        return old_numeric(func, transform, scale, missing)
    if name == "flags":
        impute = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        return Pipeline([("impute", impute)]) if missing else "passthrough"
    fill = SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=True)
    return Pipeline([*([("impute", fill)] if missing else []), ("onehot", onehot)])


def old_column_transformer(schema, transform: str, scale: bool) -> ColumnTransformer:
    """The input step as it was before encoding.py, built with scikit-learn alone."""
    found = groups(schema)
    parts = [
        (
            name,
            old_step(name, transform, scale, any(not schema.features[i].required for i in cols)),
            cols,
        )
        for name, cols in found.items()
    ]
    threshold = 1.0 if "categories" in found else 0.0
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=threshold)


@st.composite
def worlds(draw):
    """A schema of two counts, two signed numbers, 0-2 booleans and 1-3 categories (some
    optional), in a random order; a training frame and a scoring frame (with levels
    never seen in training and, in optional features, missing values as NaN)."""
    n = draw(st.integers(4, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    specs = {name: {"type": "integer", "min": 0} for name in ("seats", "users")}
    specs |= {name: {"type": "number"} for name in ("nps", "margin")}
    for k in range(draw(st.integers(0, 2))):
        specs[f"flag{k}"] = {"type": "boolean", "required": draw(st.booleans())}
    cats = draw(st.integers(1, 3))
    for k in range(cats):
        specs[f"cat{k}"] = {"type": "category", "required": draw(st.booleans())}
    order = draw(st.permutations(list(specs)))
    schema = parse_schema({"id": "id", "target": "y", "features": {k: specs[k] for k in order}})
    pools = {
        f"cat{k}": draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=5, unique=True))
        for k in range(cats)
    }  # fmt: skip
    frames = [frame(schema, pools, rng, n, draw(st.floats(0, 0.4))) for _ in range(2)]
    unseen = draw(st.lists(st.sampled_from(["zz", "A", "new"]), min_size=1, max_size=3))
    for k, level in enumerate(unseen):  # the scoring frame holds levels never seen
        frames[1].loc[k % n, f"cat{k % cats}"] = level
    return schema, *frames, draw(st.sampled_from(["raw", "log"])), draw(st.booleans())


def frame(schema, pools: dict, rng, n: int, missing: float) -> pd.DataFrame:
    """n rows of the schema's features; optional ones with a share of missing values."""
    data = {}
    for f in schema.features:
        if f.type == "integer":
            values = pd.Series(rng.poisson(3, n))
        elif f.type == "number":
            values = pd.Series(rng.normal(0, 30, n).round(1))
        elif f.type == "boolean":
            values = pd.Series(rng.integers(0, 2, n).astype(float))
        else:
            pool = np.array(pools[f.name], dtype=object)
            values = pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object)
        gone = rng.random(n) < missing
        gone[0] = False  # one value at least: the old imputer drops a column without any
        data[f.name] = values if f.required else values.mask(gone, np.nan)
    return pd.DataFrame(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_the_input_step_equals_the_one_before_it_entry_for_entry(world):
    """On random data: the same matrix (sparse with categories, dense without), the same
    output columns and level names, and a logistic regression fitted on each gives the
    same probabilities."""
    schema, train, score, transform, scale = world
    old = old_column_transformer(schema, transform, scale).fit(train)
    new = column_transformer(schema, transform, scale).fit(train)
    for X in (train, score):
        A, B = old.transform(X), new.transform(X)
        assert sparse.issparse(A) == sparse.issparse(B) and A.shape == B.shape
        assert np.array_equal(dense(A), dense(B))
    assert output_levels(new) == output_levels(old)
    assert output_features(new, schema) == output_features(old, schema)
    y = np.arange(len(train)) % 2
    with warnings.catch_warnings():  # unscaled raw numbers may not converge: both alike
        warnings.simplefilter("ignore", ConvergenceWarning)
        p_old = (
            LogisticRegression().fit(old.transform(train), y).predict_proba(old.transform(score))
        )
        p_new = (
            LogisticRegression().fit(new.transform(train), y).predict_proba(new.transform(score))
        )
    np.testing.assert_allclose(p_new, p_old, rtol=0, atol=1e-9)


def plan_schema(required: bool):
    return parse_schema({
        "id": "acct", "target": "churn",
        "features": {
            "seats": {"type": "integer", "min": 0},
            "plan": {"type": "category", "required": required},
        },
    })  # fmt: skip


def test_a_level_never_seen_scores_as_none_of_the_levels():
    """A level unseen in training: zeros across its category's one-hot columns."""
    train = pd.DataFrame({"seats": [1, 2, 3], "plan": ["pro", "basic", "pro"]})
    columns = column_transformer(plan_schema(True), "log", True).fit(train)
    Z = dense(columns.transform(pd.DataFrame({"seats": [2, 2], "plan": ["gold", "pro"]})))
    assert output_levels(columns) == [None, "basic", "pro"]
    assert Z[:, 1:].tolist() == [[0, 0], [0, 1]]


def test_a_missing_value_lands_in_the_missing_level_as_none_or_nan():
    """An optional category's missing value is the `missing` level, whether it arrives as
    None (as the loader and the API give it) or as NaN; the SimpleImputer before it saw
    only NaN, so the loader's None was a level of its own."""
    plan = pd.Series(["pro", None, "basic", np.nan], dtype=object)
    columns = column_transformer(plan_schema(False), "log", True)
    Z = dense(columns.fit_transform(pd.DataFrame({"seats": [1, 2, 3, 4], "plan": plan})))
    assert output_levels(columns) == [None, "basic", MISSING_LEVEL, "pro"]
    assert Z[:, 1:].tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    probe = pd.DataFrame({"seats": [2, 2], "plan": pd.Series([None, np.nan], dtype=object)})
    assert dense(columns.transform(probe))[:, 2].tolist() == [1, 1]


def test_level_codes_are_the_positions_of_the_sorted_levels():
    """fit learns the sorted unique values (the OneHotEncoder's own order), transform
    gives their positions, -1 for an unseen level, in one int32 array."""
    X = pd.DataFrame({"a": ["b", "a", "c", "a"], "b": ["y", "x", None, "x"]}, dtype=object)
    codes = LevelCodes(fill_value=MISSING_LEVEL).fit(X)
    assert codes.levels_ == [["a", "b", "c"], [MISSING_LEVEL, "x", "y"]]
    out = codes.transform(pd.DataFrame({"a": ["c", "zz"], "b": [None, "y"]}, dtype=object))
    assert out.dtype == np.int32 and out.tolist() == [[2, 0], [-1, 2]]


def test_the_sparse_output_is_joined_by_rowstack_and_a_numeric_schema_stays_dense():
    """With categories the input step is a RowStack and its output CSR, the numeric
    blocks left dense for it to join; a numeric schema keeps scikit-learn's own
    ColumnTransformer and its dense output (the server's fast path)."""
    data = pd.DataFrame({"seats": [1, 5, 9], "plan": ["pro", "basic", "pro"]})
    columns = column_transformer(plan_schema(True), "log", True).fit(data)
    assert type(columns) is RowStack
    assert isinstance(columns.named_transformers_["counts"].transform(data[["seats"]]), np.ndarray)
    assert sparse.isspmatrix_csr(columns.transform(data))
    numeric = parse_schema({"id": "acct", "target": "churn", "features": {
        "seats": {"type": "integer", "min": 0}, "nps": {"type": "number"}}})  # fmt: skip
    train = pd.DataFrame({"seats": [1, 5], "nps": [-3.0, 4.0]})
    plain = column_transformer(numeric, "log", True).fit(train)
    assert type(plain) is ColumnTransformer
    assert isinstance(plain.transform(pd.DataFrame({"seats": [2], "nps": [0.5]})), np.ndarray)


@st.composite
def blocks(draw):
    """1-4 blocks of n rows: dense (C or F order; float, int or bool) or CSR (the same
    number of entries per row, or not: a row may lack its entry, as an unseen level's)."""
    n = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        width = draw(st.integers(0, 6))
        kind = draw(st.sampled_from(["float", "int", "bool", "fortran", "onehot", "ragged"]))
        if kind in ("onehot", "ragged") and width:
            cols = rng.integers(0, width, n)
            keep = rng.random(n) < (0.7 if kind == "ragged" else 2.0)
            rows = np.flatnonzero(keep)
            out.append(
                sparse.csr_matrix((rng.normal(size=len(rows)), (rows, cols[keep])), (n, width))
            )
        else:
            block = rng.normal(size=(n, width)).round(1)
            block = {"int": block.astype(np.int64), "bool": block > 0}.get(kind, block)
            out.append(np.asfortranarray(block) if kind == "fortran" else block)
    return n, out


def scipy_join(Xs: list) -> sparse.csr_matrix:
    """scikit-learn's stacking of sparse output: scipy's hstack of the blocks."""
    return sparse.hstack([sparse.csr_matrix(X, dtype=np.float64) for X in Xs]).tocsr()


@settings(max_examples=200, deadline=None)
@given(blocks())
def test_join_rows_is_scipys_stacking_entry_for_entry(case):
    """Where every block has the same entries per row, join_rows gives the matrix scipy
    gives (shape, dtype, every entry); a block whose rows differ is left to scipy."""
    n, Xs = case
    found = [rows_of(X, n) for X in Xs]
    for X, rows in zip(Xs, found, strict=True):
        even = not sparse.issparse(X) or len(set(np.diff(X.indptr))) <= 1
        assert (rows is not None) == even
    if all(r is not None for r in found):
        joined = join_rows(found, [X.shape[1] for X in Xs], n)
        expected = scipy_join(Xs)
        assert sparse.isspmatrix_csr(joined) and joined.dtype == np.float64
        assert joined.shape == expected.shape
        assert np.array_equal(joined.toarray(), expected.toarray())


def test_as_csr_stores_every_entry_of_the_block():
    """as_csr is the dense block itself (zeros stored too), float64, rows in order."""
    block = np.array([[1.5, 0.0, -2.0], [0.0, 3.0, 4.0]])
    csr = as_csr(pd.DataFrame(block))
    assert csr.dtype == np.float64 and csr.nnz == 6
    assert np.array_equal(csr.toarray(), block) and csr.has_sorted_indices
