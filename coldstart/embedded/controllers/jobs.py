"""The Job and CronJob controllers, as kube-controller-manager runs them (the parts a session sees).

Job: keeps `parallelism` pods running until `completions` succeeded (NonIndexed), counts active, ready,
succeeded and failed pods, and ends with `Complete` (with `SuccessCriteriaMet`) or, past `backoffLimit` failures,
`Failed` (`BackoffLimitExceeded`); pods carry the job-name and controller-uid labels admission put on the template.
CronJob: at each scheduled minute of the cluster clock (standard five-field schedules: `*`, `*/n`, lists, ranges)
creates `<name>-<minutes since the epoch>`, honours `suspend` and `concurrencyPolicy` (Allow, Forbid, Replace), and
keeps `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` finished Jobs.
"""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime
from typing import Any

from coldstart.embedded.apiserver.admission import Admission
from coldstart.embedded.apiserver.errors import ApiError
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import (
    Reconciler,
    admit_pod,
    condition,
    names,
    owner_ref,
    parse_time,
    pod_from_template,
    pod_ready,
    pod_view,
    rand_suffix,
    set_condition,
    terminating,
)
from coldstart.embedded.store.resources import BY_KEY
from coldstart.embedded.store.store import AlreadyExists, Change, Missing, rfc3339

JOB, CRONJOB = "batch/Job", "batch/CronJob"


def _finished(job: dict) -> bool:
    return any((c := condition(job, t)) is not None and c.get("status") == "True" for t in ("Complete", "Failed"))


