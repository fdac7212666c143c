"""Virtual time and the loop that drives the simulated control plane.

The embedded cluster runs a ten-minute cold start in seconds of wall time: cluster time (the clock)
stands still while a client is busy talking to the API server, and jumps to the next scheduled
happening (a node finishing its boot, a pull completing, a probe firing) as soon as the cluster is
quiet. With nothing scheduled it drifts forward quickly, so watch timeouts still expire.

The clock never shows a client a time in its future. Its epoch starts `LEAD` seconds (a day) behind the
wall clock, and the driver never moves it past the wall clock: virtual time runs fast by spending that lead,
and a cluster that has spent it all runs at the wall clock's pace. Every timestamp the API server writes
or sends (creationTimestamp, events, the `Date` header, log prefixes) is therefore at or before the wall
clock, so `kubectl get` shows ages, never `<invalid>`; they read up to a day too old, the price of a
ten-minute cold start in seconds. An interactive cluster (`coldstart cluster up`) spends the lead
sparingly (`Simulation.settle`): it runs fast while the cluster is changing and for a little while after
(`settle` cluster seconds after the last store change or client write), and at the wall clock's pace once
everything has settled (a Ready pod whose probes pass changes nothing), so a day of lead lasts for many
cold starts however long the session stays open.

Controllers run on one thread, the driver's: they react to store changes (theirs and the clients')
in resourceVersion order and to their own timers, so their code needs no locks.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from coldstart.embedded.store.store import Change, Store

LEAD = 86_400.0  # seconds the epoch starts behind the wall clock: the fast-forward a cluster may spend


class Timer:
    """A scheduled call; `cancel()` before it fires to drop it."""

    __slots__ = ("at", "fn", "args", "cancelled")

    def __init__(self, at: float, fn: Callable[..., Any], args: tuple):
        self.at, self.fn, self.args, self.cancelled = at, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Cluster time in epoch seconds. Only the driver advances it; anyone may read it."""

    def __init__(self, start: float | None = None, lead: float = LEAD):
        self._now = float(int(time.time() - lead) if start is None else start)
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.last_client_write = 0.0  # wall monotonic time of the last mutating client request

    def now(self) -> float:
        return self._now

    def call_at(self, at: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(max(at, self._now), fn, args)
        with self._lock:
            heapq.heappush(self._heap, (timer.at, next(self._seq), timer))
        return timer

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self._now + max(0.0, delay), fn, *args)

    def touch(self) -> None:
        """A client just wrote through the API: hold time still for a moment (the client is mid-sequence)."""
        self.last_client_write = time.monotonic()

    def next_at(self) -> float | None:
        with self._lock:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def pop_due(self) -> Timer | None:
        """The next timer due at or before now, if any."""
        with self._lock:
            while self._heap:
                at, _, timer = self._heap[0]
                if timer.cancelled:
                    heapq.heappop(self._heap)
                    continue
                if at > self._now:
                    return None
                heapq.heappop(self._heap)
                return timer
            return None

    def advance_to(self, at: float) -> None:
        self._now = max(self._now, at)

    def advance_toward(self, at: float) -> None:
        """Advance to `at`, but never past the wall clock (what the driver uses; tests may advance freely)."""
        self.advance_to(min(at, time.time()))


class Controller(Protocol):
    """What the driver calls: every store change in order, on the driver thread."""

    def on_change(self, change: Change) -> None: ...


