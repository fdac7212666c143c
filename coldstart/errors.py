"""One small exception tree, so callers (and the CLI) can tell bad input from a cluster problem.

Every exception the library raises on purpose derives from `ColdstartError`. Every message names the file, key
or object involved and says what to do about it; the CLI prints the message alone (no traceback) and exits 2
for `InputError`, 1 for everything else. (The embedded API server's own errors stay inside
`coldstart.embedded`: it answers them as Kubernetes Status objects, as a real API server does.)
"""

from __future__ import annotations


class ColdstartError(Exception):
    """Root of every error coldstart raises on purpose."""

    exit_code = 1


class InputError(ColdstartError):
    """Something the user gave us (a file, a profile, a flag) is wrong; nothing was applied."""

    exit_code = 2


class ProfileError(InputError):
    """A profile file is missing, unparseable or fails validation."""


class ManifestError(InputError):
    """A manifest file or directory cannot be read or parsed."""


class InvalidValue(InputError, ValueError):
    """A value is malformed (a quantity, a document that does not match its schema, an unknown format).

    Also a ValueError, so code that parses numbers and quantities can treat both alike."""


class OwnershipRefused(InputError):
    """Objects with the names a run would apply exist and were not created by coldstart; nothing was written."""


class TargetRefused(InputError):
    """A cluster target was named that the profile does not allow (refused before any request)."""


class ClusterError(ColdstartError):
    """The Kubernetes API answered with an error; the message names the verb and the object."""

    def __init__(self, message: str, *, verb: str = "", obj: str = "", status: int | None = None,
                 retry_after: float | None = None, reason: str = ""):
        super().__init__(message)
        self.verb = verb
        self.obj = obj
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After), if it said
        self.reason = reason  # the Status reason (e.g. Conflict, TooManyRequests), if the server gave one


class NotFound(ClusterError):
    """404: the object (or its API) does not exist."""


class Conflict(ClusterError):
    """409: another field manager owns the field, or the object changed underneath us."""


class Forbidden(ClusterError):
    """401/403: the credentials may not do this."""


class Invalid(ClusterError):
    """400/422: the API server rejected the object as invalid."""


class ServerError(ClusterError):
    """5xx or a broken connection: the API server failed."""


class WatchExpired(ClusterError):
    """410 Gone: a watch's resourceVersion is older than the server keeps; relist and watch again."""


class RunbookFailed(ColdstartError):
    """A runbook's verdict is a failure: papermill stops the notebook there and `coldstart run` exits 1."""


class WaitFailed(ColdstartError):
    """A bounded wait ended without the condition: timed out or hit a terminal state."""

    def __init__(self, message: str, *, reason: str = "", obj: str = ""):
        super().__init__(message)
        self.reason = reason
        self.obj = obj


class InputRefused(InputError):
    """An input coldstart will not read as given, so it stays bounded in time and memory: not a regular file, over its
    size limit, not UTF-8 text, or a document nested too deep, self-referencing, too large once its YAML aliases
    expand, or holding a duplicate key. The message names the file (and line) and what to do instead."""
