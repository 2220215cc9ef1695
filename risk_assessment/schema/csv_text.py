"""A CSV file's bytes as text, before any parsing: the checks ingestion and
`--infer-schema` share, so both refuse a file with the same one line.

- empty or binary content;
- not UTF-8: refused, never guessed, naming the line and byte, the encoding it looks like
  (UTF-16, else Latin-1/Windows-1252) and the fix (save it as UTF-8);
- fields separated by ';', tabs or '|' (by the header line), whatever the rows hold.
Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

from risk_assessment.core.common import DataError


def file_bytes(path: Path) -> bytes:
    """A file's bytes; DataError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def decode_text(source: str, raw: bytes) -> str:
    """CSV bytes as text; DataError for empty, binary or non-UTF-8 content. Other encodings
    are refused, never guessed: one line with the line and byte, the encoding it looks like,
    and the fix."""
    if not raw.strip():
        raise DataError(f"{source}: empty file")
    utf16 = looks_like_utf16(raw)
    if b"\x00" in raw and not utf16:
        raise DataError(f"{source}: binary content, not a CSV file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    else:
        if not utf16:
            return text
        bad = raw.index(b"\x00")
    line = raw[:bad].count(b"\n") + 1
    encoding = "UTF-16" if utf16 else "Latin-1/Windows-1252?"
    raise DataError(
        f"{source}: not UTF-8 text (line {line}: byte 0x{raw[bad]:02x}; looks like {encoding}): "
        "save it as UTF-8 (CSV UTF-8)"
    )


def looks_like_utf16(raw: bytes) -> bool:
    """A UTF-16 byte-order mark, or NUL bytes as every other byte (UTF-16 text that is
    mostly ASCII), in the first 4 KB."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = raw[:4096]
    halves = (head[0::2].count(0), head[1::2].count(0))
    return len(head) >= 4 and max(halves) >= 0.9 * (len(head) // 2) and min(halves) == 0


SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}


def check_separator(source: str, text: str) -> None:
    """DataError when the header line holds more of another separator (;, tab or |) than
    commas, outside quotes: a European export (a semicolon file with decimal commas would
    otherwise be 'malformed', or one column), whatever the data rows hold."""
    header = re.sub(r'"[^"]*"', "", text.lstrip("\ufeff").split("\n", 1)[0])
    commas = header.count(",")
    for separator, words in SEPARATORS.items():
        if header.count(separator) > commas:
            raise DataError(f"{source}: fields separated by {words}: save it as comma-separated")


def found_columns(names: list) -> str:
    """A table's first 8 column names for a message ('...' when it has more; 'none')."""
    shown = ", ".join(str(c)[:40] for c in list(names)[:8])
    return (shown + (", ..." if len(names) > 8 else "")) or "none"
