"""Writing to the model registry (MLflow): register exported models, point the aliases ``champion`` and ``challenger``.

Reading it (``models:/`` URIs, downloads) is :mod:`moodline.inference.registry`; a version's tags
carry what the monitor needs: ``eval_accuracy`` (held-out accuracy when it was registered) and the
moodline model version.

Example::

    registry = ModelRegistry(settings)
    version = registry.register(Path("models/sst2-int8"), tags={"eval_accuracy": "0.91"})
    registry.set_alias("champion", version)
    registry.resolve("models:/moodline@champion")   # -> (local directory, version)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from moodline.core.errors import ModelNotFoundError
from moodline.core.locations import artifact_root
from moodline.core.settings import Settings
from moodline.inference.model_dir import METADATA_FILE, load_metadata
from moodline.inference.registry import RegistryReader

__all__ = ["ModelRegistry"]

log = logging.getLogger("moodline.lifecycle")

EXPERIMENT = "moodline-registry"


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


class ModelRegistry(RegistryReader):
    """Register, alias, look up and download moodline models in the MLflow model registry."""

    def register(self, model_dir: Path, *, run_id: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Log ``model_dir`` (a moodline model directory) and register it as a new version; return the version."""
        if not (model_dir / METADATA_FILE).is_file():
            raise ModelNotFoundError(f"{model_dir} is not a moodline model directory (no {METADATA_FILE})")
        client = self.client
        own_run = run_id is None
        if run_id is None:
            experiment = self._call("creating the experiment", experiment_id, client, self.settings, EXPERIMENT)
            run_id = self._call(
                "starting a run", client.create_run, experiment, run_name=f"register-{self.name}"
            ).info.run_id
        metadata = load_metadata(model_dir)
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
