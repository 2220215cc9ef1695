"""Signed manifests: the HMAC key a deployment signs with, the signature of a manifest,
and its check before any model is loaded.

A part of deployment.py (deployment and the scripts after it use it). Standard library
and common.py only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from risk_assessment.core.common import ModelError

log = logging.getLogger("deployment")

SIGNATURE = "signature"  # the manifest's key holding its HMAC
KEY_BYTES = 32


def signing_key(path: Path, create: bool = False) -> bytes:
    """The HMAC key at path; with create, made (random, mode 0600) when missing."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            raise ModelError(
                f"{path}: signing key not found (deployment.signing_key_path); "
                "cannot verify the deployment"
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another deploy made it meanwhile
            return signing_key(path)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(KEY_BYTES) + "\n")
        log.info("created signing key %s (mode 0600)", path)
        return signing_key(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read signing key ({exc.strerror})") from None
    if len(key) < KEY_BYTES:
        raise ModelError(f"{path}: signing key too short ({len(key)} bytes)")
    return key


def manifest_signature(manifest: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the manifest without its signature, as canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != SIGNATURE}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_manifest(manifest: dict[str, Any], key: bytes, where: Path) -> None:
    """ModelError unless the manifest carries a valid signature under key."""
    given = manifest.get(SIGNATURE)
    if not isinstance(given, str):
        raise ModelError(f"{where}: manifest not signed; redeploy with this version")
    if not hmac.compare_digest(given, manifest_signature(manifest, key)):
        raise ModelError(f"{where}: manifest signature does not match; tampered, refusing to load")
