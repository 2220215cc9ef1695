"""Random schemas and the rows of a user's files for them, with what the rules make of each
row: the oracle of the end-to-end property test (tests/test_schema_property.py).

A schema is drawn by hypothesis (the feature strategy of the parser-level property test,
widened: names as users write them and the system's own words, labels, bounds that are not
whole numbers, integers near 2^53, levels with capitals, aliases, a value column). The rows
come from a seeded random.Random, so a 200-row file does not exhaust hypothesis's buffer
and a failure still replays from its (schema, seed). Each row knows the texts of its
cells, and the tuple the store must hold for it (valid rows) or the one reason it must be
dropped with and the bad cell's text (bad rows: exactly one bad cell each).
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from risk_assessment.core.columns import OWN_FIELDS, ColumnSchema, Feature
from tests.schema.test_agreement_property import NAME, features

# Names as users write them (mixed case, digits, spaces, commas, quotes, dots inside) and
# words the store, the API and the risk list use for themselves (config.json refuses an id
# or value column named like one of OWN_FIELDS, and any column named seq).
OWN_WORDS = ["corporation", "exited", "schema", "duplicate", "source_id", "index", "id"]
OWN_WORDS += ["records", "data", *sorted(OWN_FIELDS - {"seq"})]
NAMES = st.one_of(
    NAME,
    st.from_regex(r"[A-Za-z][A-Za-z0-9_ .,'\"-]{0,10}[A-Za-z0-9]", fullmatch=True),
    st.sampled_from(OWN_WORDS),
).filter(lambda name: name != "seq")
FREE = NAMES.filter(lambda name: name not in OWN_FIELDS)  # for the id and value columns
LABELS = st.from_regex(r"[A-Za-z][A-Za-z _]{0,8}[A-Za-z]", fullmatch=True)
LEVELS = st.sampled_from(["north", "south", "east", "west", "retail", "tech", "x", "New York"])
# free category values, as written (markup too: the pages must show it as text)
WORDS = ["red", "Green", "blue sky", "retail", "x", "Ärger", "<i>x</i>"]
MARKUP = ["<i>x</i>", "<u>lbl</u>"]  # never raw in a page
TRUE_TEXT = ["true", "TRUE", "Yes", "Y", "1", "1.0"]
FALSE_TEXT = ["false", "No", "no", "n", "0", "0.0"]
BIG = 2**53  # the largest magnitude the rules take
UNKNOWN_LEVEL = "zz_unknown"  # never one of the strategies' levels
IGNORED = "zz notes!"  # a column of the file the schema does not know (no name has a "!";
# an alias, "<name>!src", always does)


def same_name(name: str) -> str:
    """What headers compare (case and outer spaces ignored)."""
    return name.strip().lower()


@st.composite
def feature_specs(draw) -> dict:
    """A feature of the parser-level property test, sometimes with bounds that are not
    whole numbers or levels with capitals and spaces."""
    spec = draw(features())
    if "levels" in spec and draw(st.booleans()):
        spec["levels"] = sorted(draw(st.sets(LEVELS, min_size=1, max_size=5)))
    if spec["type"] == "integer" and draw(st.integers(0, 7)) == 0:  # near the 2^53 bound
        spec.pop("max", None)
        spec.update(min=BIG - 1000, **({"max": BIG} if draw(st.booleans()) else {}))
    if draw(st.booleans()):  # the words used in reasons, tables and the dashboard
        spec["label"] = draw(st.sampled_from(["<u>lbl</u>", "Spend & co", "licensed seats"]))
    one_integer = spec["type"] == "integer" and spec.get("min", 0) == spec.get("max", 1)
    if spec["type"] in ("integer", "number") and not one_integer and draw(st.booleans()):
        spec.update({k: spec[k] + 0.5 for k in ("min", "max") if k in spec})
    return spec


@st.composite
def schema_specs(draw) -> dict:
    """A config.json `schema` section: 1-15 features of random types and names, random id
    and target names, text target labels (random) or 1/0, maybe a value column (its own,
    or a numeric feature; a name, or {column, label})."""
    names = draw(st.lists(NAMES, min_size=2, max_size=16, unique_by=same_name))
    target, *rest = names
    taken = {same_name(n) for n in names}
    ident, value = draw(st.lists(FREE, min_size=2, max_size=2, unique_by=same_name))
    assume(not {same_name(ident), same_name(value)} & taken)
    spec: dict = {"id": ident, "features": {n: draw(feature_specs()) for n in rest[:15]}}
    labels = [f.get("label") for f in spec["features"].values()]
    for i, feature in enumerate(spec["features"].values()):  # config.json refuses a label
        if "label" in feature and feature["label"] in labels[:i]:  # another feature has
            feature.pop("label")
    spec["target"] = target
    if draw(st.booleans()):
        positive, negative = draw(st.lists(LABELS, min_size=2, max_size=2, unique_by=same_name))
        spec["target"] = {"column": target, "positive": positive, "negative": negative}
    columns = [ident, target, *spec["features"]]
    aliased = draw(st.lists(st.sampled_from(columns), max_size=3, unique=True))
    if aliased:  # the file's header for these columns is another name (aliases)
        spec["aliases"] = {f"{c}!src": c for c in aliased}
    numeric = [n for n, f in spec["features"].items() if f["type"] in ("integer", "number")]
    numeric = [n for n in numeric if n not in OWN_FIELDS]
    choice = draw(st.sampled_from(["none", "own", "feature"]))
    if choice == "own" or (choice == "feature" and numeric):
        column = value if choice == "own" else draw(st.sampled_from(numeric))
        labelled = draw(st.booleans())  # the value with its own words, {column, label}
        spec["value"] = {"column": column, "label": draw(LABELS)} if labelled else column
    return spec


def span(feature: Feature) -> tuple[float, float]:
    """The inclusive range valid values are drawn from (the bounds, else a wide one)."""
    low = feature.min if feature.min is not None else (feature.max or 0) - 1000
    high = feature.max if feature.max is not None else low + 2000
    return max(low, -BIG), min(high, BIG)


def valid_cell(rng: random.Random, feature: Feature) -> tuple[str, object]:
    """(cell text, the value the store keeps) of a valid cell, written in one of the ways
    the rules take (12, +12, 0012, 12.0; 1.5, 1.5e+00; levels in any case)."""
    if not feature.required and rng.random() < 0.1:
        return "", None
    low, high = span(feature)
    if feature.type == "integer":
        v = rng.randint(math.ceil(low), math.floor(high))
        more = [f"+{v}", f"00{v}"] if v >= 0 else []
        return rng.choice([str(v), str(v), f"{v}.0", *more]), v
    if feature.type == "number":
        x = rng.randint(math.ceil(low * 100), math.floor(high * 100)) / 100
        return rng.choice([str(x), str(x), f"{x:e}", f" {x} "]), x
    if feature.type == "boolean":
        word = rng.choice(TRUE_TEXT + FALSE_TEXT)
        return word, int(word in TRUE_TEXT)
    if feature.levels:
        level = rng.choice(feature.levels)
        return rng.choice([level, level.upper(), level.title()]), level
    word = rng.choice(WORDS)
    return word, word


def bad_cells(feature: Feature) -> list[tuple[str, str]]:
    """Every (cell text, reason) that drops a row for this feature: a decimal in an integer,
    text in a number, out of bounds, an unknown level, not a boolean, an empty required
    cell. Empty for an optional category without levels (any text is fine)."""
    name, low, high = feature.name, feature.min, feature.max
    out = [("", f"missing {name}")] if feature.required else []
    if feature.type == "integer":
        whole = math.ceil(span(feature)[0])  # near 2^53 too, where a float has no halves
        out += [(f"{whole}.5", f"non-integer {name}")]
        out.append(("abc", f"non-numeric {name}"))
    if feature.type == "number":
        out.append(("n/a", f"non-numeric {name}"))
    if feature.numeric and low is not None:
        below = math.ceil(low) - 1 if feature.type == "integer" else low - 0.5
        out.append((str(below), f"negative {name}" if low == 0 else f"{name} below min {low:g}"))
    if feature.numeric and high is not None:
        above = math.floor(high) + 1 if feature.type == "integer" else high + 0.25
        out.append(
            (str(above), f"{name} above 2^53" if above > BIG else f"{name} above max {high:g}")
        )
    if feature.levels:
        out.append((UNKNOWN_LEVEL, f"{name} not one of its levels"))
    if feature.type == "boolean":
        out.append(("maybe", f"{name} not true/false, yes/no, y/n or 1/0"))
    return out


@dataclass
class Row:
    """A row of the file: its cells by schema column, and what the rules make of it."""

    cells: dict[str, str]
    stored: tuple | None  # (id, *features, target, [value]) as stored; None when dropped
    reason: str | None = None  # why it is dropped
    example: str | None = None  # the bad cell's text
    api_refuses: bool = False  # the bad cell is one the API reads (the id or a feature)


def target_text(rng: random.Random, schema: ColumnSchema, label: int | None) -> str:
    """The target cell of a label (1 exited, 0 stayed, None unlabelled): 1/0, or the
    schema's text label in some case."""
    if label is None:
        return ""
    words = [str(label)]
    if schema.target.positive is not None:
        word = schema.target.positive if label else schema.target.negative
        words += [word, word.upper(), word.title()]
    return rng.choice(words)


