"""`coldstart run`: execute a runbook notebook with papermill, then render its HTML report with nbconvert.

Every input is validated before the kernel starts (profile, cluster target, notebook name), so bad input
exits 2 with nothing applied. The report hides code but keeps the parameters cells, so every report says
which profile, cluster and run produced it.
"""

from __future__ import annotations

import ast
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coldstart.errors import InputError
from coldstart.live.targets import check_allowed, new_run_id, parse_target
from coldstart.profiles import Profile, load_profile, profile_with

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
_SHOWN_INPUT_TAGS = {"parameters", "injected-parameters"}
# Tables and figures reach the terminal as their plain-text repr; only the progress lines are worth showing.
_DISPLAY_REPR = re.compile(r"^\s*<(IPython\.core\.display\.\w+|ipywidgets\.[\w.]+) object")


@dataclass
class RunResult:
    notebook: Path
    html: Path
    timings: Path | None
    ok: bool
    error: str | None


def _terminal_lines(record: logging.LogRecord) -> bool:
    """Keep papermill's cell output readable in a terminal: no display reprs, no doubled newlines."""
    text = str(record.getMessage())
    if _DISPLAY_REPR.match(text):
        return False
    record.msg, record.args = text.rstrip("\n"), ()
    return True


def notebook_path(name: str) -> Path:
    """A notebook stem (`rollout`, `weight_load`) or a path to an .ipynb."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
        raise InputError(f"notebook {name!r} not found; known runbooks: {known}")
    return path


def _param(value: str) -> Any:
    """`-p key value` values typed the way papermill's CLI types them (YAML scalars)."""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


_SET_BY_RUN = {"profile": "--profile", "cluster": "--cluster", "run_id": "coldstart run",
               "output_dir": "--out"}


def check_params(source: Path, params: dict[str, str], profile: Profile) -> dict[str, Any]:
    """`-p key value` pairs typed and checked against the notebook's own parameters cell, before any kernel
    starts: unknown keys, keys `coldstart run` sets itself and values of the wrong type are bad input."""
    import papermill  # start-up cost: papermill takes most of a second to import

    declared = papermill.inspect_notebook(str(source))
    values: dict[str, Any] = {}
    for key, raw in params.items():
        if key in _SET_BY_RUN:
            raise InputError(f"-p {key}: set it with {_SET_BY_RUN[key]}, not -p")
        if key not in declared:
            known = ", ".join(k for k in declared if k not in _SET_BY_RUN)
            raise InputError(f"-p {key}: {source.stem} has no such parameter; its parameters are {known}")
        value, default = _param(raw), ast.literal_eval(declared[key]["default"])
        if type(default) is not type(value) and not (type(default) is float and type(value) is int):
            raise InputError(f"-p {key} {raw}: expected {type(default).__name__} like {declared[key]['default']}")
        values[key] = value
    if values.get("namespace"):
        profile_with(profile, {"namespace": values["namespace"]})  # a bad namespace fails here, with exit 2
    return values


def to_html(executed: Path, out: Path) -> Path:
    """HTML with code hidden except the parameters cells, so the report says what produced it."""
    import nbformat  # start-up cost, as papermill
    from nbconvert import HTMLExporter  # start-up cost, as papermill
    from nbconvert.preprocessors import TagRemovePreprocessor  # start-up cost, as papermill

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code" and not tags & _SHOWN_INPUT_TAGS:
            cell.metadata["tags"] = sorted(tags | {"remove_input"})
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    out.write_text(body)
    return out


def _absolute_profile(profile: str) -> str:
    """A profile given as a path becomes absolute here; a shipped name stays a name."""
    if "/" in profile or profile.endswith((".yaml", ".yml")):
        return str(Path(profile).expanduser().resolve())
    return profile


def run_notebook(notebook: str, *, profile: str, cluster: str = "embedded", params: dict[str, str] | None = None,
                 out_root: str | Path = "outputs") -> RunResult:
    """Validate every input, execute the runbook with papermill, render its HTML report into
    outputs/<profile>/<run-id>/ and say whether its verdict passed."""
    import papermill  # start-up cost, as above
    from papermill.exceptions import PapermillExecutionError  # start-up cost, as above

    source = notebook_path(notebook)
    profile = _absolute_profile(profile)  # resolved once, against the caller's directory, for every later reader
    loaded = load_profile(profile)  # bad input stops here: nothing applied, exit 2
    check_allowed(parse_target(cluster), loaded)
    values = check_params(source, params or {}, loaded)
    run_id = new_run_id()
    out_dir = Path(out_root).resolve() / loaded.name / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{source.stem}.ipynb"
    parameters = {**values, "profile": profile, "cluster": cluster, "run_id": run_id, "output_dir": str(out_dir)}
    error = None
    log = logging.getLogger("papermill")  # cell output goes to the terminal as it happens (live progress)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_terminal_lines)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        papermill.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name="python3",
                                   log_output=True, progress_bar=False, cwd=str(Path.cwd()))
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    finally:
        log.removeHandler(handler)
    html_path = to_html(executed, out_dir / f"{source.stem}.html")
    timings = out_dir / "timings.json"
    return RunResult(executed, html_path, timings if timings.exists() else None, error is None, error)
