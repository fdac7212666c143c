"""Run a real kube-apiserver (with etcd and, by default, a few kube-controller-manager controllers) on
loopback ports, as a test oracle for the embedded API server (issue #12).

The binaries come from `make apiserver` (tools/apiserver/build.sh) in <repo>/.cache/apiserver/bin/.
Standard library only; the certificates are made with the `openssl` command.

    from tools.apiserver.realapi import running, binaries_built, missing_reason
    if not binaries_built():
        pytest.skip(missing_reason())
    with running(tmp_path, context="real-apiserver") as api:
        client = kubernetes.config.new_client_from_config(config_file=str(api.kubeconfig), context=api.context)

As a script, `python tools/apiserver/realapi.py` starts one, prints `export KUBECONFIG=...` and runs until
Ctrl-C (or SIGTERM).

Choices (README.md says why): RBAC authorization, one static admin token in group system:masters,
the default admission plugins (ServiceAccount included, since kube-controller-manager's serviceaccount
controller creates every namespace's `default` ServiceAccount), API priority and fairness on (the
default), etcd without fsync, the `kubernetes` Service's Endpoints not reconciled.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN_DIR = HERE.parent.parent / ".cache" / "apiserver" / "bin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
# what kube-controller-manager runs: namespace deletion, ownerReference cascades, each namespace's
# `default` ServiceAccount (which ServiceAccount admission needs before a pod is admitted) and its
# kube-root-ca.crt ConfigMap, as in any cluster; and the PersistentVolumeClaim controllers every cluster
# runs: the binder writes a claim's status (phase Pending, FailedBinding/ProvisioningFailed events) and
# the protection controllers let a deleted claim or volume go once nothing uses it (without them a
# claim created with the pvc-protection finalizer would stay Terminating forever). No workload
# controllers: nothing creates pods.
CONTROLLERS = ("garbagecollector", "namespace", "serviceaccount", "root-ca-cert-publisher",
               "persistentvolume-binder", "pvc-protection", "pv-protection")
SERVICE_CIDR = "10.96.0.0/16"
STOP_WAIT = 10.0  # seconds between SIGTERM and SIGKILL


@dataclasses.dataclass(frozen=True)
class RealApiServer:
    url: str  # https://127.0.0.1:PORT
    kubeconfig: Path  # one cluster, one user (the token), one context named `context`, current
    token: str  # bearer token of user "admin" in group system:masters
    ca: Path  # PEM of the CA that signed the serving certificate
    context: str
    workdir: Path  # certificates, etcd data, logs (*.log); removed on exit unless keep=True
    etcd_url: str

    def log(self, name: str = "kube-apiserver") -> str:
        """The output so far of one process: etcd, kube-apiserver or kube-controller-manager."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def binaries_built(controllers: bool = True) -> bool:
    return missing_reason(controllers) is None


def missing_reason(controllers: bool = True) -> str | None:
    """Why running() cannot start (a pytest skip reason), or None when it can."""
    names = BINARIES if controllers else BINARIES[:2]
    missing = [n for n in names if not os.access(BIN_DIR / n, os.X_OK)]
    if missing:
        return f"real kube-apiserver not built ({', '.join(missing)} missing in {BIN_DIR}); run `make apiserver`"
    if shutil.which("openssl") is None:
        return "the real kube-apiserver needs the `openssl` command for its certificates"
    return None


class StartupError(RuntimeError):
    pass


def _free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together so none repeats; another process may still
    take one before it is used, which fails that start with a clear error)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise StartupError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


