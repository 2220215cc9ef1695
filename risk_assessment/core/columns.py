"""The user's columns, declared once: the `schema` section of config.json.

Without a `schema` section the course's five columns apply (corporation, three activity
counts, exited). load_config builds the one ColumnSchema at load and every part reads it
from config["schema"]: validation, the store, the model, the API, monitoring and reports.
Standard library only; the format is documented in docs/configuration.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from risk_assessment.core.common import ConfigError, SchemaChanged

TYPES = ("integer", "number", "category", "boolean")
# The cells a boolean feature reads as true and as false, in any case (schema/cells.py's
# rule, the drift statistics and --infer-schema read these same lists)
TRUE_WORDS = ("true", "1", "yes", "y", "1.0")
FALSE_WORDS = ("false", "0", "no", "n", "0.0")
BOOLEAN_FORMS = "true/false, yes/no, y/n or 1/0"  # every accepted form, as reasons name them
FEATURE_KEYS = {"type", "min", "max", "levels", "label", "required"}
SCHEMA_KEYS = {"id", "target", "value", "features", "aliases"}
# The fields the API's answers and the risk list name themselves: an id or value column of
# one of these names would overwrite them (or stop the app building its OpenAPI). `seq`,
# the store's arrival order, sits beside every column of the stored rows' frames.
OWN_FIELDS = frozenset(
    {"seq", "prediction", "probability", "exit_probability", "rank", "risk_band", "top_reasons"}
    | {"own_change", "reasons", "contributions", "value_at_risk", "change", "model_version"}
    | {"call", "previous_rank", "on_last_list", "change_text"}
)
# A line break or other control character: no cell holds one (cells.py refuses them), and
# a label is one line of a reason, a table or the dashboard.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Feature:
    """One model input: its column name, type, inclusive bounds, levels and label."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    levels: tuple[str, ...] | None = None
    label: str = ""
    required: bool = True

    @property
    def words(self) -> str:
        """The plain words used for this feature in reasons, tables and the dashboard."""
        return self.label or self.name

    @property
    def numeric(self) -> bool:
        """Integer and number features are numeric; categories and booleans are not."""
        return self.type in ("integer", "number")

    def to_dict(self) -> dict[str, Any]:
        """The feature as config.json writes it (defaults left out)."""
        out: dict[str, Any] = {"type": self.type}
        for key in ("min", "max", "label"):
            if getattr(self, key) not in (None, ""):
                out[key] = getattr(self, key)
        if self.levels is not None:
            out["levels"] = list(self.levels)
        if not self.required:
            out["required"] = False
        return out


@dataclass(frozen=True)
class Target:
    """The outcome column: 1/0 by default, or the text labels of exited and stayed."""

    column: str
    positive: str | None = None
    negative: str | None = None