def valid_row(
    rng: random.Random, schema: ColumnSchema, ident: str, label: int | None, absent=frozenset()
) -> Row:
    """A row every rule keeps; stored as (id, *features, target, [value]). The optional
    features in absent are not in the file: no cell, stored as missing."""
    cells, stored = {schema.id: ident}, [ident]
    for feature in schema.features:
        value = None
        if feature.name not in absent:
            cells[feature.name], value = valid_cell(rng, feature)
        stored.append(value)
    cells[schema.target.column] = target_text(rng, schema, label)
    stored.append(label)
    if schema.value and schema.value not in schema.feature_names:
        money = None if rng.random() < 0.1 else rng.randint(0, 10**6) / 10
        cells[schema.value] = "" if money is None else str(money)
        stored.append(money)
    return Row(cells, tuple(stored))


def defects(schema: ColumnSchema) -> list[tuple[str, str, str, bool]]:
    """Every (column, cell text, reason, whether the API reads that column) of one bad
    cell: the features' bad cells, an empty id, an unknown target label, a negative value."""
    out = [(f.name, text, why, True) for f in schema.features for text, why in bad_cells(f)]
    out.append((schema.id, "", f"missing {schema.id}", True))
    target = schema.target
    words = "0 or 1" if target.positive is None else f"{target.positive} or {target.negative}"
    out.append((target.column, "perhaps?", f"{target.column} not {words}", False))
    if schema.value and schema.value not in schema.feature_names:
        out.append((schema.value, "-1", f"negative {schema.value}", False))
    return out


