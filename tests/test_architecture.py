"""The rules the tree is built on, checked on the code itself (the import contracts run in `make lint`)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import coldstart
from coldstart.errors import ColdstartError

PACKAGE = Path(coldstart.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
EMBEDDED = PACKAGE / "embedded"
# pydantic turns a validator's ValueError into the ProfileError the loader raises.
VALIDATORS = {PACKAGE / "profiles" / name for name in ("model.py", "fields.py", "clouds.py")}
BUILTIN_ERRORS = {"ValueError", "TypeError", "RuntimeError", "KeyError", "Exception", "OSError", "LookupError"}


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(coldstart.__path__, "coldstart.")]


def test_every_exception_the_library_defines_is_a_coldstart_error():
    """One tree under ColdstartError; the embedded API server's internal errors stay inside embedded/."""
    strays = []
    for name in _modules():
        if name.startswith("coldstart.embedded"):
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, ColdstartError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


def test_nothing_outside_embedded_raises_a_bare_builtin_error():
    found = []
    for path in SOURCES:
        if path.is_relative_to(EMBEDDED) or path in VALIDATORS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name) and target.id in BUILTIN_ERRORS:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} raises {target.id}")
    assert found == []


def test_function_level_imports_say_why():
    """Imports inside functions are only for start-up cost, and each says so on its line."""
    unexplained = []
    for path in SOURCES:
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if not isinstance(inner, ast.Import | ast.ImportFrom):
                        continue
                    if "start-up cost" not in lines[inner.lineno - 1]:
                        unexplained.append(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    assert unexplained == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= 420, "split the module: a reader should hold it in one sitting"


def test_the_import_contracts_hold():
    """cli -> runbooks -> live -> {levers, verify, timeline, embedded} -> profiles -> vllm -> {kube, inputs} ->
    errors, only live.cluster imports kubernetes, only presentation modules import IPython/ipywidgets,
    only notebook execution imports papermill/nbconvert (pyproject.toml [tool.importlinter])."""
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([str(linter), "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stdout[-3000:]
