"""Benchmark: full runs on the embedded cluster through `runbook.run` (prints figures; not a test).

1. The rollout's scenario on the baseline profile (`runbook.rollout`: the recommended render scaled from
   zero, after the warm buffer and the image pre-pull hold their node): wall time, simulated (virtual) time,
   client requests per replica and per second.
2. A large scale-out (200 replicas by default, on a profile whose node pool allows it): wall time, virtual
   time, Events recorded and requests per second.

Virtual times are the embedded cluster's clock, from server timestamps: "experiment" runs from the first
object the run created (the apply at zero replicas) through the warm-up to the last engine replica's Ready;
"scale-up" from the first engine replica's creation to the last one's Ready; "whole run" is how far the
cluster clock moved between connect and cleanup (it runs on whenever the client is not writing, so the
reads after the run - live invariants, logs, cleanup - can add hours of cluster time).
Requests are every HTTP request the API server saw: discovery, apply, waits, recorder, logs, live
invariants, cleanup.

    .venv/bin/python benchmarks/embedded.py [--replicas 200] [--profile baseline] [--skip-large]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import Profile, load_profile, profile_with
from coldstart.runbooks import runbook
from coldstart.runbooks.runbook import Outcome


@dataclass
class Figures:
    outcome: Outcome
    wall: float
    cluster: EmbeddedCluster

    @property
    def requests(self) -> int:
        return len(self.cluster.api.requests)

    @property
    def whole_run_virtual(self) -> float:
        return self.cluster.clock.now() - self.cluster.started_at

    @property
    def experiment_virtual(self) -> float | None:
        """First object of the run created (apply at zero) -> last engine replica Ready, in cluster seconds."""
        stamps = [p["metadata"].get("creationTimestamp") for p in self.outcome.recording.pods]
        stamps += [e.get("firstTimestamp") or e.get("eventTime") for e in self.outcome.recording.events]
        times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in stamps if t]
        pods = [p for p in self.outcome.timeline.pods if p.t0 is not None and p.time_to_ready_seconds is not None
                and not p.victim]
        if not times or not pods:
            return None
        end = max(p.t0 + timedelta(seconds=p.time_to_ready_seconds) for p in pods)
        return (end - min(times)).total_seconds()

    @property
    def rollout_virtual(self) -> float | None:
        """First engine replica created -> last one Ready, in cluster seconds (server timestamps)."""
        pods = [p for p in self.outcome.timeline.pods if p.t0 is not None and p.time_to_ready_seconds is not None
                and not p.victim]
        if not pods:
            return None
        start = min(p.t0 for p in pods)
        end = max(p.t0 + timedelta(seconds=p.time_to_ready_seconds) for p in pods)
        return (end - start).total_seconds()


def measure(scenario: runbook.Scenario) -> Figures:
    """Run the scenario on an embedded cluster kept here, so its clock and request log can be read after."""
    cluster = EmbeddedCluster(scenario.profile)
    start = time.perf_counter()
    with cluster:
        cluster.started_at = cluster.clock.now()
        outcome = runbook.run(scenario, embedded=cluster)
    wall = time.perf_counter() - start
    return Figures(outcome, wall, cluster)


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:8.1f} s ({seconds / 60:5.1f} min)"


def report_common(label: str, f: Figures, replicas: int) -> None:
    o = f.outcome
    print(f"\n== {label}: {replicas} replica(s), profile {o.scenario.profile.name}")
    print(f"ready                         {o.ready}" + (f" - {o.failure}" if o.failure else ""))
    print(f"wall time                     {f.wall:8.2f} s")
    print(f"virtual time, experiment      {_minutes(f.experiment_virtual)}  (apply at zero, warm-up, scale-up -> "
          "last Ready)")
    print(f"virtual time, scale-up        {_minutes(f.rollout_virtual)}  (first replica created -> last Ready)")
    print(f"virtual time, whole run       {_minutes(f.whole_run_virtual)}  (cluster clock, connect -> cleanup; it "
          "runs on while the client reads)")
    if f.experiment_virtual:
        print(f"speed-up (experiment)         {f.experiment_virtual / f.wall:8.0f} x  (virtual s per wall s)")
    print(f"time to ready P50 / max       {o.statistics.get('time_to_ready', {}).get('P50', float('nan')):8.1f} s"
          f" / {o.statistics.get('time_to_ready', {}).get('max', float('nan')):.1f} s  (virtual, per replica)")
    print(f"API requests                  {f.requests:8d}  ({f.requests / f.wall:.0f} requests/s of wall time)")


def rollout(profile: Profile) -> None:
    f = measure(runbook.Scenario("recommended", profile, replicas=1))  # the scenario runbook.rollout runs
    report_common("baseline rollout (runbook.rollout's scenario)", f, 1)
    per_object = f.cluster.api.requests_per_object()
    pod_requests = [n for (key, _, _), n in per_object.items() if key == "/Pod"]
    verbs = Counter(r.verb or "discovery" for r in f.cluster.api.requests)
    print(f"requests per replica          {f.requests:8.1f}  (whole run / 1 replica; cleanup included)")
    print(f"requests naming one pod       {max(pod_requests, default=0):8d}  (max over pods: its log)")
    print("requests by verb              " + ", ".join(f"{verb} {n}" for verb, n in verbs.most_common()))


def scale_out(profile: Profile, replicas: int) -> None:
    large = profile_with(profile, {"runtime.replicas": replicas,
                                   "nodes.max_nodes": max(profile.nodes.max_nodes, replicas + 8)})
    scenario = runbook.Scenario(f"{replicas}-replica scale-out", large, replicas=replicas,
                                timeout=max(3600.0, runbook.WAIT_FACTOR * large.budgets.time_to_ready_seconds))
    f = measure(scenario)
    report_common(f"{replicas}-replica scale-out", f, replicas)
    events = f.outcome.recording.events if f.outcome.recording else []
    kinds = Counter(e.get("reason") for e in events)
    ready = sum(1 for p in f.outcome.timeline.pods if p.time_to_ready_seconds is not None and not p.victim)
    print(f"replicas Ready                {ready:8d} / {replicas}")
    print(f"Events recorded               {len(events):8d}  ({len(events) / f.wall:.0f} Events/s of wall time)")
    print("top Event reasons             " + ", ".join(f"{r} {n}" for r, n in kinds.most_common(6)))
    print(f"requests per replica          {f.requests / replicas:8.2f}  (whole run / replicas)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="baseline")
    parser.add_argument("--replicas", type=int, default=200, help="replicas of the large scale-out")
    parser.add_argument("--skip-large", action="store_true", help="only the one-replica rollout")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    rollout(profile)
    if not args.skip_large:
        scale_out(profile, args.replicas)


if __name__ == "__main__":
    main()
