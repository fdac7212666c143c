"""timings.json: the versioned record of a run's timeline and statistics (schema: timings.schema.json).

The runbooks write it to outputs/<profile>/<run-id>/timings.json and compare runs by reading it back, so
reading validates: a file that does not match the schema is reported as bad input (exit 2) naming the
file and the first offending key, rather than half-read.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from coldstart.errors import InputError, InvalidValue
from coldstart.inputs.atomic import write_text
from coldstart.inputs.decode import gc_paused
from coldstart.inputs.files import TIMINGS, read_text
from coldstart.inputs.jsonsafe import other_error
from coldstart.kube.times import to_iso
from coldstart.profiles import Profile
from coldstart.timeline.build import PodTimeline, Timeline
from coldstart.timeline.floor import Floor, efficiency
from coldstart.timeline.stats import check_budgets, run_statistics, thresholds_from_profile

SCHEMA_VERSION = 2  # 2: which runbook, scenario and steps; each replica by position with its own floor
SCHEMA_PATH = Path(__file__).with_name("timings.schema.json")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _round(value: float | None, digits: int = 6) -> float | None:
    return round(value, digits) if isinstance(value, float) else value


def pod_json(pod: PodTimeline) -> dict[str, Any]:
    """One pod of the document (see $defs/pod)."""
    return {
        "pod": pod.pod, "node": pod.node, "clock": pod.clock, "t0": to_iso(pod.t0), "t0_source": pod.t0_source,
        "marks": {k: _round(v) for k, v in pod.marks.items()},
        "phases": {name: {"start": _round(s.start), "end": _round(s.end), "seconds": _round(s.seconds)}
                   for name, s in pod.phases.items()},
        "image_pulls": [{"image": p.image, "container": p.container, "seconds": p.seconds,
                         "seconds_including_waiting": p.seconds_including_waiting, "bytes": p.bytes,
                         "mb_per_s": _round(p.mb_per_s, 3), "cached": p.cached, "streaming": p.streaming,
                         "start": _round(p.start), "end": _round(p.end)} for p in pod.image_pulls],
        "reasons": [{"reason": r.reason, "message": r.message, "at": _round(r.at), "count": r.count,
                     "source": r.source} for r in pod.reasons],
        "time_to_ready_seconds": _round(pod.time_to_ready_seconds), "log": pod.log, "victim": pod.victim,
        "notes": list(pod.notes),
    }


def replica_json(position: int, label: str, pod: PodTimeline, floor: Floor | None) -> dict[str, Any]:
    """One replica by its position in the scenario (see $defs/replica): what later runs are compared on."""
    ttr = pod.time_to_ready_seconds
    return {"position": position, "label": label, "pod": pod.pod, "time_to_ready_seconds": _round(ttr),
            "phases": {name: _round(s.seconds) for name, s in pod.phases.items() if s.seconds is not None},
            "floor": floor.to_json() if floor is not None else None,
            "efficiency": _round(efficiency(floor, ttr)) if floor is not None else None}


def timings_document(timeline: Timeline, *, profile: Profile | None = None, run_id: str | None = None,
                     cluster: str | None = None, ready: bool | None = None, runbook: str | None = None,
                     scenario: str | None = None, steps: list[int] | None = None,
                     replicas: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole document for a Timeline; with a profile also budgets; what makes runs comparable (runbook,
    profile, cluster target, scenario and its steps, whether it became ready); the replicas by position,
    each with its floor (the first one's floor and efficiency also at the top)."""
    with gc_paused():
        doc = _document(timeline, profile, run_id)
    first = replicas[0] if replicas else None
    doc.update(cluster=cluster, ready=ready, runbook=runbook, scenario=scenario, steps=steps,
               replicas=replicas or [], floor=first["floor"] if first else None,
               efficiency=first["efficiency"] if first else None)
    return doc


def _document(timeline: Timeline, profile: Profile | None, run_id: str | None) -> dict[str, Any]:
    stats = run_statistics(timeline.pods)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "profile": profile.name if profile is not None else None,
        "pods": [pod_json(p) for p in timeline.pods],
        "vllm": [log.to_json(file) for file, log in timeline.logs],
        "statistics": {name: {k: _round(v) for k, v in summary.items()} for name, summary in stats.items()},
        "budgets": None,
    }
    if profile is not None:
        thresholds = thresholds_from_profile(profile)
        overruns = check_budgets(stats, thresholds)
        doc["budgets"] = {"thresholds": [{"conditionType": t.conditionType, "metric": t.metric,
                                          "threshold": t.threshold} for t in thresholds],
                          "overruns": [{"phase": o.phase, "metric": o.metric, "value": _round(o.value),
                                        "budget": o.budget, "over_seconds": _round(o.over_seconds),
                                        "over_percent": _round(o.over_percent)} for o in overruns],
                          "ok": not overruns}
    return doc


def validation_errors(doc: Any) -> list[str]:
    """Schema violations as `key.path: message`, first by document order."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_timings(path: str | Path, run: Timeline | dict[str, Any], **about: Any) -> Path:
    """Write a Timeline (or an already-built document) as timings.json; the document is validated first.
    `about`: the keyword arguments of timings_document (profile, run_id, cluster, runbook, replicas...)."""
    doc = run if isinstance(run, dict) else timings_document(run, **about)
    problems = validation_errors(doc)
    if problems:
        raise InvalidValue(f"timings document does not match timings.schema.json: {problems[0]}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text(target, dumps(doc))  # whole or not at all: a killed run leaves no half file


def read_timings(path: str | Path) -> dict[str, Any]:
    """Read and validate a timings.json; InputError (exit 2) naming the file and the first bad key."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"{source}: no such timings file; run the runbook or `coldstart timeline` first")
    text = read_text(source, TIMINGS)  # a regular file within its limit, UTF-8
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not a timings JSON file ({exc}); regenerate it") from None
    except (ValueError, RecursionError) as exc:
        raise other_error(exc, text, str(source)) from None
    if isinstance(doc, dict) and doc.get("schema_version") not in (None, SCHEMA_VERSION):
        raise InputError(f"{source}: schema_version {doc.get('schema_version')!r} is not supported "
                         f"(this coldstart reads {SCHEMA_VERSION}); regenerate the file or upgrade coldstart")
    problems = validation_errors(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"{source}: does not match timings.schema.json: {problems[0]}{more}")
    valid: dict[str, Any] = doc  # the schema's top level is an object
    return valid
