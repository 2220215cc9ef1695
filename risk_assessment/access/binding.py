"""Where the server may listen: loopback runs open while no user exists; any other
address needs an admin first. Light (standard library and the store), so gunicorn's
master and app.py check it before loading the app.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from risk_assessment.core.common import AccessError

from risk_assessment.store import accounts as rows

ADD_ADMIN = "python app.py users add NAME --role admin"


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 (and names that mean them); False for anything else."""
    if address in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:
        return False


def bind_hosts(binds: list[str]) -> list[str]:
    """The hosts of gunicorn bind addresses ('0.0.0.0:8000', '[::1]:80'; unix sockets
    and file descriptors are local and left out)."""
    hosts = []
    for bind in binds:
        if bind.startswith(("unix:", "fd://")):
            continue
        host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or "]" in bind else bind
        hosts.append(host.strip("[]") or "0.0.0.0")
    return hosts


def refuse_open_bind(config: dict[str, Any], hosts: list[str]) -> None:
    """AccessError naming the command to run when hosts include an address other than
    loopback and the store has no admin: the client list would be open to the network."""
    wide = [h for h in hosts if not is_loopback(h)]
    if wide and not rows.count_users(config["output_folder_path"], "admin"):
        raise AccessError(
            f"refusing to listen on {', '.join(wide)} with no admin user: "
            f"create one first ({ADD_ADMIN}), or bind 127.0.0.1"
        )