def bad_row(rng: random.Random, schema: ColumnSchema, ident: str, absent=frozenset()) -> Row:
    """A labelled row with exactly one bad cell. Its first feature is never empty (nor
    absent), so the API's copy of the row (id and features) is never a blank line."""
    row = valid_row(rng, schema, ident, rng.randint(0, 1), absent)
    first = schema.features[0]
    if row.cells[first.name] == "":
        filled = Feature(first.name, first.type, first.min, first.max, first.levels)
        row.cells[first.name] = valid_cell(rng, filled)[0]
    column, text, reason, api = rng.choice([d for d in defects(schema) if d[0] in row.cells])
    row.cells[column] = text
    return Row(row.cells, None, reason, text, api)


def fits(row: Row, schema: ColumnSchema, absent) -> bool:
    """Whether a file without the features in absent can repeat the row exactly."""
    return all(row.stored[1 + i] is None for i, f in enumerate(schema.features) if f.name in absent)


def repeat(row: Row, schema: ColumnSchema, absent) -> Row:
    """An exact repeat of a valid row in a file without the features in absent (a column
    the row's own file lacked is an empty cell here)."""
    cells = {c: row.cells.get(c, "") for c in schema.columns if c not in absent}
    return Row(cells, row.stored)


def user_file(
    rng: random.Random, schema: ColumnSchema, n: int, bad: int, repeats: int, start: int = 0,
    earlier: tuple[Row, ...] = (),
) -> list[Row]:  # fmt: skip
    """n valid rows (40% exited, some unlabelled), bad rows with one bad cell each and
    exact repeats of valid rows (of this file or earlier ones), shuffled. Ids (numbered
    from start) are unique but for the repeats, and for a few valid rows that are new
    observations of earlier clients. Some optional features (never the first) may be left
    out of the file."""
    absent = {f.name for f in schema.features[1:] if not f.required and rng.random() < 0.3}
    ids = [rng.choice(["", "0", "acct-", "Ü ", '"Q", ']) + str(start + i) for i in range(n + bad)]
    seen = list(dict.fromkeys(r.stored[0] for r in earlier if r.stored is not None))
    again = min(3, n, len(seen))
    ids[:again] = rng.sample(seen, again)  # clients seen before
    labels = [None if i % 17 == 16 else int(i % 5 < 2) for i in range(n)]
    rows = [valid_row(rng, schema, ids[i], labels[i], absent) for i in range(n)]
    rows += [bad_row(rng, schema, ids[n + j], absent) for j in range(bad)]
    rows += [repeat(r, schema, absent) for r in rng.sample(rows[:n], repeats)]
    pool = [r for r in earlier if r.stored is not None and fits(r, schema, absent)]
    rows += [repeat(r, schema, absent) for r in rng.sample(pool, min(repeats, len(pool)))]
    rng.shuffle(rows)
    return rows


def csv_bytes(rng: random.Random, schema: ColumnSchema, rows: list[Row], extra: bool) -> bytes:
    """The rows as a user's CSV file: columns in random order, headers in random case and
    padding, Unix or Windows line ends, maybe a byte order mark; with a column the schema
    does not know when extra."""
    columns = [c for c in schema.columns if c in rows[0].cells]
    rng.shuffle(columns)
    aliases = {name: header for header, name in schema.aliases.items()}
    header = [rng.choice([c, c.upper(), f" {c} ", aliases.get(c, c)]) for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=rng.choice(["\n", "\r\n"]))
    writer.writerow(header + [IGNORED] * extra)
    writer.writerows([[r.cells[c] for c in columns] + ["note"] * extra for r in rows])
    return buffer.getvalue().encode(rng.choice(["utf-8", "utf-8-sig"]))
