"""Reading the model registry (MLflow): ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` to a local directory.

This is the only place a ``models:/`` URI is understood. A version's artifact is a moodline model
directory; it is downloaded once into a cache under the data directory, with a ``registry.json``
beside the model files that names the version, its tags and its evaluation accuracy. Writing to the
registry (registering versions, moving aliases) is the lifecycle's: :mod:`moodline.lifecycle.registry`.

Example::

    reader = RegistryReader(settings)
    directory, version = reader.resolve("models:/moodline@champion")
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodline.core.durable import staged_directory
from moodline.core.errors import MissingDependencyError, ModelNotFoundError, MoodlineError
from moodline.core.locations import model_cache, tracking_uri
from moodline.core.settings import Settings
from moodline.inference.model_dir import REGISTRY_FILE

__all__ = [
    "RegistryError",
    "RegistryReader",
    "RegistryVersion",
    "is_registry_uri",
    "mlflow_client",
    "models_uri",
    "parse_models_uri",
    "redact_uri",
]

log = logging.getLogger("moodline.registry")

REGISTRY_SCHEME = "models:/"
MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


class RegistryError(MoodlineError):
    """The tracking server / registry cannot be reached or refused the request."""

    status_code = 503
    error_type = "registry_unavailable"


@dataclass(frozen=True)
class RegistryVersion:
    name: str
    version: str
    created_at: float
    tags: dict[str, str]
    run_id: str | None

    @property
    def eval_accuracy(self) -> float | None:
        value = self.tags.get("eval_accuracy")
        return float(value) if value is not None else None


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` -> ``(name, alias, version)``."""
    match = MODELS_URI.match(uri)
    if match is None:
        raise ModelNotFoundError(f"{uri!r} is not a registry URI; expected models:/NAME@ALIAS or models:/NAME/VERSION")
    return match["name"], match["alias"], match["version"]


def models_uri(name: str, alias: str) -> str:
    """``models:/NAME@ALIAS``: what a server or the monitor passes to load that alias's version."""
    return f"{REGISTRY_SCHEME}{name}@{alias}"


def is_registry_uri(name: object) -> bool:
    """Whether ``name`` points into the model registry rather than at a directory or hub id."""
    return str(name).startswith(REGISTRY_SCHEME)


def mlflow_client(settings: Settings) -> Any:
    """An ``MlflowClient`` on the configured tracking store (the registry lives in the same store)."""
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise MissingDependencyError(
            "mlflow is not installed; install the extra: pip install 'moodline[lifecycle]'"
        ) from exc
    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class RegistryReader:
    """Look up and download versions of one registered model."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or settings.registry_name
        self.client = mlflow_client(settings)

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except MoodlineError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow raises many types; callers get one
            raise RegistryError(
                f"model registry at {redact_uri(tracking_uri(self.settings))}: {what} failed ({exc})"
            ) from exc

    def get(self, alias: str | None = None, version: str | None = None) -> RegistryVersion | None:
        """The version an alias points to (or a numbered version); ``None`` if there is none."""
        try:
            if alias is not None:
                found = self.client.get_model_version_by_alias(self.name, alias)
            else:
                found = self.client.get_model_version(self.name, version)
        except Exception as exc:  # noqa: BLE001
            if _not_found(exc):
                return None
            raise RegistryError(
                f"model registry at {redact_uri(tracking_uri(self.settings))}: looking up {self.name} failed ({exc})"
            ) from exc
        return RegistryVersion(
            self.name, str(found.version), found.creation_timestamp / 1000, dict(found.tags or {}), found.run_id
        )

    def download(self, version: RegistryVersion) -> Path:
        """The version's model directory in the local cache, downloaded on first use."""
        target = model_cache(self.settings) / self.name / version.version
        if (target / REGISTRY_FILE).is_file():
            return target
        from mlflow.artifacts import download_artifacts

        uri = self._call(
            "resolving the download", self.client.get_model_version_download_uri, self.name, version.version
        )
        with staged_directory(target) as work:
            fetched = Path(
                self._call(
                    "downloading the model",
                    download_artifacts,
                    artifact_uri=uri,
                    dst_path=str(work / "download"),
                    tracking_uri=tracking_uri(self.settings),
                )
            )
            for item in fetched.iterdir():
                shutil.move(str(item), work / item.name)
            shutil.rmtree(work / "download", ignore_errors=True)
            facts = {
                "name": self.name,
                "version": version.version,
                "created_at": version.created_at,
                "eval_accuracy": version.eval_accuracy,
                "run_id": version.run_id,
                "tags": version.tags,
            }
            (work / REGISTRY_FILE).write_text(json.dumps(facts, indent=2))
        return target

    def resolve(self, uri: str) -> tuple[Path, RegistryVersion]:
        """``models:/NAME@ALIAS`` (or ``/VERSION``) -> the local model directory and its version."""
        name, alias, number = parse_models_uri(uri)
        registry = self if name == self.name else RegistryReader(self.settings, name)
        found = registry.get(alias=alias, version=number)
        if found is None:
            raise ModelNotFoundError(
                f"{uri}: no such model version in the registry at {redact_uri(tracking_uri(self.settings))}"
            )
        return registry.download(found), found


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower() or "does not exist" in str(exc).lower()


def redact_uri(uri: str) -> str:
    """``uri`` without the credentials a tracking server URL may carry."""
    return re.sub(r"//[^@/]*@", "//", uri)
