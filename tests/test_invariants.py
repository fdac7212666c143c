"""Invariant checker: reading manifests, finding vLLM engines and their settings, and each invariant's verdict.

Each invariant is shown passing on a small good manifest, failing on a minimally broken copy, and n/a where
the input cannot say. Bad input goes through `coldstart.cli.main` and must exit 2 with one line on stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from coldstart.cli import main
from coldstart.documents import parse_text, read_documents
from coldstart.errors import ManifestError

# ---------------------------------------------------------------------------------------------------
# documents.py: input forms


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


HELM_OUTPUT = """\
# leading comment from a wrapper script
---
# Source: chart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: engine-env
data:
  HF_HUB_OFFLINE: "1"
---
---
# Source: chart/templates/empty.yaml
---
# Source: chart/templates/list.yaml
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- just a string, skipped
---
- apiVersion: v1
  kind: Service
  metadata: {name: b}
--- plain scalar document
"""


def test_helm_output_documents_keep_file_line_and_template():
    docs = parse_text(HELM_OUTPUT, "out.yaml")
    assert [(d.obj["kind"], d.obj["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "engine-env"), ("Service", "a"), ("Service", "b")]
    assert docs[0].line == 4 and docs[0].origin == "chart/templates/configmap.yaml"
    assert docs[1].origin == "chart/templates/list.yaml"
    assert all(d.file == "out.yaml" for d in docs)


def test_typed_list_items_get_their_kind_and_json_forms(tmp_path):
    pod_list = {"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "p"}, "spec": {}}]}
    single = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    _write(tmp_path, "d/list.json", json.dumps(pod_list))
    _write(tmp_path, "d/array.json", json.dumps([single, single | {"metadata": {"name": "t"}}]))
    _write(tmp_path, "d/stream.json", json.dumps(single) + "\n" + json.dumps(single | {"kind": "ConfigMap"}))
    _write(tmp_path, "d/nested/x.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")
    _write(tmp_path, "d/notes.txt", "not a manifest")
    docs = read_documents([tmp_path / "d"])
    kinds = sorted(d.obj["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Namespace", "Pod", "Service", "Service", "Service"]
    pod = next(d for d in docs if d.obj["kind"] == "Pod")
    assert pod.obj["apiVersion"] == "v1" and pod.file.endswith("list.json")


def test_stdin_is_read_with_dash(monkeypatch, capsys):
    manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(manifest))
    assert main(["verify", "-", "--format", "json"]) == 0  # no engine: everything n/a, nothing fails
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["fail"] == 0 and {f["file"] for f in out["findings"]} == {"<stdin>"}


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: a: b\n",
     "bad.yaml:5:12: not valid YAML (mapping values are not allowed here); fix the syntax"),
    ("bad.json", '{"apiVersion": "v1",, "kind": "Pod"}', "bad.json:1:21: not valid JSON"),
    ("chart.yaml", "metadata:\n  name: {{ .Values.name }}\n  x: [\n", "Helm templates must be rendered first"),
    ("values.yaml", "replicaCount: 1\nimage: {tag: x}\n", "no Kubernetes objects"),
    ("empty.yaml", "", "no Kubernetes objects"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, name, text, expected):
    path = _write(tmp_path, name, text)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(path) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_path_and_empty_directory_exit_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    _write(tmp_path, "empty/readme.md", "# not a manifest")
    assert main(["verify", str(tmp_path / "empty")]) == 2
    assert "no *.yaml, *.yml or *.json files" in capsys.readouterr().err


def test_nothing_half_read_when_one_file_is_bad(tmp_path):
    _write(tmp_path, "a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    _write(tmp_path, "b.yaml", "key: [unclosed\n")
    with pytest.raises(ManifestError, match=r"b\.yaml:\d+:\d+: not valid YAML"):
        read_documents([tmp_path])
