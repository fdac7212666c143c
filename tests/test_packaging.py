"""pyproject.toml and environment.yml must declare the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_name(r) for r in pip_section if not r.startswith("-e")}
    assert listed == declared, f"only in environment.yml: {listed - declared}; only in pyproject: {declared - listed}"


def test_console_script_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["coldstart"] == "coldstart.cli:main"


def test_importing_coldstart_defers_the_iri_grammar_but_iri_checks_still_work():
    """The kubernetes client imports jsonschema, which imports rfc3987_syntax (a one-second grammar build) only
    for the `iri` format; coldstart defers it to first use without changing what jsonschema checks."""
    import importlib.util
    import subprocess
    import sys

    import pytest

    if importlib.util.find_spec("rfc3987_syntax") is None:
        pytest.skip("rfc3987_syntax is not installed here: nothing to defer")
    script = (
        "import sys, coldstart.live.cluster\n"
        "from jsonschema import Draft202012Validator as V\n"
        "loaded = 'rfc3987_syntax.syntax_helpers' in sys.modules\n"
        "v = V({'format': 'iri'}, format_checker=V.FORMAT_CHECKER)\n"
        "print(loaded, v.is_valid('http://example.com/ä'), v.is_valid('no iri with spaces'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]
