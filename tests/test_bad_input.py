"""Bad input of every kind through the real CLI: exit 2, one line on stderr, no traceback, quickly, nothing written.

"Stay bounded on any input; no silent acceptance": a self-referencing or exploding YAML document, a FIFO or a
device where a file belongs, text that is not UTF-8, nesting 10,000 deep, integers Python will not convert,
absurd quantities, duplicate keys, a cut-off JSON dump and wrong-typed Kubernetes objects are each refused with one
line naming the file (and line) and what to do. Cases that could block (FIFOs, devices) run in a subprocess with
a timeout, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coldstart.cli import main

FAST = 5.0  # seconds any refusal may take (most take milliseconds)
GOOD_EVENT = {"apiVersion": "v1", "kind": "Event", "reason": "Scheduled", "type": "Normal",
              "message": "Successfully assigned llm/vllm-0 to gpu-1", "count": 1,
              "involvedObject": {"kind": "Pod", "name": "vllm-0", "namespace": "llm"},
              "firstTimestamp": "2025-06-02T10:00:05Z", "lastTimestamp": "2025-06-02T10:00:05Z",
              "metadata": {"name": "vllm-0.1", "namespace": "llm", "creationTimestamp": "2025-06-02T10:00:05Z"}}
GOOD_POD = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "vllm-0", "namespace": "llm", "creationTimestamp": "2025-06-02T10:00:00Z"},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-06-02T10:04:00Z"}]}}
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"


def _laughs(top: str = "") -> str:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return top + "\n".join(levels) + "\n"


def _list(items: list) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})


def _event(**changes: object) -> str:
    return _list([{**GOOD_EVENT, **changes}])


def _pod(**status: object) -> str:
    return _list([{**GOOD_POD, "status": {**GOOD_POD["status"], **status}}])  # type: ignore[dict-item]


DEEP_JSON = "[" * 10_000 + "]" * 10_000
DEEP_YAML = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + "[" * 150 + "]" * 150 + "\n"
LONG_INT = "9" * 5000
LATIN1 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n".encode("latin-1")
HIDDEN_LATEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm}
spec:
  template:
    spec:
      containers: [{name: vllm, image: "vllm/vllm-openai:latest", args: [serve, /mnt/models]}]
spec: {}
"""
PROFILE_HEAD = "extends: baseline\nname: bad\n"

