"""Every runbook notebook, executed by papermill for every shipped profile (baseline, gke, eks, aks) on the embedded
cluster,
and the report `coldstart run` renders from it.

Each notebook x profile runs once (a module-scoped cache); the tests then read what the run left behind:
the executed notebook, the HTML report and timings.json. The repo's notebooks themselves must stay thin
and stripped, so a reader sees parameters, coldstart calls and prose, never logic or stale outputs.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import nbformat
import pytest

from coldstart.cli import main as cli_main
from coldstart.profiles import shipped_profiles
from coldstart.runbooks.execute import RunResult, run_notebook
from coldstart.runbooks.terminal import STATIC_ENV, ProgressStream
from coldstart.timeline.timings import SCHEMA_PATH, read_timings
from tests.conftest import REPO

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
PROFILES = tuple(shipped_profiles())  # every profile in params/: baseline, gke, eks, aks
# The what-if notebook only draws the widget and its first waterfall: no invariants, verdict or timings.
WIDGET_ONLY = {"explore"}
# The diagnose notebook reads a cluster and ranks fixes: no verdict slot, no timings.json (see test_diagnose.py).
READ_ONLY = {"diagnose"}
RUNBOOKS = [n for n in NOTEBOOKS if n not in WIDGET_ONLY | READ_ONLY]
ALL_RUNS = [pytest.param(n, p, id=f"{n}-{p}") for n in NOTEBOOKS if n not in READ_ONLY for p in PROFILES]
RUNBOOK_RUNS = [pytest.param(n, p, id=f"{n}-{p}") for n in RUNBOOKS for p in PROFILES]
INVARIANT_HEADER = ["lever", "invariant", "status", "object", "container", "message"]
SHOWN_TAGS = {"parameters", "injected-parameters"}
# Logic belongs in coldstart, not in a runbook: a reader of a notebook sees only calls and parameters.
FORBIDDEN = {ast.FunctionDef: "def", ast.AsyncFunctionDef: "def", ast.ClassDef: "class", ast.Lambda: "lambda",
             ast.For: "for", ast.AsyncFor: "for", ast.comprehension: "for (comprehension)", ast.While: "while",
             ast.Try: "try", ast.TryStar: "try", ast.If: "if", ast.IfExp: "if (expression)", ast.BoolOp: "and/or",
             ast.BinOp: "arithmetic", ast.Compare: "comparison"}


# ---------------------------------------------------------------------------------------------------
# Reading the HTML report (nbconvert's lab template) into cells, outputs, tables and images


@dataclass
class Output:
    mime: str
    text: str = ""
    images: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)


@dataclass
class Cell:
    kind: str  # "code" or "markdown"
    tags: set[str]
    code: str = ""
    text: str = ""
    outputs: list[Output] = field(default_factory=list)


class ReportParser(HTMLParser):
    """Cells as the report shows them: the code that is visible, each output's text, tables and images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.cells: list[Cell] = []
        self._divs: list[str | None] = []  # the role of every open <div>
        self._in_title = False
        self._cell_text: str | None = None

    def _open(self, role: str) -> bool:
        return role in self._divs

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "title":
            self._in_title = True
        out = self.cells[-1].outputs[-1] if self._open("output") else None
        if tag == "img" and out is not None:
            out.images.append(attr.get("src") or "")
        elif tag == "table" and out is not None:
            out.tables.append([])
        elif tag == "tr" and out is not None and out.tables:
            out.tables[-1].append([])
        elif tag in ("td", "th") and out is not None and out.tables and out.tables[-1]:
            out.tables[-1][-1].append("")
        if tag != "div":
            return
        classes = set((attr.get("class") or "").split())
        role = None
        if "jp-Cell" in classes:
            kind = "code" if "jp-CodeCell" in classes else "markdown"
            self.cells.append(Cell(kind, {c.removeprefix("celltag_") for c in classes if c.startswith("celltag_")}))
            role = "cell"
        elif "jp-InputArea-editor" in classes and self.cells:
            role = "code"
        elif "jp-OutputArea-output" in classes and self.cells:
            self.cells[-1].outputs.append(Output(attr.get("data-mime-type") or ""))
            role = "output"
        self._divs.append(role)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "div" and self._divs:
            self._divs.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._open("cell"):
            return
        cell = self.cells[-1]
        cell.text += data
        if self._open("code"):
            cell.code += data
        if self._open("output"):
            out = cell.outputs[-1]
            out.text += data
            if out.tables and out.tables[-1] and out.tables[-1][-1]:
                out.tables[-1][-1][-1] += data


