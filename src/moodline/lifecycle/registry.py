"""The model registry on MLflow: versions of exported moodline models, aliases ``champion`` and ``challenger``.

A version's artifact is a moodline ONNX model directory, logged to an MLflow run. Its tags carry
what the monitor needs: ``eval_accuracy`` (held-out accuracy when it was registered) and the
moodline model version. Serving ``models:/NAME@champion`` downloads the version once into a cache
under the data directory (with a ``registry.json`` beside the model files) and loads it from there.

Example::

    registry = ModelRegistry(settings)
    version = registry.register(Path("models/sst2-int8"), tags={"eval_accuracy": "0.91"})
    registry.set_alias("champion", version)
    registry.resolve("models:/moodline@champion")   # -> local directory
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
from moodline.core.settings import Settings
from moodline.lifecycle.config import artifact_root, model_cache, tracking_uri

__all__ = ["ModelRegistry", "RegistryError", "RegistryVersion", "parse_models_uri"]

log = logging.getLogger("moodline.lifecycle")

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")
REGISTRY_FILE = "registry.json"
EXPERIMENT = "moodline-registry"


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


def experiment_id(client: Any, settings: Settings, name: str) -> str:
    """The id of experiment ``name``, created on first use (artifacts under the data dir when embedded)."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    if not settings.mlflow_uri:  # a tracking server decides where artifacts go; the embedded store needs a place
        location = (artifact_root(settings) / name).as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # noqa: BLE001 - another process created it at the same moment
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


class ModelRegistry:
    """Register, alias, look up and download moodline models in the MLflow model registry."""

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
                f"model registry at {_safe(tracking_uri(self.settings))}: {what} failed ({exc})"
            ) from exc

    def register(self, model_dir: Path, *, run_id: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Log ``model_dir`` (a moodline model directory) and register it as a new version; return the version."""
        if not (model_dir / "moodline.json").is_file():
            raise ModelNotFoundError(f"{model_dir} is not a moodline model directory (no moodline.json)")
        client = self.client
        own_run = run_id is None
        if run_id is None:
            experiment = self._call("creating the experiment", experiment_id, client, self.settings, EXPERIMENT)
            run_id = self._call(
                "starting a run", client.create_run, experiment, run_name=f"register-{self.name}"
            ).info.run_id
        metadata = json.loads((model_dir / "moodline.json").read_text())
        all_tags = {"moodline_version": str(metadata.get("version", "")), **(tags or {})}
        self._call("uploading the model", client.log_artifacts, run_id, str(model_dir), "model")
        if own_run:
            client.set_terminated(run_id)
        try:
            client.get_registered_model(self.name)
        except Exception:  # noqa: BLE001 - not registered yet
            try:
                client.create_registered_model(self.name, description="moodline sentiment model (ONNX directory)")
            except Exception:  # noqa: BLE001 - created meanwhile by another process
                self._call("looking up the registered model", client.get_registered_model, self.name)
        run = self._call("reading the run", client.get_run, run_id)
        version = self._call(
            "creating the model version",
            client.create_model_version,
            self.name,
            source=f"{run.info.artifact_uri}/model",
            run_id=run_id,
            tags=all_tags,
        )
        log.info("registered %s version %s", self.name, version.version)
        return str(version.version)

    def set_alias(self, alias: str, version: str) -> None:
        self._call(f"setting alias {alias}", self.client.set_registered_model_alias, self.name, alias, version)

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
                f"model registry at {_safe(tracking_uri(self.settings))}: looking up {self.name} failed ({exc})"
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
        registry = self if name == self.name else ModelRegistry(self.settings, name)
        found = registry.get(alias=alias, version=number)
        if found is None:
            raise ModelNotFoundError(
                f"{uri}: no such model version in the registry at {_safe(tracking_uri(self.settings))}"
            )
        return registry.download(found), found


def resolve_registry_uri(uri: str) -> Path:
    """Used by model_source: where a ``models:/`` URI's files are, downloading them if needed."""
    from moodline.core.settings import get_settings

    path, _ = ModelRegistry(get_settings()).resolve(uri)
    return path


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower() or "does not exist" in str(exc).lower()


def _safe(uri: str) -> str:
    return re.sub(r"//[^@/]*@", "//", uri)
