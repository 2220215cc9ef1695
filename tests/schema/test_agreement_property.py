"""Property: for random schemas (1-15 features of random types, bounds, levels and names)
and random cells, the API and ingestion accept and refuse exactly the same rows.

Ingestion's side is dataset.parse_csv + clean_rows (a file); the API's side is the
request parser of /invocations and /prediction (protocol.py), fed the same cells as a CSV
body, and as JSON values whose cell text is the same (protocol.cell_text).
"""

from __future__ import annotations

import csv
import io
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_assessment.core.columns import OWN_FIELDS, parse_schema
from risk_assessment.schema import dataset
from risk_assessment.server.protocol import ApiError, csv_rows, from_records

# not a name config.json refuses for a column (seq, rank, call, ...: OWN_FIELDS)
NAME = st.text(string.ascii_lowercase + "_", min_size=1, max_size=10).filter(
    lambda s: s.strip("_") and s not in OWN_FIELDS
)
LEVEL = st.sampled_from(["north", "south", "east", "west", "retail", "tech", "x"])
BOUND = st.one_of(st.none(), st.integers(-1000, 1000))


@st.composite
def features(draw) -> dict:
    """One feature's spec: a type, maybe bounds (min <= max), levels, required."""
    kind = draw(st.sampled_from(["integer", "number", "category", "boolean"]))
    spec: dict = {"type": kind, "required": draw(st.booleans())}
    if kind in ("integer", "number"):
        low, high = draw(BOUND), draw(BOUND)
        if low is not None and high is not None and low > high:
            low, high = high, low
        spec.update({k: v for k, v in (("min", low), ("max", high)) if v is not None})
    if kind == "category" and draw(st.booleans()):
        spec["levels"] = sorted(draw(st.sets(LEVEL, min_size=1, max_size=4)))
    return spec


@st.composite
def schemas(draw):
    """A random schema: 1-15 features with random, distinct names; random id and target
    names; text target labels or 1/0."""
    names = draw(st.lists(NAME, min_size=3, max_size=17, unique_by=str.lower))
    ident, target, *rest = names
    spec = {"id": ident, "features": {n: draw(features()) for n in rest[:15]}}
    spec["target"] = (
        {"column": target, "positive": "churned", "negative": "stayed"}
        if draw(st.booleans())
        else target
    )
    return parse_schema(spec)


CELL = st.one_of(
    st.integers(-2000, 2000).map(str),
    st.floats(-2000, 2000, allow_nan=False).map(lambda f: f"{f:.3g}"),
    st.sampled_from(["", "12.5", "1e3", "+7", "-0", "2.0", str(2**53 + 1), "abc", "٣"]),
    st.sampled_from(["true", "False", "YES", "no", "Y", "n", "1", "0", "maybe"]),
    LEVEL,
    LEVEL.map(str.upper),
    st.text(string.ascii_letters + string.digits + " .-+", max_size=8),
)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """A CSV file's text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([header, *rows])
    return buffer.getvalue()


def api_accepts(schema, header: list[str], row: list[str]) -> bool:
    """Whether the API's CSV parser takes the row (ApiError: refused)."""
    try:
        csv_rows(csv_text(header, [row]).encode(), "CSV body", 10, schema)
    except ApiError as exc:
        assert exc.status == 400, exc
        return False
    return True


# 60 random schemas, about 10 s: run by make test-slow; test_user_schema checks each kind of
# bad cell through ingestion and the API in make test
@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas(), data=st.data())
def test_api_and_ingestion_accept_and_refuse_the_same_rows(schema, data):
    """Per row: the file's row is kept iff the API scores the same cells."""
    n = data.draw(st.integers(1, 6))
    cells = [[data.draw(CELL) for _ in schema.features] for _ in range(n)]
    ids = [f"c{i}" for i in range(n)]
    labels = [data.draw(st.sampled_from(["1", "0", ""])) for _ in range(n)]
    header = [schema.id, *schema.feature_names, schema.target.column]
    rows = [[i, *c, t] for i, c, t in zip(ids, cells, labels, strict=True)]
    table = dataset.parse_csv(csv_text(header, rows).encode(), "f.csv", schema)
    kept, _ = dataset.clean_rows(table, schema, allow_unlabelled=True)
    for i, row in enumerate(rows):
        accepted = api_accepts(schema, header[:-1], row[:-1])
        assert accepted == (ids[i] in set(kept[schema.id])), (row, schema.to_dict())


JSON_VALUE = st.one_of(
    st.integers(-3000, 3000),
    st.floats(-3000, 3000, allow_nan=False),
    st.sampled_from([12.5, 1e3, 2.0, 2**53 + 1, 1e300, True, False, None, 0, 1]),
    LEVEL,
    st.sampled_from(["yes", "No", "maybe", "", "12"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas(), data=st.data())
def test_json_records_follow_the_same_rules_as_their_cell_text(schema, data):
    """A JSON record is taken iff each value has the column's JSON type (numbers for
    numeric features, text for categories, true/false/0/1/text for booleans) and its cell
    text passes ingestion's rules; the numeric fast path never takes more."""
    from risk_assessment.server.protocol import cell_text

    record = {f.name: data.draw(JSON_VALUE) for f in schema.features}
    try:
        texts = {
            f.name: cell_text(record[f.name], f, f"column {f.name} row 1") for f in schema.features
        }
    except ApiError:
        texts = None
    try:
        from_records([record], "records", 10, schema)
        accepted = True
    except ApiError as exc:
        assert exc.status == 400, exc
        accepted = False
    if texts is None:
        assert not accepted
        return
    header, row = [schema.id, *texts], ["c1", *texts.values()]
    table = dataset.parse_csv(csv_text(header, [row]).encode(), "f.csv", schema, roles=())
    kept, _ = dataset.clean_rows(table, schema, allow_unlabelled=True)  # no target here
    assert accepted == (len(kept) == 1), (record, texts, schema.to_dict())
