"""`coldstart run`: execute a runbook notebook with papermill, then render its HTML report with nbconvert.

Every input is validated before the kernel starts (profile, cluster target, notebook name), so bad input
exits 2 with nothing applied. The report hides code but keeps the parameters cells, so every report says
which profile, cluster and run produced it.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coldstart.errors import InputError
from coldstart.inputs.atomic import atomic_path, write_text
from coldstart.levers.render import flatten, render
from coldstart.live.cluster import Cluster
from coldstart.live.ownership import refusal
from coldstart.live.targets import check_allowed, new_run_id, parse_target
from coldstart.profiles import Profile, load_profile, profile_with
from coldstart.runbooks.terminal import STATIC_ENV, ProgressStream
from coldstart.runbooks.verdict import verdict_html

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
        values[key] = _in_range(key, value, profile)
    if values.get("namespace"):
        profile_with(profile, {"namespace": values["namespace"]})  # a bad namespace fails here, with exit 2
    return values


def replica_cap(profile: Profile) -> int:
    """The most engine replicas the profile's GPU node pool can hold (max nodes x pods per node)."""
    return profile.nodes.max_nodes * max(1, profile.nodes.gpus_per_node // profile.gpu.count)


_MAX_TIMEOUT = 7 * 24 * 3600.0  # a wait longer than a week is a typo, not a budget


def _in_range(key: str, value: Any, profile: Profile) -> Any:
    """Numbers a runbook would act on: never negative, never beyond what the profile's cluster can do."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    limits = {"replicas": (0, replica_cap(profile), f"the profile's node pool holds at most {replica_cap(profile)} "
                                                    "(nodes.max_nodes x GPUs per node / GPUs per pod)"),
              "timeout_seconds": (0, _MAX_TIMEOUT, "0 means the profile's budget x 4; give seconds, at most a week"),
              "streamer_concurrency": (0, 256, "0 means the profile's; vLLM's streamer takes 1-256")}
    low, high, why = limits.get(key, (0, float("inf"), "it counts or times something"))
    if not low <= value <= high or value != value:  # value != value: NaN
        raise InputError(f"-p {key} {value}: out of range [{low:g}, {high:g}]; {why}")
    return value


def to_html(executed: Path, out: Path) -> Path:
    """HTML with code hidden except the parameters cells, so the report says what produced it. A failure reads
    as a verdict, not a crash: papermill's exception banner and every traceback are taken out (the verdict block
    at the top names the cause; an unexpected error becomes one line there and where it happened)."""
    import nbformat  # start-up cost, as papermill
    from nbconvert import HTMLExporter  # start-up cost, as papermill
    from nbconvert.preprocessors import TagRemovePreprocessor  # start-up cost, as papermill

    nb = nbformat.read(executed, as_version=4)
    errors: list[str] = []
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _PAPERMILL_ERROR_TAGS:
            continue  # papermill's banner and anchor
        if cell.cell_type == "code":
            cell.outputs = [_readable(o, errors) for o in cell.get("outputs", [])]
            if not tags & _SHOWN_INPUT_TAGS:
                cell.metadata["tags"] = sorted(tags | {"remove_input"})
        cells.append(cell)
    nb.cells = cells
    if errors:  # the verdict never ran: its slot still says pending
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data") or {}
                if "Verdict pending" in str(data.get("text/html", "")):
                    data["text/html"] = verdict_html(False, errors)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    return write_text(out, body)


_PAPERMILL_ERROR_TAGS = {"papermill-error-cell-tag"}
READ_ONLY = {"diagnose"}  # runbooks that never write to a cluster: nothing to check ownership of


def _readable(output: Any, errors: list[str]) -> Any:
    """An error output without its traceback: the verdict's own failure is already on the page; anything else
    becomes one line naming the error."""
    if output.get("output_type") != "error":
        return output
    if output.get("ename") == "RunbookFailed":
        return {"output_type": "stream", "name": "stdout", "text": ""}
    line = f"{output.get('ename')}: {output.get('evalue')}"
    errors.append(f"the runbook stopped on an error: {line}")
    return {"output_type": "stream", "name": "stderr", "text": line + "\n"}


def _absolute_profile(profile: str) -> str:
    """A profile given as a path becomes absolute here; a shipped name stays a name."""
    if "/" in profile or profile.endswith((".yaml", ".yml")):
        return str(Path(profile).expanduser().resolve())
    return profile


def _quiet_kernel_manager() -> type:
    """The kernel's own stderr (its transport warning, and the tracebacks of a kernel torn down by Ctrl-C) stays
    out of the terminal: what a cell prints still arrives through papermill, errors through the executed cell."""
    from jupyter_client.manager import AsyncKernelManager  # start-up cost, as papermill

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def _output_root(out_root: str | Path) -> Path:
    """The reports' root folder, absolute; a file, or a folder we cannot write, is bad input (exit 2)."""
    root = Path(out_root).expanduser().resolve()
    existing = next((p for p in (root, *root.parents) if p.exists()), root)
    if not existing.is_dir():
        raise InputError(f"--out {out_root}: {existing} is a file, not a folder; give a folder for the reports")
    if not os.access(existing, os.W_OK):
        raise InputError(f"--out {out_root}: {existing} is not writable; give a folder you can write")
    return root