def parse_report(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text())
    parser.close()
    return parser


def outputs(report: ReportParser) -> list[Output]:
    return [o for c in report.cells for o in c.outputs]


def invariant_tables(report: ReportParser) -> list[tuple[Output, list[list[str]]]]:
    """(output, body rows) of every invariant table in the report."""
    found = []
    for out in outputs(report):
        for table in out.tables:
            if table and [h.strip() for h in table[0]] == INVARIANT_HEADER:
                found.append((out, [[c.strip() for c in row] for row in table[1:]]))
    return found


def figure_size(src: str) -> tuple[int, int]:
    """Width and height of an inline SVG figure (nbconvert embeds image/svg+xml as a data URI); (0, 0) when it
    is not one or does not parse."""
    prefix = "data:image/svg+xml;base64,"
    if not src.startswith(prefix):
        return 0, 0
    try:
        root = ElementTree.fromstring(base64.b64decode(src[len(prefix):]))
    except ElementTree.ParseError:
        return 0, 0
    if root.tag != "{http://www.w3.org/2000/svg}svg" or root.find("{http://www.w3.org/2000/svg}title") is None:
        return 0, 0  # every figure says what it shows (its title is its alt text)
    return int(float(root.get("width", 0))), int(float(root.get("height", 0)))


# ---------------------------------------------------------------------------------------------------
# Executions, shared by every test of this module


@dataclass
class Executed:
    notebook: str
    profile: str
    out_root: Path
    result: RunResult
    nb: nbformat.NotebookNode
    report: ReportParser