@dataclass(frozen=True)
class ColumnSchema:
    """The id, target, optional value column, features (in order) and header aliases."""

    id: str
    target: Target
    features: tuple[Feature, ...]
    value: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    value_label: str | None = None  # the value column's plain words, when given

    @property
    def feature_names(self) -> list[str]:
        """The features' column names, in declared order."""
        return [f.name for f in self.features]

    @property
    def columns(self) -> list[str]:
        """Every column the schema reads: id, features, target, then the value column."""
        extra = [self.value] if self.value and self.value not in self.feature_names else []
        return [self.id, *self.feature_names, self.target.column, *extra]

    def feature(self, name: str) -> Feature:
        """The feature of that column name (KeyError when there is none)."""
        return {f.name: f for f in self.features}[name]

    def words(self, name: str) -> str:
        """A column's plain words: its label when it is a feature (or the value column)
        with one, else its name."""
        known = {f.name: f.words for f in self.features}
        if self.value_label and self.value not in known:
            known[self.value] = self.value_label
        return known.get(name, name)

    def to_dict(self) -> dict[str, Any]:
        """The schema as config.json writes it."""
        target: Any = self.target.column
        if self.target.positive is not None:
            target = {
                "column": self.target.column,
                "positive": self.target.positive,
                "negative": self.target.negative,
            }
        out: dict[str, Any] = {"id": self.id, "target": target}
        if self.value:
            out["value"] = (
                {"column": self.value, "label": self.value_label}
                if self.value_label
                else self.value
            )
        out["features"] = {f.name: f.to_dict() for f in self.features}
        if self.aliases:
            out["aliases"] = dict(self.aliases)
        return out

    def fingerprint(self) -> str:
        """A short hash of the schema: models and stored rows record the one they used."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


COURSE_SCHEMA = {
    "id": "corporation",
    "target": "exited",
    "features": {
        "lastmonth_activity": {"type": "integer", "min": 0, "label": "activity last month"},
        "lastyear_activity": {"type": "integer", "min": 0, "label": "activity last year"},
        "number_of_employees": {"type": "integer", "min": 0, "label": "number of employees"},
    },
}


def parse_feature(name: str, spec: Any, where: str) -> Feature:
    """One feature from its config object; ConfigError names the key that is wrong."""
    here = f"{where}.features.{name}"
    if not name.strip():
        raise ConfigError(f"{where}.features: a feature named {name!r}; name it (its header)")
    if not isinstance(spec, dict):
        raise ConfigError(f'{here} must be an object like {{"type": "number"}}')
    unknown = sorted(set(spec) - FEATURE_KEYS)
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(unknown)}")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(f"{here}.type must be one of {', '.join(TYPES)}, not {kind!r}")
    low, high = parse_bounds(spec, kind, here)
    levels = parse_levels(spec.get("levels"), kind, here)
    label, required = parse_label(spec.get("label"), here), spec.get("required", True)
    if not isinstance(required, bool):
        raise ConfigError(f"{here}.required must be true or false, not {required!r}")
    return Feature(name, kind, low, high, levels, label, required)


def parse_bounds(spec: dict[str, Any], kind: str, here: str) -> tuple[Any, Any]:
    """A feature's (min, max): finite numbers of a numeric feature, min <= max. JSON's
    NaN and Infinity are refused: a NaN bound would switch the check off."""
    bounds = {k: spec.get(k) for k in ("min", "max")}
    for key, value in bounds.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{here}.{key} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{here}.{key} must be a finite number, not {value!r}")
        if kind not in ("integer", "number"):
            raise ConfigError(f"{here}.{key}: only integer and number features have bounds")
    if None not in bounds.values() and bounds["min"] > bounds["max"]:
        raise ConfigError(f"{here}: min {bounds['min']} is above max {bounds['max']}")
    return bounds["min"], bounds["max"]


def parse_levels(levels: Any, kind: str, here: str) -> tuple[str, ...] | None:
    """A category's declared levels: distinct texts once compared as cells are (stripped,
    in any case), without line breaks or other control characters (no cell has one)."""
    if levels is None:
        return None
    if kind != "category":
        raise ConfigError(f"{here}.levels: only category features have levels")
    if not isinstance(levels, list) or not levels:
        raise ConfigError(f"{here}.levels must be a non-empty list of texts")
    if not all(isinstance(v, str) and v.strip() for v in levels) or len(set(levels)) < len(levels):
        raise ConfigError(f"{here}.levels must hold distinct, non-empty texts")
    seen: dict[str, str] = {}
    for level in levels:
        if _CONTROL.search(level):
            raise ConfigError(f"{here}.levels: {level!r} holds a line break or control character")
        first = seen.setdefault(level.strip().lower(), level)
        if first != level:
            raise ConfigError(
                f"{here}.levels: {first!r} and {level!r} are one level (levels match in any case)"
            )
    return tuple(levels)


def parse_label(label: Any, here: str) -> str:
    """A feature's label: absent (its name is used), or one line of text."""
    if label is None:
        return ""
    if not isinstance(label, str):
        raise ConfigError(f"{here}.label must be a text, not {label!r}")
    if not label.strip():
        raise ConfigError(f"{here}.label is empty; leave it out to use the feature's name")
    if _CONTROL.search(label):
        raise ConfigError(f"{here}.label: {label!r} holds a line break or control character")
    return label


def parse_target(spec: Any, where: str) -> Target:
    """The target: a column name, or {column, positive, negative} for text labels."""
    if isinstance(spec, str) and spec.strip():
        return Target(spec)
    if not isinstance(spec, dict) or set(spec) != {"column", "positive", "negative"}:
        raise ConfigError(
            f'{where}.target must be a column name or {{"column", "positive", "negative"}}'
        )
    if not all(isinstance(spec[k], str) and spec[k].strip() for k in spec):
        raise ConfigError(f"{where}.target: column, positive and negative must be texts")
    if spec["positive"].strip().lower() == spec["negative"].strip().lower():
        raise ConfigError(f"{where}.target: positive and negative must differ")
    return Target(spec["column"], spec["positive"], spec["negative"])


def text_key(spec: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    """A non-empty text value of the schema section, or ConfigError naming the key."""
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key} must be a column name (a non-empty text)")
    return value


def check_value(
    value: str | None, ident: str, target: str, features: tuple[Feature, ...], where: str
) -> None:
    """ConfigError when the value column is the id or the target column, or a feature
    spelled in other case (headers match in any case: they would be one column)."""
    if value is None:
        return
    key = value.strip().lower()
    for role, column in (("id", ident), ("target", target)):
        if key == column.strip().lower():
            raise ConfigError(f"{where}.value: {value} is the {role} column, not a value column")
    for f in features:
        if key == f.name.strip().lower() and value != f.name:
            raise ConfigError(f"{where}.value: {value} is the feature {f.name} in other case")


def check_own_fields(ident: str, value: str | None, others: list[str], where: str) -> None:
    """ConfigError when the id or the value column has a name of OWN_FIELDS, or any column
    is called seq; the file's header can keep that name (aliases)."""
    named = [("id", ident), *([("value", value)] if value else [])]
    named += [("target" if i == 0 else "features", c) for i, c in enumerate(others) if c == "seq"]
    for key, column in named:
        if column in OWN_FIELDS:
            raise ConfigError(
                f"{where}.{key}: {column} is a name the API and the risk list use themselves; "
                f'name the column otherwise and map the header to it ("aliases")'
            )