class Simulation:
    """Feeds store changes and due timers to the controllers; moves virtual time when the cluster is quiet."""

    def __init__(self, store: Store, clock: VirtualClock, *, quiet_seconds: float = 0.02,
                 idle_rate: float = 300.0, may_advance: Callable[[], bool] | None = None,
                 max_rate: float | None = None, settle: float | None = None):
        self.store, self.clock = store, clock
        # At most this many virtual seconds per wall second, even when jumping to the next timer: a client that
        # has just seen what it waited for gets to its next request before much cluster time has passed.
        self.max_rate = max_rate
        # When set, decides whether time may move now (the embedded cluster: only while its client waits);
        # otherwise time moves once the client has not written for quiet_seconds.
        self.may_advance = may_advance
        self.controllers: list[Controller] = []
        self.quiet_seconds = quiet_seconds  # wall time the client must be silent before time jumps
        self.idle_rate = idle_rate  # virtual seconds per wall second when nothing is scheduled
        # Interactive pacing: when set, time runs fast only until `settle` cluster seconds after the last store
        # change, then at the wall clock's pace (1 virtual second per wall second) until something changes.
        self.settle = settle
        self.last_change = clock.now()
        self._anchor: tuple[float, float, float] | None = None  # (wall, virtual, rate) the pace is measured from
        self._cursor = store.resource_version
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None

    def add(self, *controllers: Controller) -> None:
        self.controllers.extend(controllers)

    # -- one step, used by the thread and by tests that drive the simulation by hand ---------------
    def drain(self) -> bool:
        """Deliver pending store changes and due timers; True if anything happened."""
        did = False
        while True:
            changes = self.store.changes(self._cursor)
            if changes:
                did = True
                self.last_change = self.clock.now()
                for change in changes:
                    self._cursor = change.rv
                    for controller in self.controllers:
                        controller.on_change(change)
                continue
            timer = self.clock.pop_due()
            if timer is None:
                return did
            did = True
            timer.fn(*timer.args)

    def run_until_idle(self, limit: float = 24 * 3600.0) -> float:
        """Synchronously run every scheduled happening up to `limit` virtual seconds from now (tests)."""
        end = self.clock.now() + limit
        self.drain()
        while (nxt := self.clock.next_at()) is not None and nxt <= end:
            self.clock.advance_to(nxt)
            self.drain()
        return self.clock.now()

    def run_for(self, seconds: float) -> None:
        """Synchronously advance exactly `seconds` of virtual time, firing everything due (tests)."""
        end = self.clock.now() + seconds
        self.drain()
        while (nxt := self.clock.next_at()) is not None and nxt <= end:
            self.clock.advance_to(nxt)
            self.drain()
        self.clock.advance_to(end)
        self.drain()

    # -- background thread --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="coldstart-simulation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self.drain():
                    continue
                if self.may_advance is not None:
                    if not self.may_advance():
                        self._anchor = None
                        self.store.wait(self._cursor, 0.01)
                        continue
                elif time.monotonic() - self.clock.last_client_write < self.quiet_seconds:
                    self.store.wait(self._cursor, self.quiet_seconds)
                    continue
                nxt = self.clock.next_at()
                if nxt is not None:
                    self._jump(nxt)
                    continue
                before = time.monotonic()
                self.store.wait(self._cursor, 0.02)
                rate = 1.0 if self._settled() else self.idle_rate
                self.clock.advance_toward(self.clock.now() + (time.monotonic() - before) * rate)
        except BaseException as exc:  # surfaced by EmbeddedCluster so a broken controller is not silent
            self.error = exc
            raise

    def _settled(self) -> bool:
        return self.settle is not None and self.clock.now() - self.last_change >= self.settle

    def _jump(self, target: float) -> None:
        """Move to the next timer, no faster than the rate allowed now, never past the wall clock."""
        rate = 1.0 if self._settled() else self.max_rate
        if rate is None:
            self.clock.advance_toward(target)
            if self.clock.now() < target:  # held back by the wall clock: let it catch up
                self.store.wait(self._cursor, 0.01)
            return
        wall = time.monotonic()
        if self._anchor is None or wall - self._anchor[0] > 0.05 or self._anchor[2] != rate:
            self._anchor = (wall, self.clock.now(), rate)  # no banked allowance after a pause or a change of pace
        allowed = self._anchor[1] + (wall - self._anchor[0]) * rate
        if target <= allowed:  # within the pace: no need to wait (a thousand replicas make ~10^5 timer instants)
            self.clock.advance_toward(target)
            return
        self.clock.advance_toward(allowed)
        # ahead of the pace: a client request landing now stops the clock in time; slow paces need no fine steps
        self.store.wait(self._cursor, 0.001 if rate >= 100 else 0.02)
