"""Benchmark: `make rollout`'s papermill run against the kernel start-up floor (prints figures; not a test).

Times the papermill execution `coldstart run rollout --profile baseline --cluster embedded` performs (same
notebook, parameters, kernel and working directory), then the same papermill call on an empty notebook that
has only the rollout's parameters cell: kernel start, parameter injection and shutdown, the floor no runbook
can beat. Aim: the rollout within 3.5x of the floor. Also prints the HTML rendering that follows the run and
the rollout's slowest cells (papermill records each cell's duration), to say where the rest goes.

Bytecode: a user's kernel imports coldstart from .pyc files (pip writes them when it installs a wheel, Python
when it first imports from a checkout). Where the environment forbids writing them (PYTHONDONTWRITEBYTECODE,
as on some CI machines), every kernel would compile ~200 modules from source, a cost no user's second run pays;
the kernels here then keep their bytecode in a temporary folder (PYTHONPYCACHEPREFIX), warmed by the first
(untimed) run, and the output says so. `--no-bytecode` measures without it.

    .venv/bin/python benchmarks/runbook.py [--profile baseline] [--repeat 3] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import papermill

from coldstart.runbooks.execute import NOTEBOOKS, to_html

REPO = Path(__file__).resolve().parents[1]  # `make rollout` runs from the checkout's root


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def _execute(source: Path, executed: Path, parameters: dict[str, Any]) -> nbformat.NotebookNode:
    """The papermill call coldstart.notebook_run.run_notebook makes (without its live log to the terminal)."""
    papermill.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name="python3",
                               log_output=False, progress_bar=False, cwd=str(REPO), request_save_on_cell_execute=False)
    return nbformat.read(executed, as_version=4)


def _empty_like(source: Path, target: Path) -> Path:
    """A notebook with only the source's parameters cell: papermill injects the same parameters into it."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    nbformat.write(nb, target)
    return target


def _line(label: str, times: list[float]) -> str:
    return (f"{label:<42} best {min(times):6.2f} s  median {statistics.median(times):6.2f} s"
            f"  ({len(times)} run{'s' if len(times) > 1 else ''})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="baseline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-bytecode", action="store_true", help="kernels compile from source if the "
                        "environment says not to write bytecode")
    args = parser.parse_args()
    source = NOTEBOOKS / "rollout.ipynb"
    with tempfile.TemporaryDirectory(prefix="coldstart-bench-") as tmp:
        work = Path(tmp)
        bytecode = "as the environment has it"
        if os.environ.get("PYTHONDONTWRITEBYTECODE") and not args.no_bytecode:  # kernels inherit this process's env
            os.environ.pop("PYTHONDONTWRITEBYTECODE")
            os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
            bytecode = "cached in a temporary folder (this environment sets PYTHONDONTWRITEBYTECODE)"
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "coldstart")], check=True)  # as pip
        params = {"profile": args.profile, "cluster": "embedded", "run_id": "be0c0001", "output_dir": str(work)}
        empty = _empty_like(source, work / "empty.ipynb")

        _execute(empty, work / "warmup.ipynb", params)  # first kernel start pays for cold disk caches
        t_empty, _ = _timed(lambda: _execute(empty, work / "empty-out.ipynb", params), args.repeat)
        t_rollout, executed = _timed(lambda: _execute(source, work / "rollout.ipynb", params), args.repeat)
        t_html, _ = _timed(lambda: to_html(work / "rollout.ipynb", work / "rollout.html"), args.repeat)

    print(f"rollout runbook, profile {args.profile}, embedded cluster; kernel python3; cwd {REPO}")
    print(f"bytecode: {bytecode}")
    print(_line("papermill: empty notebook (kernel floor)", t_empty))
    print(_line("papermill: rollout notebook", t_rollout))
    print(_line("nbconvert: rollout HTML report", t_html))
    print(f"ratio rollout / empty notebook: {min(t_rollout) / min(t_empty):5.2f}x best, "
          f"{statistics.median(t_rollout) / statistics.median(t_empty):5.2f}x median (aim <= 3.5x)")
    cells = [(c.metadata.get("papermill", {}).get("duration") or 0.0, c.source.strip().splitlines()[0])
             for c in executed.cells if c.cell_type == "code" and c.source.strip()]
    print("slowest cells of the last rollout run:")
    for duration, first_line in sorted(cells, reverse=True)[:5]:
        print(f"  {duration:6.2f} s  {first_line[:90]}")


if __name__ == "__main__":
    main()