def _refuse_foreign(profile: Profile, cluster: str, values: dict[str, Any], run_id: str) -> None:
    """On a live cluster, objects the runbook would apply that exist and were not created by coldstart stop the
    run here, before the kernel starts and before any write (unless -p adopt True / --adopt)."""
    if values.get("adopt"):
        return
    scoped = profile_with(profile, {"namespace": values["namespace"]}) if values.get("namespace") else profile
    with Cluster.connect(cluster, profile=scoped, run_id=run_id) as conn:
        foreign = conn.foreign(flatten(render(scoped)))
    if foreign:
        raise refusal(foreign, cluster)


def _started_line(run_id: str, profile: str, cluster: str, kind: str) -> str:
    if kind == "embedded":
        return f"coldstart: run {run_id} on the embedded cluster (it goes away with this process)"
    return (f"coldstart: run {run_id} on {cluster}; if it breaks off, remove what it created with: "
            f"coldstart cleanup {run_id} --profile {profile} --cluster {cluster}")


def run_notebook(notebook: str, *, profile: str, cluster: str = "embedded", params: dict[str, str] | None = None,
                 out_root: str | Path = "outputs", verbose: bool = False) -> RunResult:
    """Validate every input, execute the runbook with papermill, render its HTML report into
    outputs/<profile>/<run-id>/ and say whether its verdict passed."""
    import papermill  # start-up cost, as above
    from papermill.exceptions import PapermillExecutionError  # start-up cost, as above

    source = notebook_path(notebook)
    profile = _absolute_profile(profile)  # resolved once, against the caller's directory, for every later reader
    loaded = load_profile(profile)  # bad input stops here: nothing applied, exit 2
    target = parse_target(cluster)
    check_allowed(target, loaded)
    values = check_params(source, params or {}, loaded)
    root = _output_root(out_root)
    run_id = new_run_id()  # fixed before anything is written, so the report folder and the cluster labels agree
    if target.kind != "embedded" and source.stem not in READ_ONLY:
        _refuse_foreign(loaded, cluster, values, run_id)
    out_dir = root / loaded.name / run_id
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a read-only file system, or /proc: os.access says yes to root
        raise InputError(f"--out {out_root}: cannot create {out_dir} ({exc.strerror}); give a folder you can write"
                         ) from None
    print(_started_line(run_id, profile, cluster, target.kind), file=sys.stderr, flush=True)
    executed = out_dir / f"{source.stem}.ipynb"
    parameters = {**values, "profile": profile, "cluster": cluster, "run_id": run_id, "output_dir": str(out_dir)}
    error = None
    log = logging.getLogger("papermill")
    progress = ProgressStream(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)  # --verbose: papermill's own log, cell by cell
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_terminal_lines)
    if verbose:
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    quiet = {} if verbose else {"stdout_file": progress, "stderr_file": progress}
    before = os.environ.get(STATIC_ENV)
    os.environ[STATIC_ENV] = "1"  # the kernel inherits it: widgets become a precomputed table in the report
    try:
        with atomic_path(executed) as partial:
            try:
                # no save after every cell: the partial file is thrown away if the run breaks off, and papermill
                # writes the whole notebook once at the end (or at the failing cell); ~50 writes saved
                papermill.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name="python3",
                                           log_output=verbose, progress_bar=False, cwd=str(Path.cwd()),
                                           request_save_on_cell_execute=False,
                                           kernel_manager_class=_quiet_kernel_manager(), **quiet)
            except PapermillExecutionError as exc:
                error = f"{exc.ename}: {exc.evalue}"
    finally:
        progress.finish()
        log.removeHandler(handler)
        if before is None:  # only the kernel needed it: a caller's later widget() in this process stays live
            os.environ.pop(STATIC_ENV, None)
        else:
            os.environ[STATIC_ENV] = before
    html_path = to_html(executed, out_dir / f"{source.stem}.html")
    timings = out_dir / "timings.json"
    return RunResult(executed, html_path, timings if timings.exists() else None, error is None, error)
