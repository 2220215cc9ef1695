"""A client id in a URL (<client:corporation>): any text, slashes included, without the
spaces at its ends. Ids are stored stripped, as every cell is read, so an id pasted with a
trailing space from a spreadsheet opens the client instead of a 404."""

from __future__ import annotations

from werkzeug.routing import PathConverter


class ClientId(PathConverter):
    """Werkzeug's path converter, stripped."""

    def to_python(self, value: str) -> str:
        return value.strip()
