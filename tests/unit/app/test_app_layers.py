"""Each layer of ``app`` loads only the layers below it (docs: the issue's import rules).

Every module of a layer is imported in a fresh interpreter, and the ``app`` modules that
got loaded must all belong to the layer itself or to the layers it may use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

ALLOWED = {
    "core": {"core"},
    "audio": {"audio", "core"},
    "backend": {"backend", "core"},
    "desktop": {"desktop", "core", "audio", "backend"},
}

CODE = """
import importlib, json, pkgutil, sys
import app.{layer} as layer
for module in pkgutil.walk_packages(layer.__path__, "app.{layer}."):
    importlib.import_module(module.name)
print(json.dumps(sorted({{name.split(".")[1] for name in sys.modules
              if name.startswith("app.") }})))
"""


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_loads_only_the_layers_below_it(layer: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CODE.format(layer=layer)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert loaded <= ALLOWED[layer], f"app.{layer} loads {sorted(loaded - ALLOWED[layer])}"


# Pure modules outside app.core: their logic needs nothing but the core.
PURE = ("app.ui.settings.form",)

PURE_CODE = """
import importlib, json, sys
importlib.import_module({module!r})
print(json.dumps(sorted(name for name in sys.modules
                        if name.startswith("app.") and not name.startswith("app.core"))))
"""


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_loads_only_the_core(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PURE_CODE.format(module=module)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["app.ui", "app.ui.settings", module]