# (id, command, files {name: text or bytes}, what stderr must mention); {tmp} in a command is the folder
CASES: list[tuple[str, list[str], dict[str, str | bytes], str]] = [
    # verify: YAML the safe loader refuses
    ("verify-self-referencing-list", ["verify", "{tmp}/m.yaml"],
     {"m.yaml": "&a {kind: List, apiVersion: v1, items: [*a]}\n"}, "references itself"),
    ("verify-self-referencing-items", ["verify", "{tmp}/m.yaml"],
     {"m.yaml": "apiVersion: v1\nkind: List\nitems: &x [*x]\n"}, "references itself"),
    ("verify-billion-laughs", ["verify", "{tmp}/m.yaml"], {"m.yaml": _laughs("apiVersion: v1\nkind: List\n")},
     "expand this document"),
    ("verify-duplicate-spec-hides-latest", ["verify", "{tmp}/m.yaml"], {"m.yaml": HIDDEN_LATEST},
     "duplicate key 'spec' (first at line 4)"),
    ("verify-duplicate-key-in-list-item", ["verify", "{tmp}/m.yaml"],
     {"m.yaml": "apiVersion: v1\nkind: List\nitems:\n- {kind: Pod, apiVersion: v1, metadata: {name: a, name: b}}\n"},
     "duplicate key 'name'"),
    ("verify-nul", ["verify", "{tmp}/m.yaml"], {"m.yaml": SERVICE + "data: {a: \x00}\n"}, "U+0000"),
    ("verify-bell", ["verify", "{tmp}/m.yaml"], {"m.yaml": SERVICE.replace("name: s", "name: s\x07")}, "U+0007"),
    ("verify-escape-char", ["verify", "{tmp}/m.yaml"], {"m.yaml": "\x1b[31m" + SERVICE}, "control character"),
    ("verify-nesting-10000-yaml", ["verify", "{tmp}/m.yaml"], {"m.yaml": "a: " + "[" * 10_000 + "]" * 10_000},
     "not valid YAML"),
    ("verify-nesting-150-yaml", ["verify", "{tmp}/m.yaml"], {"m.yaml": DEEP_YAML}, "nested deeper than 100"),
    ("verify-nesting-10000-json", ["verify", "{tmp}/m.json"], {"m.json": DEEP_JSON}, "nested deeper"),
    ("verify-nesting-150-json", ["verify", "{tmp}/m.json"],
     {"m.json": '{"kind": "ConfigMap", "apiVersion": "v1", "data": ' + "[" * 150 + "]" * 150 + "}"},
     "nested deeper than 100"),
    ("verify-long-integer-yaml", ["verify", "{tmp}/m.yaml"], {"m.yaml": SERVICE + f"spec: {{port: {LONG_INT}}}\n"},
     "integer of 5,000 digits"),
    ("verify-long-integer-json", ["verify", "{tmp}/m.json"], {"m.json": '{"kind": "Service", "x": ' + LONG_INT + "}"},
     "more than 4,300 digits"),
    ("verify-latin1", ["verify", "{tmp}/m.yaml"], {"m.yaml": LATIN1}, "m.yaml:3: not UTF-8 text (byte 51 0xe9)"),
    ("verify-utf16", ["verify", "{tmp}/m.yaml"], {"m.yaml": SERVICE.encode("utf-16")}, "UTF-16"),
    ("verify-random-bytes-file", ["verify", "{tmp}/m.yaml"], {"m.yaml": random.Random(1).randbytes(4096)},
     "m.yaml"),
    ("verify-truncated-json", ["verify", "{tmp}/m.json"], {"m.json": _list([GOOD_POD] * 3)[:-40]}, "ends before"),
    ("verify-python-tag", ["verify", "{tmp}/m.yaml"],
     {"m.yaml": SERVICE + "x: !!python/object/apply:os.system [echo]\n"}, "unknown tag"),
    ("verify-impossible-date", ["verify", "{tmp}/m.yaml"], {"m.yaml": CONFIGMAP + "  x: 0000-00-00\n"},
     "cannot be read"),
    ("verify-character-device", ["verify", "/dev/null"], {}, "not a regular file"),
    ("verify-over-size-limit", ["verify", "{tmp}/m.yaml"], {"m.yaml": SERVICE + "#" * 30_000 + "\n"},
     "over the 0.01 MB limit"),
    ("verify-unknown-path", ["verify", "{tmp}/nope.yaml"], {}, "no such file"),
    # render: profiles (and nothing may be written)
    ("profile-extends-dev-zero", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": "extends: /dev/zero\nname: bad\n"}, "character device"),
    ("profile-is-directory", ["render", "--profile", "{tmp}/dir.yaml", "--out", "{tmp}/out"],
     {"dir.yaml/keep": ""}, "directory"),
    ("profile-latin1", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": (PROFILE_HEAD + "description: caf\xe9\n").encode("latin-1")}, "not UTF-8"),
    ("profile-duplicate-key", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "runtime: {replicas: 1}\nruntime: {replicas: 2}\n"}, "duplicate key 'runtime'"),
    ("profile-billion-laughs", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + _laughs()}, "expand this document"),
    ("profile-self-reference", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": "&a {extends: baseline, name: bad, description: [*a]}\n"}, "references itself"),
    ("profile-nul", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "description: a\x00b\n"}, "U+0000"),
    ("profile-deep", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "description: " + "[" * 150 + "]" * 150 + "\n"}, "nested deeper"),
    ("profile-long-integer", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + f"seed: {LONG_INT}\n"}, "integer of 5,000 digits"),
    ("profile-absurd-quantity", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "runtime: {engine_rss: 99999999999Ei}\n"}, "beyond what a Kubernetes quantity"),
    ("profile-exponent-quantity", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "runtime: {memory_headroom: '1e900000'}\n"}, "memory_headroom"),
    ("profile-over-size-limit", ["render", "--profile", "{tmp}/p.yaml", "--out", "{tmp}/out"],
     {"p.yaml": PROFILE_HEAD + "#" * 30_000 + "\n"}, "over the 0.01 MB limit for a profile"),
    # timeline: events, pods, logs
    ("events-truncated-json", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _list([GOOD_EVENT] * 5)[:-100]},
     "ends before its document is complete"),
    ("events-nesting-10000", ["timeline", "--events", "{tmp}/e.json"], {"e.json": DEEP_JSON}, "nested deeper"),
    ("events-long-integer", ["timeline", "--events", "{tmp}/e.json"],
     {"e.json": '{"kind": "List", "items": [{"kind": "Event", "reason": "Pulled", "count": ' + LONG_INT + "}]}"},
     "more than 4,300 digits"),
    ("events-count-text", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _event(count="x")},
     "count is 'x'"),
    ("events-timestamp-number", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _event(firstTimestamp=5)},
     "firstTimestamp is 5"),
    ("events-involved-object-list", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _event(involvedObject=[])},
     "involvedObject is []"),
    ("events-reason-mapping", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _event(reason={})},
     "reason is {}"),
    ("events-message-list", ["timeline", "--events", "{tmp}/e.json"], {"e.json": _event(message=[1])},
     "message is [1]"),
    ("events-metadata-text", ["timeline", "--events", "{tmp}/e.json"],
     {"e.json": _event(metadata="x", firstTimestamp=None, lastTimestamp=None)}, "metadata is 'x'"),
    ("events-yaml-billion-laughs", ["timeline", "--events", "{tmp}/e.yaml"], {"e.yaml": _laughs("kind: List\n")},
     "expand this document"),
    ("events-yaml-duplicate-key", ["timeline", "--events", "{tmp}/e.yaml"],
     {"e.yaml": "kind: Event\nreason: Pulled\nreason: Started\n"}, "duplicate key 'reason'"),
    ("events-latin1", ["timeline", "--events", "{tmp}/e.txt"],
     {"e.txt": "Events:\n  Normal  Pulled  3s  kubelet  caf\xe9\n".encode("latin-1")}, "not UTF-8"),
    ("pods-status-list", ["timeline", "--pods", "{tmp}/p.json"], {"p.json": _list([{**GOOD_POD, "status": []}])},
     "status is []"),
    ("pods-conditions-text", ["timeline", "--pods", "{tmp}/p.json"],
     {"p.json": _pod(conditions="x", phase=None)}, "conditions is 'x'"),
    ("pods-device", ["timeline", "--pods", "/dev/null"], {}, "character device"),
    ("log-latin1", ["timeline", "--log", "{tmp}/v.log"],
     {"v.log": b"INFO 06-02 10:00:00 [api_server.py:1] vLLM API server version 0.10.1 caf\xe9\n"},
     "v.log:1: not UTF-8 text (byte 72 0xe9)"),
    ("log-over-size-limit", ["timeline", "--log", "{tmp}/v.log"], {"v.log": "x" * 30_000 + "\n"},
     "over the 0.01 MB limit for a vLLM log"),
    ("events-missing", ["timeline", "--events", "{tmp}/missing.json"], {}, "no such file"),
]
SMALL_LIMIT = {"verify-over-size-limit", "profile-over-size-limit", "log-over-size-limit"}