def _make_certs(d: Path) -> None:
    """ca.crt/ca.key (self-signed CA), server.crt/server.key (serving cert for 127.0.0.1, localhost and
    the in-cluster names), sa.key/sa.pub (service-account token signing key). P-256 keys, valid 7 days."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
             "-subj", "/CN=coldstart-real-apiserver-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash", cwd=d)
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver",
             cwd=d)
    names = ["IP:127.0.0.1", "IP:10.96.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
             "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"]
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid:always\n"
        f"subjectAltName={','.join(names)}\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "7", "-extfile", "server.ext", "-out", "server.crt", cwd=d)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key", cwd=d)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


def _kubeconfig(url: str, ca_pem: bytes, token: str, context: str) -> str:
    """A kubeconfig; JSON is YAML, so kubectl and the kubernetes client read it as written."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": context, "cluster": {
            "server": url, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": f"{context}-admin", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin",
                                                   "namespace": "default"}}],
        "current-context": context,
    }, indent=2) + "\n"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the Python process dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(name: str, args: Sequence[str], workdir: Path) -> subprocess.Popen:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - the child writes it; closed below
    try:
        return subprocess.Popen([str(BIN_DIR / name), *args], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    finally:
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _get(url: str, token: str | None = None, ctx: ssl.SSLContext | None = None) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when nothing answered."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def _wait(what: str, proc: subprocess.Popen, log: Path, deadline: float, probe) -> None:
    """Poll probe() until it is true; fail early if proc exits, or at the deadline, with proc's log tail."""
    last = ""
    while True:
        if proc.poll() is not None:
            raise StartupError(f"{what}: process exited with {proc.returncode}; last lines of {log}:\n{_tail(log)}")
        ok, last = probe()
        if ok:
            return
        if time.monotonic() > deadline:
            raise StartupError(f"{what}: not ready in time (last answer: {last or 'none'}); "
                               f"last lines of {log}:\n{_tail(log)}")
        time.sleep(0.25)


@contextlib.contextmanager
def running(workdir: str | os.PathLike | None = None, context: str = "real-apiserver", *,
            controllers: bool = True, timeout: float = 60.0, keep: bool = False,
            extra_apiserver_args: Sequence[str] = ()) -> Iterator[RealApiServer]:
    """Start etcd, kube-apiserver and (controllers=True) kube-controller-manager in a new temporary
    directory under `workdir` (default: the system's), wait until /readyz answers ok (and, with
    controllers, until the `default` namespace has its `default` ServiceAccount), yield the server,
    then stop every process (SIGTERM, SIGKILL after 10 s) and remove the directory (unless keep).

    `timeout` bounds each wait (seconds). `extra_apiserver_args` are appended to kube-apiserver's
    flags (a later flag wins), e.g. ["--feature-gates=..."]."""
    reason = missing_reason(controllers)
    if reason:
        raise StartupError(reason)
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="real-apiserver-", dir=workdir))
    procs: list[subprocess.Popen] = []
    try:
        etcd_port, peer_port, api_port = _free_ports(3)
        etcd_url, url = f"http://127.0.0.1:{etcd_port}", f"https://127.0.0.1:{api_port}"
        token = secrets.token_urlsafe(32)

        etcd = _start("etcd", [f"--data-dir={d / 'etcd'}", f"--listen-client-urls={etcd_url}",
                               f"--listen-peer-urls=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync",
                               "--log-level=error"], d)
        procs.append(etcd)
        _make_certs(d)  # while etcd starts
        (d / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
        (d / "tokens.csv").chmod(0o600)
        kubeconfig = d / "kubeconfig"
        kubeconfig.write_text(_kubeconfig(url, (d / "ca.crt").read_bytes(), token, context))
        kubeconfig.chmod(0o600)
        deadline = time.monotonic() + timeout

        def etcd_health():
            status, body = _get(f"{etcd_url}/health")
            return status == 200 and '"true"' in body, f"{status} {body.strip()}"
        _wait("etcd", etcd, d / "etcd.log", deadline, etcd_health)

        apiserver = _start("kube-apiserver", [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
            f"--tls-cert-file={d / 'server.crt'}", f"--tls-private-key-file={d / 'server.key'}",
            f"--client-ca-file={d / 'ca.crt'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",  # Endpoints reject the loopback advertise address
            "--profiling=false",
            *(() if controllers else ("--disable-admission-plugins=ServiceAccount",)),
            *extra_apiserver_args,
        ], d)
        procs.append(apiserver)
        ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
        deadline = time.monotonic() + timeout

        def readyz():
            status, body = _get(f"{url}/readyz", token, ctx)
            return status == 200 and body.strip() == "ok", f"{status} {body.strip()[-300:]}"
        _wait("kube-apiserver /readyz", apiserver, d / "kube-apiserver.log", deadline, readyz)

        if controllers:
            kcm = _start("kube-controller-manager", [
                f"--kubeconfig={kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false", "--use-service-account-credentials=false",
                "--secure-port=0",  # no serving endpoint; readiness is the ServiceAccount below
                f"--root-ca-file={d / 'ca.crt'}",
            ], d)
            procs.append(kcm)
            deadline = time.monotonic() + timeout

            def default_sa():
                status, _ = _get(f"{url}/api/v1/namespaces/default/serviceaccounts/default", token, ctx)
                return status == 200, str(status)
            _wait("kube-controller-manager (default ServiceAccount)", kcm, d / "kube-controller-manager.log",
                  deadline, default_sa)

        yield RealApiServer(url=url, kubeconfig=kubeconfig, token=token, ca=d / "ca.crt", context=context,
                            workdir=d, etcd_url=etcd_url)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--context", default="real-apiserver", help="name of the kubeconfig context")
    parser.add_argument("--workdir", help="where to make the temporary directory (default: the system's)")
    parser.add_argument("--no-controllers", dest="controllers", action="store_false",
                        help="no kube-controller-manager (and no ServiceAccount admission)")
    parser.add_argument("--keep", action="store_true", help="leave the temporary directory on exit")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each component")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (`cmd &` in a script)
    started = time.monotonic()
    try:
        with running(args.workdir, args.context, controllers=args.controllers, timeout=args.timeout,
                     keep=args.keep) as api:
            print(f"# kube-apiserver ready at {api.url} after {time.monotonic() - started:.1f}s "
                  f"(logs and certificates in {api.workdir})", flush=True)
            print(f"export KUBECONFIG={api.kubeconfig}", flush=True)
            print("# Ctrl-C to stop", flush=True)
            while True:
                time.sleep(1)
    except StartupError as e:
        print(f"realapi: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("# stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
