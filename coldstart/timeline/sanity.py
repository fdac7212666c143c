"""Times a timeline can trust: what is dated in the future, far from everything else, or before the pod existed is
left out of the phases and said so, and no phase ever ends before it starts.

A doctored or mis-clocked input (an event dated 2099, a Pulled event before the pod was created, a kubelet whose
clock is a day off) would otherwise make negative phase durations and negative quantiles. The rules, on absolute
clocks only (kubectl ages cannot be in the future):

- an event or a pod timestamp later than now + FUTURE_SKEW is in the future;
- an event more than HORIZON away from the middle of its pod's other events is implausibly far from them;
- a mark or pulled image before t0 - CLOCK_SKEW happened before the pod existed, and one after t0 + HORIZON is no
  part of a cold start;
- a phase whose end is before its start (events out of order) is dropped, as is a negative time to Ready.

Each exclusion becomes a note on the pod (in the table and timings.json) and a warning of the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coldstart.kube.times import to_iso
from coldstart.timeline.model import PodTimeline
from coldstart.timeline.sources.events import Event

CLOCK_SKEW = 60.0  # seconds an event may precede its pod's creation (node and API server clocks differ)
FUTURE_SKEW = 300.0  # seconds after now that clock skew explains; later is a wrong clock or an edited file
HORIZON = 30 * 86400.0  # seconds: a cold start measured over a longer span is not one


class Sanity:
    """The rules for one analysis: `now` (when it runs, or given by a test) and the warnings they produced."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self.future = self.now + timedelta(seconds=FUTURE_SKEW)
        self.warnings: list[str] = []

    def _say(self, tl: PodTimeline, text: str) -> None:
        tl.notes.append(text)
        self.warnings.append(f"pod {tl.pod}: {text}")

    def in_future(self, when: datetime | None) -> bool:
        return when is not None and when > self.future

    def plausible(self, tl: PodTimeline, when: datetime | None, what: str) -> datetime | None:
        """A pod's own timestamp, or None (with a note) when it lies in the future."""
        if self.in_future(when):
            self._say(tl, f"{what} {to_iso(when)} left out: it is in the future")
            return None
        return when

    def events(self, tl: PodTimeline, events: list[Event]) -> list[Event]:
        """The pod's events without those dated in the future or more than HORIZON from the middle of the others."""
        times = sorted(t for e in events if (t := e.first or e.last) is not None and not self.in_future(t))
        middle = times[len(times) // 2] if times else None
        far = timedelta(seconds=HORIZON)
        kept: list[Event] = []
        dropped: dict[str, list[Event]] = {}
        for event in events:
            when = event.first or event.last
            if when is None:
                kept.append(event)
            elif self.in_future(when) or (event.last is not None and self.in_future(event.last)):
                dropped.setdefault("dated in the future", []).append(event)
            elif middle is not None and abs(when - middle) > far:
                dropped.setdefault("more than 30 days from the pod's other events", []).append(event)
            else:
                kept.append(event)
        for why, group in dropped.items():
            first = group[0]
            count = f"{len(group)} events" if len(group) > 1 else "1 event"
            self._say(tl, f"{count} left out of the phases: {why} (first: {first.reason} at "
                          f"{to_iso(first.first or first.last)})")
        return kept

    def positions(self, tl: PodTimeline) -> None:
        """Marks and pull times outside [t0 - CLOCK_SKEW, min(now + FUTURE_SKEW, t0 + HORIZON)] leave the pod (with
        the phases built on them); absolute clocks only."""
        if tl.clock != "absolute" or tl.t0 is None:
            return
        upper = min((self.future - tl.t0).total_seconds(), HORIZON)
        if upper < -CLOCK_SKEW:  # the pod itself starts in the future: nothing on its axis can be trusted
            upper = -CLOCK_SKEW

        def bad(at: float | None) -> str | None:
            if at is None:
                return None
            if at < -CLOCK_SKEW:
                return f"{at:.1f}s, before the pod was created"
            return f"{at:.1f}s, after {'now' if upper < HORIZON else 'the 30 days a cold start may take'}" \
                if at > upper else None

        for name, at in list(tl.marks.items()):
            if (why := bad(at)) is not None:
                del tl.marks[name]
                self._say(tl, f"mark {name} left out: at {why}")
        for pull in tl.image_pulls:
            if (why := bad(pull.start) or bad(pull.end)) is not None:
                pull.start = pull.end = None
                self._say(tl, f"image pull of {pull.image} left out of the phases: at {why}")
        for name, span in list(tl.phases.items()):
            if (why := bad(span.start) or bad(span.end)) is not None:
                del tl.phases[name]
                self._say(tl, f"phase {name} left out: at {why}")

    def spans(self, tl: PodTimeline) -> None:
        """No phase ends before it starts and Ready never precedes t0: such a phase is events out of order."""
        for name, span in list(tl.phases.items()):
            if span.end < span.start:
                del tl.phases[name]
                self._say(tl, f"phase {name} left out: it would end {span.start - span.end:.1f}s before it starts "
                              "(events out of order)")
        if tl.time_to_ready_seconds is not None and tl.time_to_ready_seconds < 0:
            self._say(tl, f"time to Ready left out: Ready is {-tl.time_to_ready_seconds:.1f}s before t0")
            tl.time_to_ready_seconds = None
