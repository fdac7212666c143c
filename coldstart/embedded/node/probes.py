"""Startup, readiness and liveness probes on the kubelet's schedule, judged against what the process answers.

Each probe ticks every periodSeconds from the container's start; ticks before initialDelaySeconds are skipped,
and liveness/readiness wait until the startup probe has succeeded (pkg/kubelet/prober/worker.go). A failed
probe writes `Unhealthy` with the prober's own output (`Startup probe failed: Get "http://10.0.0.5:8000/health":
dial tcp 10.0.0.5:8000: connect: connection refused`, or `HTTP probe failed with statuscode: 503`); the event
recorder folds repeats into one event with a count. failureThreshold consecutive failures of a startup or
liveness probe get the container killed and restarted; of a readiness probe, marked unready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from coldstart.embedded.clock import Timer, VirtualClock
from coldstart.embedded.node.process import Health, as_float, as_int

KINDS = ("startup", "readiness", "liveness")


@dataclass(frozen=True)
class Probe:
    kind: str  # startup | readiness | liveness
    handler: str  # http | tcp | grpc | exec
    port: int | None
    path: str = "/"
    scheme: str = "HTTP"
    host: str | None = None
    initial_delay: float = 0.0
    period: float = 10.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_container(cls, kind: str, container: dict) -> Probe | None:
        spec = container.get(f"{kind}Probe")
        if not isinstance(spec, dict):
            return None
        handler, port, path, scheme, host = "exec", None, "/", "HTTP", None
        if isinstance(spec.get("httpGet"), dict):
            get = spec["httpGet"]
            handler, port = "http", _port(get.get("port"), container)
            path, scheme, host = get.get("path") or "/", (get.get("scheme") or "HTTP").upper(), get.get("host")
        elif isinstance(spec.get("tcpSocket"), dict):
            handler, port, host = "tcp", _port(spec["tcpSocket"].get("port"), container), spec["tcpSocket"].get("host")
        elif isinstance(spec.get("grpc"), dict):
            handler, port = "grpc", _port(spec["grpc"].get("port"), container)
        return cls(kind, handler, port, path, scheme, host, as_float(spec.get("initialDelaySeconds"), 0.0),
                   max(1.0, as_float(spec.get("periodSeconds"), 10.0)), max(1, as_int(spec.get("successThreshold"), 1)),
                   max(1, as_int(spec.get("failureThreshold"), 3)))


def _port(value: object, container: dict) -> int | None:
    """A probe port by number or by the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return as_int(p.get("containerPort"), 0) or None
    return None


def judge(probe: Probe, health: Health, pod_ip: str) -> tuple[bool, str]:
    """The probe's result and, on failure, the prober's output as the event shows it."""
    host = probe.host or pod_ip
    listening = probe.port is not None and probe.port in health.ports
    if probe.handler == "http":
        url = f"{probe.scheme.lower()}://{host}:{probe.port}{probe.path}"
        if not listening:
            return False, f'Get "{url}": dial tcp {host}:{probe.port}: connect: connection refused'
        if 200 <= health.status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {health.status}"
    if probe.handler in ("tcp", "grpc"):
        if listening:
            return True, ""
        if probe.handler == "grpc":
            return False, f'timeout: failed to connect service "{host}:{probe.port}" within 1s'
        return False, f"dial tcp {host}:{probe.port}: connect: connection refused"
    # exec probes usually curl the server: they pass once it answers on any port
    return (bool(health.ports) and 200 <= health.status < 400), ""


@dataclass
class _Counter:
    successes: int = 0
    failures: int = 0


@dataclass
class ProbeCallbacks:
    started: Callable[[], None]
    ready: Callable[[bool], None]
    unhealthy: Callable[[str, str], None]  # (kind, output)
    kill: Callable[[str], None]  # kind


@dataclass
class ProbeRunner:
    """The probe workers of one running container instance."""

    clock: VirtualClock
    container: dict
    started_at: float
    pod_ip: str
    health: Callable[[], Health]
    on: ProbeCallbacks
    probes: dict[str, Probe] = field(default_factory=dict)
    counters: dict[str, _Counter] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)
    started: bool = False
    ready: bool = False
    stopped: bool = False

    def start(self) -> None:
        for kind in KINDS:
            probe = Probe.from_container(kind, self.container)
            if probe is not None:
                self.probes[kind] = probe
                self.counters[kind] = _Counter()
                self.timers.append(self.clock.call_at(self.started_at, self._tick, kind))
        if "startup" not in self.probes:
            self.started = True
            self.on.started()
        if "readiness" not in self.probes:
            self.ready = self.started
            self.on.ready(self.ready)

    def stop(self) -> None:
        self.stopped = True
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def _tick(self, kind: str) -> None:
        if self.stopped:
            return
        probe = self.probes[kind]
        if kind == "startup" and self.started:
            return  # the startup probe is done for this container instance
        self.timers = [t for t in self.timers if not t.cancelled and t.at > self.clock.now()]
        self.timers.append(self.clock.call_later(probe.period, self._tick, kind))
        if self.clock.now() - self.started_at < probe.initial_delay:
            return
        if kind != "startup" and not self.started:
            return
        ok, output = judge(probe, self.health(), self.pod_ip)
        count = self.counters[kind]
        if ok:
            count.failures, count.successes = 0, count.successes + 1
            if count.successes >= probe.success_threshold:
                self._succeeded(kind)
            return
        count.successes, count.failures = 0, count.failures + 1
        self.on.unhealthy(kind, output)
        if count.failures >= probe.failure_threshold:
            if kind == "readiness":
                if self.ready:
                    self.ready = False
                    self.on.ready(False)
            else:
                self.stop()
                self.on.kill(kind)

    def _succeeded(self, kind: str) -> None:
        if kind == "startup":
            self.started = True
            self.on.started()
            if "readiness" not in self.probes:
                self.ready = True
                self.on.ready(True)
        elif kind == "readiness" and not self.ready:
            self.ready = True
            self.on.ready(True)