class JobController(Reconciler):
    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("job-controller")

    def on_change(self, change: Change) -> None:
        if change.key == JOB:
            self.track(change)
        elif change.key == "/Pod":
            self.enqueue_owner(change, pod_view)

    def reconcile(self, namespace: str, name: str) -> None:
        job = self.store.get(JOB, namespace, name)
        if job is None or terminating(job) or _finished(job):
            return
        spec, now = job.get("spec") or {}, self.ctx.now()
        pods = self.store.owned("/Pod", job["metadata"]["uid"])
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        active = [p for p, phase in zip(pods, phases, strict=True) if phase not in ("Succeeded", "Failed")
                  and not terminating(p)]
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism", 1))
        done = succeeded >= completions
        exhausted = failed > int(spec.get("backoffLimit", 6))
        if not done and not exhausted and not spec.get("suspend"):
            for _ in range(max(0, min(parallelism, completions - succeeded) - len(active))):
                pod = self._create(job)
                if pod is None:
                    break
                active.append(pod)
        status: dict[str, Any] = dict(job.get("status") or {})
        status.setdefault("startTime", rfc3339(now))
        status.update(active=len(active), ready=sum(pod_ready(p) for p in active), succeeded=succeeded,
                      failed=failed, terminating=0)
        status = {k: v for k, v in status.items() if v or k in ("ready", "terminating")}
        conditions = list(status.get("conditions") or [])
        if done:
            for kind in ("SuccessCriteriaMet", "Complete"):
                set_condition(conditions, kind, "True", "CompletionsReached", "Reached expected number of "
                              "succeeded pods", now, probe_time=True)
            status["completionTime"] = rfc3339(now)
            self.events.event(job, "Normal", "Completed", "Job completed")
        elif exhausted:
            for kind in ("FailureTarget", "Failed"):
                set_condition(conditions, kind, "True", "BackoffLimitExceeded", "Job has reached the specified "
                              "backoff limit", now, probe_time=True)
            self.events.event(job, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        if conditions:
            status["conditions"] = conditions
        if status != (job.get("status") or {}):
            self.store.mutate(JOB, namespace, name, lambda obj: obj.__setitem__("status", status))

    def _create(self, job: dict) -> dict | None:
        meta = job["metadata"]
        pod = pod_from_template(job["spec"].get("template") or {}, meta["namespace"], "", job, {})
        pod["metadata"]["generateName"] = f"{meta['name']}-"
        pod["metadata"]["name"] = f"{meta['name']}-{rand_suffix(names(self.ctx))}"
        refused = admit_pod(self.store, pod, self.ctx.admission)
        if refused:
            self.events.event(job, "Warning", "FailedCreate", f"Error creating: {refused}")
            return None
        with contextlib.suppress(AlreadyExists):
            created = self.store.create(pod)
            self.events.event(job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
            return created
        return None


# ---------------------------------------------------------------------------------------------------
# CronJob

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = end = int(base)
            if step:
                end = high
        values.update(range(start, end + 1, int(step) if step else 1))
    return {v % 7 if high == 6 else v for v in values}


def next_run(schedule: str, after: float) -> float | None:
    """The first scheduled minute strictly after `after` (epoch seconds, UTC); None for a schedule not understood."""
    aliases = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
               "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
    parts = aliases.get(schedule.strip(), schedule).split()
    try:
        minute, hour, day, month, weekday = (_field(p, *r) for p, r in zip(parts, _RANGES, strict=True))
    except ValueError:
        return None
    t = (math.floor(after / 60) + 1) * 60
    for _ in range(366 * 24 * 60):
        when = datetime.fromtimestamp(t, UTC)
        if (when.minute in minute and when.hour in hour and when.day in day and when.month in month
                and (when.weekday() + 1) % 7 in weekday):
            return float(t)
        t += 60
    return None


class CronJobController(Reconciler):
    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("cronjob-controller")
        self._timers: dict[tuple[str, str], Any] = {}

    def on_change(self, change: Change) -> None:
        if change.key == CRONJOB:
            self.track(change)
        elif change.key == JOB:
            self.enqueue_owner(change)

    def reconcile(self, namespace: str, name: str) -> None:
        cj = self.store.get(CRONJOB, namespace, name)
        timer = self._timers.pop((namespace, name), None)
        if timer is not None:
            timer.cancel()
        if cj is None or terminating(cj):
            return
        spec, now = cj.get("spec") or {}, self.ctx.now()
        jobs = self.store.owned(JOB, cj["metadata"]["uid"])
        status = dict(cj.get("status") or {})
        last = status.get("lastScheduleTime")
        due = next_run(spec.get("schedule", ""), _epoch(last) if last else _epoch(cj["metadata"]["creationTimestamp"]))
        if due is not None and due <= now and not spec.get("suspend"):
            running = [j for j in jobs if not _finished(j)]
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy == "Replace":
                for job in running:
                    with contextlib.suppress(Missing):
                        self.store.delete(JOB, namespace, job["metadata"]["name"])
            if policy != "Forbid" or not running:
                jobs.append(self._create(cj, due))
            status["lastScheduleTime"] = rfc3339(due)
        self._prune(cj, jobs)
        jobs = self.store.owned(JOB, cj["metadata"]["uid"])
        status["active"] = [{"kind": "Job", "namespace": namespace, "name": j["metadata"]["name"],
                             "uid": j["metadata"]["uid"], "apiVersion": "batch/v1"} for j in jobs if not _finished(j)]
        if not status["active"]:
            del status["active"]
        if status != (cj.get("status") or {}):
            self.store.mutate(CRONJOB, namespace, name, lambda obj: obj.__setitem__("status", status))
        upcoming = next_run(spec.get("schedule", ""), max(now, due or now))
        if upcoming is not None:
            self._timers[(namespace, name)] = self.ctx.clock.call_at(upcoming, self.enqueue, namespace, name)

    def _create(self, cj: dict, due: float) -> dict:
        meta, template = cj["metadata"], (cj.get("spec") or {}).get("jobTemplate") or {}
        job: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": f"{meta['name']}-{int(due // 60)}", "namespace": meta["namespace"],
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": rfc3339(due)},
                            "ownerReferences": [owner_ref(cj)]},
               "spec": dict(template.get("spec") or {})}
        try:
            job = (self.ctx.admission or Admission(self.store)).admit(BY_KEY[JOB], job, "CREATE")
        except ApiError as err:
            self.events.event(cj, "Warning", "FailedCreate", f"Error creating job: {err.message}")
            return job
        try:
            created = self.store.create(job)
        except AlreadyExists:
            return self.store.get(JOB, meta["namespace"], job["metadata"]["name"]) or job
        self.events.event(cj, "Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        return created

    def _prune(self, cj: dict, jobs: list[dict]) -> None:
        spec = cj.get("spec") or {}
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                            ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            done = [j for j in jobs if (c := condition(j, kind)) is not None and c.get("status") == "True"]
            done.sort(key=lambda j: j["metadata"].get("creationTimestamp", ""))
            for job in done[:max(0, len(done) - int(limit))]:
                with contextlib.suppress(Missing):
                    self.store.delete(JOB, cj["metadata"]["namespace"], job["metadata"]["name"])
                self.events.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")


def _epoch(stamp: str | None) -> float:
    return parse_time(stamp) or 0.0