def parse_schema(spec: Any, where: str = "config.json: schema") -> ColumnSchema:
    """The ColumnSchema of a config's `schema` section (None or {}: the course's five)."""
    if not spec:
        spec = COURSE_SCHEMA
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be an object")
    unknown = sorted(set(spec) - SCHEMA_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    ident, (value, value_label) = text_key(spec, "id", where), parse_value(spec.get("value"), where)
    target = parse_target(spec.get("target"), where)
    raw = spec.get("features")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}.features must be an object with at least one feature")
    features = tuple(parse_feature(name, s, where) for name, s in raw.items())
    names = [f.name.strip().lower() for f in features]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}.features: {', '.join(twice)} named twice")
    for role, column in (("id", ident), ("target", target.column)):
        if column.strip().lower() in names:
            raise ConfigError(f"{where}.features: {column} is the {role} column, not a feature")
    if ident.strip().lower() == target.column.strip().lower():
        raise ConfigError(f"{where}: id and target are the same column ({ident})")
    check_value(value, ident, target.column, features, where)
    check_own_fields(ident, value, [target.column, *(f.name for f in features)], where)
    check_labels(features, where)
    columns = [ident, target.column, *(f.name for f in features), *([value] if value else [])]
    aliases = parse_aliases(spec.get("aliases", {}), columns, where)
    return ColumnSchema(ident, target, features, value, aliases, value_label)


def parse_value(raw: Any, where: str) -> tuple[str | None, str | None]:
    """(column, label) of the schema's optional value: a column name, or {column, label}
    with the plain words the pages use for it."""
    if not isinstance(raw, dict):
        return text_key({"value": raw}, "value", where, required=False), None
    unknown = sorted(set(raw) - {"column", "label"})
    if unknown:
        raise ConfigError(f"{where}.value: unknown key(s) {', '.join(map(str, unknown))}")
    label = parse_label(raw.get("label"), f"{where}.value") or None
    return text_key(raw, "column", f"{where}.value"), label


def check_labels(features: tuple[Feature, ...], where: str) -> None:
    """ConfigError when two features would read the same in reasons and tables: a label
    that is another feature's label or name (compared stripped, in any case)."""
    words: dict[str, str] = {}
    for f in sorted(features, key=lambda f: bool(f.label)):  # names first: they are taken
        other = words.setdefault(f.words.strip().lower(), f.name)
        if other != f.name:
            raise ConfigError(
                f"{where}.features.{f.name}.label: {f.label!r} also names the feature "
                f"{other}; give each feature its own words"
            )


def parse_aliases(aliases: Any, columns: list[str], where: str) -> dict[str, str]:
    """The aliases (input header -> schema column). ConfigError when one maps to no column,
    or its header is empty, already a schema column or another alias's, compared as
    headers are (stripped, in any case): such an alias would never be applied."""
    if not isinstance(aliases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()
    ):
        raise ConfigError(f"{where}.aliases must map input headers to schema column names")
    strays = sorted(set(aliases.values()) - set(columns))
    if strays:
        raise ConfigError(f"{where}.aliases: {', '.join(strays)} is not a column of the schema")
    seen = {c.strip().lower(): f"the schema's column {c}" for c in columns}
    for header in aliases:
        if not header.strip():
            raise ConfigError(f"{where}.aliases: an empty header name ({header!r})")
        taken = seen.setdefault(header.strip().lower(), f"the alias {header}")
        if taken != f"the alias {header}":
            raise ConfigError(
                f"{where}.aliases.{header}: the header {header} is already {taken} "
                "(headers match in any case); remove the alias"
            )
    return dict(aliases)


DEFAULT_SCHEMA = parse_schema(None)


def model_columns(schema: dict[str, Any]) -> dict[str, Any]:
    """What a model reads of a schema (as to_dict() writes it): each feature's name, type,
    levels and whether it may be missing. Labels, bounds, aliases and the value column
    can change without retraining."""
    keep = ("type", "levels", "required")
    features = schema.get("features", {})
    return {name: {k: spec.get(k) for k in keep} for name, spec in features.items()}


def check_model_schema(meta: dict[str, Any], schema: ColumnSchema, where: str) -> None:
    """SchemaChanged (a ModelError) when a model (its metadata) was trained on other
    columns than the schema's: it is never served or scored with the wrong columns. A
    model saved before schemas were recorded was trained on the course's columns."""
    trained = meta.get("schema") or DEFAULT_SCHEMA.to_dict()
    have, want = model_columns(trained), model_columns(schema.to_dict())
    if list(have.items()) == list(want.items()):
        return
    differ = sorted(set(have) ^ set(want)) or sorted(n for n in want if have[n] != want[n])
    differ = differ or ["the order of the features"]
    fact = (
        f"{where}: the model was trained on other columns than config.json's schema declares "
        f"({', '.join(differ)[:120]} differ)"
    )
    raise SchemaChanged(
        f"{fact}; retrain and deploy it: fullprocess.py does with the next batch of data, "
        "or run training.py, scoring.py and deployment.py",
        fact,
    )