def _materialise(tmp_path: Path, files: dict[str, str | bytes], command: list[str]) -> list[str]:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/keep"):
            continue
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return [part.replace("{tmp}", str(tmp_path)) for part in command]


def _one_line(code: int, err: str, expected: str, elapsed: float, limit: float = FAST) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coldstart: error: "), err
    assert expected in lines[0], lines[0]
    assert elapsed < limit, f"took {elapsed:.1f}s"


@pytest.mark.parametrize(("command", "files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(request: pytest.FixtureRequest, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         command: list[str], files: dict[str, str | bytes], expected: str) -> None:
    args = _materialise(tmp_path, files, command)
    if request.node.callspec.id in SMALL_LIMIT:
        monkeypatch.setenv("COLDSTART_MAX_INPUT_MB", "0.01")
    start = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    _one_line(code, captured.err, expected, elapsed)
    assert not (tmp_path / "out").exists(), "render wrote files for a bad profile"
    if "timeline" in args or "verify" in args:
        assert captured.out == ""


@pytest.mark.parametrize(("args", "stdin"), [
    (["verify", "-"], random.Random(7).randbytes(2048)),
    (["verify", "-"], b'{"apiVersion": "v1", "kind": "List", "items": [' + b"\xff" * 8 + b"]}"),
    (["timeline", "--events", "-"], random.Random(8).randbytes(2048)),
], ids=["verify-random-bytes", "verify-json-bad-bytes", "timeline-random-bytes"])
def test_random_bytes_on_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
                               stdin: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    start = time.monotonic()
    code = main(args)
    _one_line(code, capsys.readouterr().err, "<stdin>", time.monotonic() - start)


def _fifo_cases() -> list[tuple[str, Callable[[Path], list[str]], str]]:
    def manifest(tmp: Path) -> list[str]:
        return ["verify", str(tmp / "pipe.yaml")]

    def in_folder(tmp: Path) -> list[str]:
        (tmp / "d").mkdir()
        os.replace(tmp / "pipe.yaml", tmp / "d" / "pipe.yaml")
        (tmp / "d" / "a.yaml").write_text(SERVICE)
        return ["verify", str(tmp / "d")]

    def profile(tmp: Path) -> list[str]:
        return ["render", "--profile", str(tmp / "pipe.yaml"), "--out", str(tmp / "out")]

    def extends(tmp: Path) -> list[str]:
        (tmp / "p.yaml").write_text(f"extends: {tmp / 'pipe.yaml'}\nname: bad\n")
        return ["render", "--profile", str(tmp / "p.yaml"), "--out", str(tmp / "out")]

    def events(tmp: Path) -> list[str]:
        return ["timeline", "--events", str(tmp / "pipe.yaml")]

    def log(tmp: Path) -> list[str]:
        return ["timeline", "--log", str(tmp / "pipe.yaml")]

    def kubeconfig(tmp: Path) -> list[str]:  # KUBECONFIG=<the pipe>: the client would block opening it
        return [f"KUBECONFIG={tmp / 'pipe.yaml'}", *_live_run(tmp)]

    def certificate(tmp: Path) -> list[str]:  # a kubeconfig naming the pipe as its client key
        (tmp / "kc").write_text(KUBECONFIG_TEXT.replace("token: t", f"client-key: {tmp / 'pipe.yaml'}"))
        return [f"KUBECONFIG={tmp / 'kc'}", *_live_run(tmp)]

    return [("manifest", manifest, "FIFO"), ("manifest-in-folder", in_folder, "FIFO"), ("profile", profile, "FIFO"),
            ("extends", extends, "FIFO"), ("events", events, "FIFO"), ("log", log, "FIFO"),
            ("kubeconfig", kubeconfig, "FIFO"), ("kubeconfig-client-key", certificate, "users[sre].user.client-key")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in _fifo_cases()], ids=[c[0] for c in _fifo_cases()])
def test_fifo_is_refused_without_blocking(tmp_path: Path, build: Callable[[Path], list[str]], expected: str) -> None:
    """A named pipe nobody writes to would block an open() forever: it is refused from its stat, in a subprocess
    with a timeout so a regression fails instead of hanging the suite."""
    os.mkfifo(tmp_path / "pipe.yaml")
    args = build(tmp_path)
    env = dict(os.environ)
    while args[0].startswith("KUBECONFIG="):
        env["KUBECONFIG"] = args.pop(0).partition("=")[2]
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "coldstart.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env)
    _one_line(done.returncode, done.stderr, expected, time.monotonic() - start, limit=3 * FAST)  # with start-up
    assert not (tmp_path / "out").exists()


KUBECONFIG_TEXT = """\
apiVersion: v1
kind: Config
current-context: x
clusters: [{name: x, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: sre, user: {token: t}}]
contexts: [{name: x, context: {cluster: x, user: sre}}]
"""


def _live_run(tmp: Path) -> list[str]:
    """`coldstart rollout` on the kubeconfig context x, which a profile in `tmp` allows."""
    (tmp / "live.yaml").write_text("extends: baseline\nname: live\nclusters: {allowed_contexts: [x]}\n")
    return ["rollout", "--profile", str(tmp / "live.yaml"), "--cluster", "kubeconfig:x", "--out", str(tmp / "out")]


# (id, KUBECONFIG ({tmp} is the folder), files, what stderr must mention): the kubeconfig is read through the same
# bounded readers before the Kubernetes client opens it (its own loader would block, explode or raise a traceback)
KUBECONFIG_CASES: list[tuple[str, str, dict[str, str | bytes], str]] = [
    ("device", "/dev/zero", {}, "/dev/zero: is a character device"),
    ("missing", "{tmp}/none", {}, "kubeconfig {tmp}/none: no such file"),
    ("latin1", "{tmp}/kc", {"kc": KUBECONFIG_TEXT.replace("sre", "caf\xe9").encode("latin-1")}, "not UTF-8"),
    ("nul", "{tmp}/kc", {"kc": KUBECONFIG_TEXT.replace("sre", "s\x00re")}, "U+0000"),
    ("billion-laughs", "{tmp}/kc", {"kc": _laughs(KUBECONFIG_TEXT)}, "expand this document"),
    ("self-reference", "{tmp}/kc", {"kc": "&a {apiVersion: v1, kind: Config, clusters: [*a]}\n"}, "references itself"),
    ("nesting-10000", "{tmp}/kc", {"kc": "users: " + "[" * 10_000 + "]" * 10_000}, "not valid YAML"),
    ("duplicate-key", "{tmp}/kc", {"kc": KUBECONFIG_TEXT + "users: []\n"}, "duplicate key 'users'"),
    ("client-key-device", "{tmp}/kc", {"kc": KUBECONFIG_TEXT.replace("token: t", "client-key: /dev/zero")},
     "users[sre].user.client-key: /dev/zero: is a character device"),
    ("second-file-latin1", "{tmp}/none:{tmp}/kc", {"kc": KUBECONFIG_TEXT.replace("x", "\xe9").encode("latin-1")},
     "kc:3: not UTF-8"),
]


@pytest.mark.parametrize(("kubeconfig", "files", "expected"), [c[1:] for c in KUBECONFIG_CASES],
                         ids=[c[0] for c in KUBECONFIG_CASES])
def test_bad_kubeconfig_exits_2_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], kubeconfig: str,
                                                  files: dict[str, str | bytes], expected: str) -> None:
    """Nothing listens at the kubeconfig's server: the run must stop on the file, before connecting."""
    _materialise(tmp_path, files, [])
    monkeypatch.setenv("KUBECONFIG", kubeconfig.replace("{tmp}", str(tmp_path)))
    start = time.monotonic()
    code = main(_live_run(tmp_path))
    _one_line(code, capsys.readouterr().err, expected.replace("{tmp}", str(tmp_path)), time.monotonic() - start)
    assert not (tmp_path / "out").exists(), "a report folder was made for a run that never started"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, where nothing can be created")
@pytest.mark.parametrize("command", [["render", "--profile", "baseline"], ["rollout", "--profile", "baseline"]])
def test_out_that_cannot_be_created(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """--out where no folder can be made (even by root, whom os.access always lets write): one line, exit 2."""
    start = time.monotonic()
    code = main([*command, "--out", "/proc/coldstart-out"])
    err = capsys.readouterr().err
    _one_line(code, err, "/proc", time.monotonic() - start)
    assert "cannot create" in err or "is not writable" in err, err
