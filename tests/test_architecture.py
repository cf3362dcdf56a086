"""The layers contract holds, would catch an upward import, and no import cycle exists anywhere in moodline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "moodline"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(source_root: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the contract in pyproject.toml against the ``moodline`` package found under ``source_root``."""
    if not LINT_IMPORTS.is_file():
        pytest.fail("lint-imports is missing: install the dev extra (make setup)")
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_contract_holds(tmp_path):
    result = lint_imports(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_contract_fails_on_an_upward_import(tmp_path):
    copy = tmp_path / "src" / "moodline"
    # The model and web files are data, not imports; leaving them out keeps the copy small.
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("models", "mixes", "static", "__pycache__"))
    engine = copy / "inference" / "engine.py"
    engine.write_text(engine.read_text() + "\n\ndef _upward() -> None:\n    from moodline.server import app  # noqa\n")
    result = lint_imports(tmp_path / "src", tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "moodline.inference.engine -> moodline.server" in result.stdout


def test_no_module_of_moodline_takes_part_in_an_import_cycle():
    import grimp

    graph = grimp.build_graph("moodline", include_external_packages=False)
    cycles = _strongly_connected(graph.modules, graph.find_modules_directly_imported_by)
    assert cycles == [], f"import cycles: {cycles}"


def _strongly_connected(modules: set[str], imported_by: object) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: every group of modules that import each other, directly or not."""
    assert callable(imported_by)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(set(edges), edges.__getitem__) == [["a", "b", "c"]]
