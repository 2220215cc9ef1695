"""The logic under deployment.py: signed, versioned deployments of model + score + record,
rollback, prune, and loading the deployed model.

What it reads and writes, and the command: the docstring of deployment.py.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    INGESTED_FILES,
    INGESTION_RECORD,
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    SCORE_FILE,
    SCORES_JSON,
    ModelError,
    SchemaChanged,
    now_iso,
    read_json,
    sha256_file,
    write_json,
)

from risk_assessment.core.columns import ColumnSchema, check_model_schema
from risk_assessment.core.settings import default_signing_key
from risk_assessment.deployment.signing import (
    SIGNATURE,
    manifest_signature,
    signing_key,
    verify_manifest,
)
from risk_assessment.modelling.scoring import load_model_verified

log = logging.getLogger("deployment")

MANIFEST = "manifest.json"
CURRENT = "current"
VERSIONS = "versions"
# Flat names kept at the top of prod_deployment_path, as the original project had them.
TOP_LEVEL_LINKS = [MODEL_FILE, SCORE_FILE, INGESTED_FILES]
VERSION_RE = re.compile(r"^v(\d{4,})$")


def deployment_sources(config: dict[str, Any]) -> dict[str, Path]:
    """Name -> source path of every file a deployment carries."""
    models, ingested = config["output_model_path"], config["output_folder_path"]
    names = (MODEL_SKOPS, MODEL_FILE, MODEL_META, SCORE_FILE, SCORES_JSON)
    sources = {name: models / name for name in names}
    sources.update({name: ingested / name for name in (INGESTED_FILES, INGESTION_RECORD)})
    return sources


def check_sources(sources: dict[str, Path]) -> dict[str, Any]:
    """ModelError unless every file exists and the score belongs to this very model;
    returns the scores.json content."""
    for name, path in sources.items():
        if not path.is_file():
            hint = "training.py" if name in (MODEL_SKOPS, MODEL_FILE, MODEL_META) else "scoring.py"
            if name in (INGESTED_FILES, INGESTION_RECORD):
                hint = "ingestion.py"
            raise ModelError(f"{path}: missing; run {hint} first")
    scores = read_json(sources[SCORES_JSON])
    model_sha = sha256_file(sources[MODEL_SKOPS])
    if scores.get("model_sha256") != model_sha:
        raise ModelError(
            f"{sources[SCORES_JSON]}: scores are for another model than "
            f"{sources[MODEL_SKOPS]}; run scoring.py first"
        )
    if float(sources[SCORE_FILE].read_text().strip()) != scores["f1"]:
        raise ModelError(f"{sources[SCORE_FILE]}: does not match {SCORES_JSON}; run scoring.py")
    return scores


def list_versions(prod: Path) -> list[str]:
    """Deployed version names, oldest first."""
    folder = prod / VERSIONS
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.iterdir() if VERSION_RE.match(p.name) and p.is_dir()]
    return sorted(names, key=lambda n: int(VERSION_RE.match(n).group(1)))


def read_manifests(prod: Path) -> list[dict[str, Any]]:
    """Every version's manifest as recorded (unverified; {} when missing), oldest first,
    each with its version name and folder (as load_deployed_version gives them)."""
    manifests = []
    for name in list_versions(prod):
        folder = prod / VERSIONS / name
        manifest = read_json(folder / MANIFEST, {}) or {}
        manifests.append({**manifest, "version": name, "folder": str(folder)})
    return manifests


def read_live_manifest(prod: Path) -> dict[str, Any]:
    """The live version's manifest as recorded (unverified, no model load); {} if none."""
    return read_json(prod / CURRENT / MANIFEST, {}) or {}


def read_model_meta(folder: Path | str) -> dict[str, Any]:
    """The trainedmodel.json of a version folder (how its model was trained), {} if missing."""
    return read_json(Path(folder) / MODEL_META, {}) or {}


def deployed_f1s(prod: Path) -> list[float]:
    """The F1 recorded at deployment of every version, oldest first."""
    return [m["f1"] for m in read_manifests(prod) if m.get("f1") is not None]


