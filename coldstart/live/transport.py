"""How requests to an API server go and come back: errors translated into the project's tree, retries with
bounded exponential backoff and jitter that honour `Retry-After`, and watch streams read line by line.

A retry is only for what is safe to send again and may succeed later: 429 (the server sheds load), 5xx, a
dropped connection, and a 409 that is optimistic concurrency (not a field another manager owns). Every other
error is raised at once, naming the verb and the object.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import urllib3
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
from kubernetes.watch.watch import iter_resp_lines

from coldstart.errors import ClusterError, Conflict, Forbidden, Invalid, NotFound, ServerError, WatchExpired

__all__ = ["Backoff", "ConnectionDiscoverer", "WatchStream", "retryable", "translate", "with_retries"]

T = TypeVar("T")
MAX_RETRY_AFTER = 30.0  # never sleep longer than this on a server's say-so


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"), capped,
    for a bounded number of attempts; a server's Retry-After wins when it asks for longer."""

    base: float = 0.2
    cap: float = 5.0
    attempts: int = 6
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next attempt; False when the attempts are used up (the caller raises)."""
        self.failures += 1
        if self.failures >= self.attempts:
            return False
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (self.failures - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        self.sleep(delay)
        return True

    def reset(self) -> None:
        self.failures = 0


def _retry_after(exc: DynamicApiError) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate(exc: Exception, verb: str, obj: str) -> ClusterError:
    """API errors -> the project's tree, naming the verb and the object."""
    if isinstance(exc, DynamicApiError):
        status = exc.status
        reason, causes = "", list[Any]()
        try:
            body = json.loads(exc.body or "")
            detail, reason = body.get("message", ""), str(body.get("reason") or "")
            causes = (body.get("details") or {}).get("causes") or []
        except (TypeError, ValueError, AttributeError):
            detail = str(exc.reason or "")
        message = f"{verb} {obj}: {detail or exc.reason} (HTTP {status})"
        # A StatusCause's type travels as "reason" in JSON (metav1.StatusCause.Type has the tag `json:"reason"`).
        if status == 409 and any(isinstance(c, dict) and c.get("reason") == "FieldManagerConflict" for c in causes):
            reason = "FieldManagerConflict"
        # 410 may come as the HTTP status (not only as a watch stream's ERROR event): either way, relist.
        cls = {404: NotFound, 409: Conflict, 401: Forbidden, 403: Forbidden, 400: Invalid, 422: Invalid,
               410: WatchExpired}.get(status, ServerError if status is None or status >= 500 else ClusterError)
        return cls(message, verb=verb, obj=obj, status=status, retry_after=_retry_after(exc), reason=reason)
    if isinstance(exc, ResourceNotFoundError):
        return NotFound(f"{verb} {obj}: the API server does not serve this kind ({exc}); is its CRD installed?",
                        verb=verb, obj=obj, status=404)
    return ServerError(f"{verb} {obj}: cannot reach the API server ({exc.__class__.__name__}: {exc})",
                       verb=verb, obj=obj)


def retryable(error: ClusterError) -> bool:
    """Worth sending again: load shedding, server errors, broken connections, optimistic-concurrency conflicts."""
    if isinstance(error, ServerError) or error.status == 429:
        return True
    return error.status == 409 and error.reason not in ("FieldManagerConflict", "AlreadyExists")


def with_retries(verb: str, obj: str, fn: Callable[[], T], backoff: Backoff | None = None) -> T:
    """Call `fn`, translating API errors; retry the retryable ones with backoff, then raise the last."""
    backoff = backoff or Backoff()
    while True:
        try:
            return fn()
        except (DynamicApiError, ResourceNotFoundError, urllib3.exceptions.HTTPError, OSError) as exc:
            error = translate(exc, verb, obj)
        if not retryable(error) or not backoff.wait(error.retry_after):
            raise error


class ConnectionDiscoverer(LazyDiscoverer):
    """The client's lazy discovery without its cache file. That file is named after the server URL and shared
    by every process, so a new server on a reused loopback port (every embedded cluster) or a cluster whose
    CRDs changed was answered from another server's resource list."""

    def _write_cache(self) -> None:
        pass


class WatchStream:
    """One watch response: iterate for (type, object); `close()` ends it from another thread."""

    def __init__(self, resp: Any, what: str):
        self._resp, self._what, self._closed = resp, what, False

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        try:
            for line in iter_resp_lines(self._resp):
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise WatchExpired(f"watch {self._what}: {status.get('message', 'too old')}", status=410)
                    raise ServerError(f"watch {self._what}: {status.get('message', status)}", verb="watch",
                                      obj=self._what, status=status.get("code"))
                yield event["type"], event["object"]
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed:
                raise translate(exc, "watch", self._what) from None
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Closing a half-read stream from another thread may race; it is closed either way.
            with contextlib.suppress(Exception):
                self._resp.shutdown() if hasattr(self._resp, "shutdown") else self._resp.close()
            self._resp.release_conn()