class Runs:
    """Run each notebook x profile at most once, on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._done: dict[tuple[str, str], Executed] = {}

    def get(self, notebook: str, profile: str) -> Executed:
        key = (notebook, profile)
        if key not in self._done:
            out_root = self._factory.mktemp(f"{notebook}-{profile}")
            result = run_notebook(notebook, profile=profile, cluster="embedded", out_root=out_root)
            self._done[key] = Executed(notebook, profile, out_root, result, nbformat.read(result.notebook, 4),
                                       parse_report(result.html))
        return self._done[key]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory)


# ---------------------------------------------------------------------------------------------------
# The notebooks as committed


def _source_notebooks() -> list[tuple[str, nbformat.NotebookNode]]:
    return [(name, nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", 4)) for name in NOTEBOOKS]


def test_every_runbook_is_here():
    assert {"rollout", "weight_load", "image_pull", "node_warmup", "runtime", "explore", "diagnose"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_stripped(name: str):
    raw = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    nbformat.validate(nbformat.from_dict(raw))
    for i, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}.ipynb cell {i} has outputs; commit the notebook stripped"
            assert cell["execution_count"] is None, f"{name}.ipynb cell {i} has an execution count"
        assert "papermill" not in cell["metadata"] and "execution" not in cell["metadata"], \
            f"{name}.ipynb cell {i} carries run metadata"
    assert not {"papermill", "widgets"} & set(raw["metadata"]), f"{name}.ipynb carries run metadata"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_one_parameters_cell(name: str):
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", 4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}.ipynb has {len(tagged)} cells tagged 'parameters'; papermill needs one"
    assert tagged[0].cell_type == "code"
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assigned = {t.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert {"profile", "cluster", "run_id", "output_dir"} <= assigned, "coldstart run injects these parameters"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_code_is_only_calls(name: str):
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", 4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source, filename=f"{name}.ipynb cell {i}")):
            if type(node) in FORBIDDEN:
                found.append(f"cell {i} line {getattr(node, 'lineno', '?')}: {FORBIDDEN[type(node)]}")
    assert not found, f"{name}.ipynb has logic that belongs in coldstart: {found}"


def test_code_check_catches_logic():
    """The ast check above must see a loop, a lambda and a comprehension (or it proves nothing)."""
    source = ("for x in y:\n    pass\nf = lambda: 1\nz = [a for a in b]\ntry:\n    pass\nexcept E:\n    pass\n"
              "w = a if b else c\nv = a and b\nu = a + b\n")
    seen = {FORBIDDEN[type(n)] for n in ast.walk(ast.parse(source)) if type(n) in FORBIDDEN}
    assert seen == {"for", "lambda", "for (comprehension)", "try", "if (expression)", "and/or", "arithmetic"}


# ---------------------------------------------------------------------------------------------------
# `coldstart run` for every notebook x profile


@pytest.mark.parametrize(("notebook", "profile"), ALL_RUNS)
def test_run_has_no_error_cells(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    assert run.result.ok, f"{notebook} / {profile} failed: {run.result.error}"
    out_dir = run.out_root / profile / run.result.notebook.parent.name
    assert run.result.notebook == out_dir / f"{notebook}.ipynb" and run.result.html == out_dir / f"{notebook}.html"
    for i, cell in enumerate(run.nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"cell {i} never ran"
        assert not cell.metadata.get("papermill", {}).get("exception"), f"cell {i} raised"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {i}: {out.ename}: {out.evalue}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"cell {i} wrote to stderr: {out.text}"
    assert not [c for c in run.report.cells if "papermill-error-cell-tag" in c.tags]


@pytest.mark.parametrize(("notebook", "profile"), ALL_RUNS)
def test_report_shows_parameters_and_hides_code(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    code_cells = [c for c in run.report.cells if c.kind == "code"]
    shown = {tag: [c for c in code_cells if tag in c.tags] for tag in SHOWN_TAGS}
    assert len(shown["parameters"]) == 1 and len(shown["injected-parameters"]) == 1
    source = next(c.source for c in run.nb.cells if "parameters" in c.metadata.get("tags", []))
    assert shown["parameters"][0].code.split() == source.split(), "the parameters cell is shown as written"
    assert f'profile = "{profile}"' in shown["injected-parameters"][0].code
    assert 'cluster = "embedded"' in shown["injected-parameters"][0].code
    hidden = [c for c in code_cells if not c.tags & SHOWN_TAGS]
    assert hidden, "the report has no other code cells: nothing was rendered"
    leaked = [c.code.strip()[:80] for c in hidden if c.code.strip()]
    assert not leaked, f"code shown in the report: {leaked}"
    assert "from coldstart import" not in "".join(c.text for c in run.report.cells)


@pytest.mark.parametrize(("notebook", "profile"), ALL_RUNS)
def test_report_has_figures(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    images = [src for out in outputs(run.report) for src in out.images]
    assert images, "no figure in the report"
    sizes = [figure_size(src) for src in images]
    assert all(w > 100 and h > 50 for w, h in sizes), f"not inline SVG figures with a title: {sizes}"
    executed = sum("image/svg+xml" in o.get("data", {}) for c in run.nb.cells for o in c.get("outputs", []))
    assert len(images) == executed, "every figure the notebook displayed is in the report"


@pytest.mark.parametrize(("notebook", "profile"), RUNBOOK_RUNS)
def test_report_opens_with_pass_verdict(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    first = outputs(run.report)[0]
    assert first.text.strip().startswith("Verdict: PASS."), f"the report opens with: {first.text.strip()[:300]}"
    texts = [o.text for o in outputs(run.report)]
    assert not [t for t in texts if "Verdict pending" in t], "the verdict slot was never filled"
    assert sum(t.strip().startswith("Verdict:") for t in texts) == 2, "verdict at the top and at the end"


@pytest.mark.parametrize(("notebook", "profile"), RUNBOOK_RUNS)
def test_report_has_invariant_table(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    tables = invariant_tables(run.report)
    assert tables, "no invariant table in the report"
    for out, rows in tables:
        assert rows, "an invariant table without rows"
        statuses = [row[2] for row in rows]
        assert set(statuses) <= {"PASS", "FAIL", "N/A"}, statuses
        assert "PASS" in statuses
        assert "FAIL" not in statuses, [row for row in rows if row[2] == "FAIL"]
        counts = re.search(r"(\d+) fail, (\d+) pass, (\d+) n/a", out.text)
        assert counts, "the table's heading counts its rows"
        assert [int(n) for n in counts.groups()] == [statuses.count(s) for s in ("FAIL", "PASS", "N/A")]


@pytest.mark.parametrize(("notebook", "profile"), RUNBOOK_RUNS)
def test_timings_json_is_valid(runs: Runs, notebook: str, profile: str):
    run = runs.get(notebook, profile)
    assert run.result.timings is not None, "timings.json was not written"
    assert run.result.timings == run.result.notebook.parent / "timings.json"
    doc = read_timings(run.result.timings)
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(doc)
    assert doc["profile"] == profile and doc["run_id"] == run.result.notebook.parent.name
    assert doc["pods"] and doc["statistics"]["time_to_ready"]["count"] >= 1
    assert any(str(run.result.timings) in o.text for o in outputs(run.report)), "the report names the file"


def test_rollout_on_karpenter_shows_node_provisioning_from_its_events(runs: Runs):
    """On eks the naive start waits for Karpenter: its row names Nominated and the NodeClaim's Launched, Registered
    and Initialized, in that order, each at its second (read from the recorded events, not assumed)."""
    run = runs.get("rollout", "eks")
    rows = [[c.strip() for c in row] for out in outputs(run.report) for t in out.tables
            if t and [c.strip() for c in t[0]][:3] == ["scenario", "replica", "scheduling s"] for row in t[1:]]
    naive = next(row for row in rows if row[0].startswith("every lever off") and row[1] == "1st start")
    seconds = [float(re.search(rf"{word} (?:\(scale-up\) )?at (\d+)s", naive[4]).group(1))
               for word in ("Nominated", "NodeClaim Launched", "NodeClaim Registered", "NodeClaim Initialized")]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0], naive
    warm = next(row for row in rows if not row[0].startswith("every lever off") and row[1] == "1st start")
    assert "preempted a buffer pod" in warm[4] and "NodeClaim" not in warm[4]


def test_explore_shows_its_first_waterfall_without_a_verdict(runs: Runs):
    run = runs.get("explore", "baseline")
    assert run.result.timings is None
    assert not invariant_tables(run.report)
    assert [src for out in outputs(run.report) for src in out.images]


def test_static_report_switch_stays_in_the_kernel(runs: Runs):
    """`coldstart run` tells its kernel the report is static; the calling process keeps live widgets."""
    runs.get("explore", "baseline")
    assert STATIC_ENV not in os.environ


# ---------------------------------------------------------------------------------------------------
# Plain papermill, a failing profile, bad input


@pytest.fixture(scope="module")
def plain_papermill(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """`papermill notebooks/rollout.ipynb out.ipynb -p profile gke`, run from the checkout as the issue does."""
    import papermill

    out = tmp_path_factory.mktemp("papermill") / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK_DIR / "rollout.ipynb"), str(out), parameters={"profile": "gke"},
                               progress_bar=False, cwd=str(REPO))
    return nbformat.read(out, 4)


def test_plain_papermill_runs_the_rollout(plain_papermill: nbformat.NotebookNode):
    cells = [c for c in plain_papermill.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{o.ename}: {o.evalue}" for o in errors]
    assert all(c.execution_count is not None for c in cells)
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'profile = "gke"' in injected[0].source
    html = [o.data["text/html"] for c in cells for o in c.outputs if "text/html" in o.get("data", {})]
    assert "Verdict: PASS." in html[0], html[0][:300]
    header = html[1]  # after the verdict slot
    assert ">profile</td>" in header and ">gke</td>" in header


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`coldstart run rollout` with a user profile that breaks the GPU memory utilization invariant."""
    tmp = tmp_path_factory.mktemp("failing")
    profile = tmp / "too-greedy.yaml"
    profile.write_text("extends: baseline\nruntime:\n  gpu_memory_utilization: 0.9\n")
    out = tmp / "outputs"
    proc = subprocess.run([sys.executable, "-m", "coldstart.cli", "run", "rollout", "--profile", str(profile),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    return proc, out


def test_failing_profile_exits_1_with_fail_at_the_top(failing_run: tuple[subprocess.CompletedProcess[str], Path]):
    proc, out = failing_run
    assert proc.returncode == 1, proc.stderr[-2000:]
    reason = proc.stderr.strip().splitlines()[-1]
    assert reason.startswith("coldstart: runbook failed: RunbookFailed: verdict FAIL"), reason
    assert "gpu-mem-util-range" in reason
    html = Path(proc.stdout.strip().removeprefix("report: "))
    assert html.is_file() and out in html.parents
    text = html.read_text()
    assert "An Exception was encountered" not in text and "Traceback" not in text  # a verdict, not a crash
    report = parse_report(html)
    first = outputs(report)[0]
    assert first.text.strip().startswith("Verdict: FAIL."), first.text[:300]
    assert "gpu-mem-util-range" in first.text
    assert "vLLM cuda_oom" in first.text and "gpu-memory-utilization between 0.6 and 0.8" in first.text  # cause, fix
    failing = [row for _, rows in invariant_tables(report) for row in rows if row[2] == "FAIL"]
    assert failing and {row[1] for row in failing} == {"gpu-mem-util-range"}


BAD_INPUT = {
    "unknown notebook": ["run", "no_such_runbook"],
    "unknown profile": ["run", "rollout", "--profile", "no-such-profile"],
    "profile with a bad value": ["rollout", "--profile", "{bad_profile}"],
    "context the profile does not allow": ["run", "rollout", "--cluster", "kubeconfig:production"],
    "in-cluster without allow_in_cluster": ["rollout", "--cluster", "in-cluster"],
    "unknown cluster target": ["run", "rollout", "--cluster", "somewhere"],
    "a parameter run sets itself": ["rollout", "-p", "cluster", "kubeconfig:production"],
    "a parameter the notebook lacks": ["run", "weight_load", "-p", "timout_seconds", "60"],
    "a parameter of the wrong type": ["rollout", "-p", "replicas", "two"],
    "a namespace that is not a DNS label": ["rollout", "-p", "namespace", "Team_A"],
}


@pytest.mark.parametrize("argv", list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_and_runs_nothing(argv: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]):
    bad_profile = tmp_path / "bad.yaml"
    bad_profile.write_text("extends: baseline\nruntime:\n  gpu_memory_utilization: lots\n")
    out = tmp_path / "outputs"
    args = [a.format(bad_profile=bad_profile) for a in argv] + ["--out", str(out)]
    assert cli_main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coldstart: error: "), captured.err
    assert "Traceback" not in captured.err
    assert not out.exists(), "bad input created an outputs folder"


@pytest.mark.parametrize("notebook", [n for n in RUNBOOKS if n != "rollout"])
def test_apply_false_runs_only_the_plan(notebook: str, tmp_path: Path):
    """A lever runbook with `apply = False` shows the server's dry run and runs no experiment."""
    result = run_notebook(notebook, profile="baseline", cluster="embedded", params={"apply": "false"},
                          out_root=tmp_path)
    assert result.ok, result.error
    assert result.timings is None  # nothing measured, nothing filed
    report = parse_report(result.html)
    first = outputs(report)[0].text.strip()
    assert first.startswith("Verdict: PASS.") and "no scenario ran" in first, first[:300]
    texts = " ".join(o.text for o in outputs(report))
    assert "would be" in texts  # the plan's table: what applying would create or change
    assert "Nothing to compare" in texts


def test_long_waits_show_progress_in_the_notebook_and_the_terminal(runs: Runs,
                                                                   failing_run: tuple[subprocess.CompletedProcess[str],
                                                                                      Path]):
    """What is being waited on, how far, after how long of which budget: in the report's cell output, and on
    the terminal of `coldstart run` as it happens (one line each)."""
    rollout = runs.get("rollout", "baseline")
    streams = "".join(o.get("text", "") for c in rollout.nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert re.search(r"warm buffer holding GPU nodes: 1/1 after \d+s of \d+s", streams), streams[:500]
    assert re.search(r"recommended: 1 replica\(s\) ready: 1/1 after \d+s of \d+s", streams), streams[:500]
    terminal = io.StringIO()  # what `coldstart run` shows of these streams when its output is not a terminal
    shown = ProgressStream(terminal, tty=False)
    shown.write(streams)
    shown.finish()
    progress = terminal.getvalue().splitlines()
    assert len(progress) <= 8, progress  # with the run's and the report's lines, `make rollout` prints ~10
    assert not [line for line in progress if re.search(r"(\d+)/\1 after 0s", line)]  # nothing to wait for: silent
    proc, _ = failing_run
    lines = proc.stderr.splitlines()
    assert any(re.fullmatch(r"warm buffer holding GPU nodes: \d/1 after \d+s of \d+s", line) for line in lines)
    assert "" not in lines[lines.index(next(x for x in lines if "warm buffer holding" in x)):][:2]  # no blank lines