def current_version(prod: Path) -> str | None:
    """Name of the live version, or None before the first deployment."""
    link = prod / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def swap_symlink(link: Path, target: str) -> None:
    """Point link at target atomically: a new symlink under a temp name, then os.replace."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def is_legacy_version(folder: Path) -> bool:
    """A version deployed by the code before signed manifests and skops models: an
    unsigned manifest and a pickle only. It is never loaded (a pickle can run code)."""
    manifest = read_json(folder / MANIFEST, {}) or {}
    return SIGNATURE not in manifest and not (folder / MODEL_SKOPS).exists()


def stage_files(prod: Path, sources: dict[str, Path]) -> Path:
    """Copy the files into a hidden temp folder under versions/, synced to disk; returns it."""
    (prod / VERSIONS).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=prod / VERSIONS))
    staging.chmod(0o755)
    for name, src in sources.items():
        shutil.copyfile(src, staging / name)
        with open(staging / name, "rb") as fh:
            os.fsync(fh.fileno())
    return staging


def build_manifest(
    staging: Path, sources: dict[str, Path], f1: float, previous: str | None, key: bytes
) -> dict[str, Any]:
    """The whole signed manifest of the files staged in staging: when, the F1, the version
    it replaces, where each file came from and the sha256 of each staged copy."""
    files = {name: sha256_file(staging / name) for name in sources}
    manifest = {
        "deployed_at": now_iso(),
        "f1": f1,
        "previous_version": previous,
        "sources": {name: str(path) for name, path in sources.items()},
        "files": files,
        "model_sha256": files[MODEL_SKOPS],
    }
    return {**manifest, SIGNATURE: manifest_signature(manifest, key)}


def stage_version(
    prod: Path, sources: dict[str, Path], f1: float, previous: str | None, key: bytes
) -> Path:
    """Stage a new version: its files, then the manifest build_manifest makes of them.
    Returns the staging folder, for publish_version."""
    staging = stage_files(prod, sources)
    write_json(staging / MANIFEST, build_manifest(staging, sources, f1, previous, key))
    return staging


def publish_version(prod: Path, staging: Path) -> str:
    """Rename the staged folder to the next free vNNNN; retries if another run took it."""
    while True:
        existing = list_versions(prod)
        number = int(VERSION_RE.match(existing[-1]).group(1)) + 1 if existing else 1
        name = f"v{number:04d}"
        try:
            os.rename(staging, prod / VERSIONS / name)
        except OSError:
            if (prod / VERSIONS / name).exists():
                continue
            raise
        return name


def activate(prod: Path, version: str) -> None:
    """Make version live, and keep the flat top-level names pointing through current/."""
    swap_symlink(prod / CURRENT, f"{VERSIONS}/{version}")
    for name in TOP_LEVEL_LINKS:
        link = prod / name
        if not (link.is_symlink() and os.readlink(link) == f"{CURRENT}/{name}"):
            swap_symlink(link, f"{CURRENT}/{name}")


def deploy(config: dict[str, Any]) -> str:
    """Publish the scored model as a new version and make it live; returns the version.

    Deploying the model that is already live changes nothing; deploying the model of a
    kept version (same sha256) makes that version live again instead of copying it.
    """
    prod = config["prod_deployment_path"]
    sources = deployment_sources(config)
    scores = check_sources(sources)
    key = signing_key(config["deployment"]["signing_key_path"], create=True)
    live = current_version(prod)
    same = version_of_model(prod, scores["model_sha256"])
    if same and same == live:
        log.info("model %s... is already deployed as %s", scores["model_sha256"][:12], live)
        return live
    if same:
        log.info("model %s... is kept as %s: reusing it", scores["model_sha256"][:12], same)
        return switch_to(prod, same, config["deployment"]["signing_key_path"], config["schema"])
    version = publish_version(prod, stage_version(prod, sources, scores["f1"], live, key))
    activate(prod, version)
    log.info("deployed %s (F1 %.4f) to %s", version, scores["f1"], prod / VERSIONS / version)
    return version


def prune(config: dict[str, Any]) -> list[str]:
    """Delete old versions and refused models beyond retention; returns what went.

    The live version and the one before it are always kept (rollback needs it), and so
    is every version newer than the live one (a rollback can be undone).
    """
    prod, keep = config["prod_deployment_path"], config["retention"]
    versions, live = list_versions(prod), current_version(prod)
    protected = set(versions[-keep["keep_versions"] :])
    if live in versions:
        protected |= set(versions[max(versions.index(live) - 1, 0) :])
    gone = [v for v in versions if v not in protected]
    for name in gone:
        shutil.rmtree(prod / VERSIONS / name)
    root = config["output_model_path"] / "refused"
    refused = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in refused[: max(len(refused) - keep["keep_refused"], 0)]:
        shutil.rmtree(folder)
        gone.append(f"refused/{folder.name}")
    if gone:
        log.info("retention: removed %s", ", ".join(gone))
    return gone


def version_of_model(prod: Path, model_sha256: str) -> str | None:
    """The kept version holding this model (the live one first, else the newest), or None."""
    live = current_version(prod)
    for name in ([live] if live else []) + list_versions(prod)[::-1]:
        manifest = read_json(prod / VERSIONS / name / MANIFEST, {}) or {}
        if manifest.get("model_sha256") == model_sha256:
            return name
    return None


def switch_to(
    prod: Path, target: str, key_file: Path | None = None, schema: ColumnSchema | None = None
) -> str:
    """Make a kept version live (forward or back), after verifying its model; returns it.
    Given the config's schema, a version trained on other columns is refused (the API
    would refuse to serve it).

    The API follows without a restart: it reloads whenever `current` changes.
    """
    versions, live = list_versions(prod), current_version(prod)
    if target not in versions:
        kept = ", ".join(versions) or "none"
        raise ModelError(f"{prod / VERSIONS / target}: no such version (kept: {kept})")
    # never switch onto a broken or tampered model, nor one the API would not serve
    load_deployed_version(prod / VERSIONS / target, key_file or default_signing_key(prod))
    if schema is not None:
        try:
            check_model_schema(read_model_meta(prod / VERSIONS / target), schema, target)
        except SchemaChanged as exc:
            raise ModelError(
                f"{exc.fact}: not made live, the API would refuse it; {live} stays live"
            ) from None
    activate(prod, target)
    log.info("switched from %s to %s", live, target)
    return target


def rollback(prod: Path, key_file: Path | None = None, schema: ColumnSchema | None = None) -> str:
    """Make the version before the live one live again (switch_to's checks); returns it."""
    versions, live = list_versions(prod), current_version(prod)
    if live is None or live not in versions:
        raise ModelError(f"{prod}: no deployed model to roll back")
    index = versions.index(live)
    if index == 0:
        raise ModelError(f"{prod}: {live} is the oldest version; nothing to roll back to")
    return switch_to(prod, versions[index - 1], key_file, schema)


def load_deployed_version(folder: Path, key_file: Path | None = None) -> tuple[Any, dict]:
    """The model of one version folder and its manifest, after checking the manifest's
    signature (key_file: default beside prod_deployment_path) and the model's sha256 and
    types."""
    key_file = key_file or default_signing_key(folder.parent.parent)
    manifest = read_json(folder / MANIFEST)
    if not isinstance(manifest, dict):
        raise ModelError(f"{folder / MANIFEST}: deployment manifest missing")
    verify_manifest(manifest, signing_key(key_file), folder / MANIFEST)
    model = load_model_verified(folder / MODEL_SKOPS, manifest.get("model_sha256"))
    return model, {**manifest, "version": folder.name, "folder": str(folder)}


def load_deployed(
    prod: Path, key_file: Path | None = None, schema: ColumnSchema | None = None
) -> tuple[Any, dict[str, Any]]:
    """The live model, verified, and its manifest (with its folder). `current` is resolved
    once, so both come from the same version. key_file: the config's
    deployment.signing_key_path (default: beside prod). Given the config's schema, a model
    trained on other columns is refused with one line (check_model_schema)."""
    link = prod / CURRENT
    if not link.is_symlink():
        raise ModelError(f"{prod}: no deployed model; run deployment.py first")
    model, manifest = load_deployed_version(link.resolve(), key_file or default_signing_key(prod))
    if schema is not None:
        where = f"deployed model {manifest['version']}"
        check_model_schema(read_model_meta(manifest["folder"]), schema, where)
    return model, manifest


def format_versions(prod: Path) -> str:
    """A table of deployed versions: name, time, F1, live marker."""
    live = current_version(prod)
    lines = [f"{'version':8} {'deployed_at':26} {'f1':>7}  live"]
    for m in read_manifests(prod):
        mark = "*" if m["version"] == live else ""
        f1 = m.get("f1", float("nan"))
        lines.append(f"{m['version']:8} {m.get('deployed_at', '?'):26} {f1:7.4f}  {mark}")
    return "\n".join(lines)
