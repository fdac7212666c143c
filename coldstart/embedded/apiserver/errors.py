"""API errors as the real API server writes them: `Status` objects with reason, details and code.

Clients branch on `reason` and `code` (the official client maps `code` to `ApiException.status`), so the
embedded server builds every failure here, with the same wording kube-apiserver uses.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.store.resources import Resource
from coldstart.embedded.store.store import AlreadyExists, Conflict, Missing, StoreError


class ApiError(Exception):
    """An error answer: HTTP code, Status reason, message and optional details."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.metadata = metadata or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": self.metadata, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: Resource) -> str:
    """`pods`, `deployments.apps`: the group-qualified resource name messages use."""
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def _details(resource: Resource, name: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    details.update(extra)
    return details


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(resource)} "{name}" not found', _details(resource, name))


def already_exists(resource: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists', _details(resource, name))


def conflict(resource: Resource, name: str, why: str = "", what: str = "") -> ApiError:
    """409 Conflict on `what` (the qualified resource unless the message names the kind, as precondition failures
    do)."""
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what or qualified(resource)} "{name}": {why}',
                    _details(resource, name))


def precondition_failed(resource: Resource, name: str, field: str, wanted: Any, actual: Any) -> ApiError:
    """409 for a DELETE whose preconditions (uid, resourceVersion) the object no longer meets."""
    label, why = {"uid": ("UID", "deleted and then recreated")}.get(field, ("ResourceVersion", "modified"))
    return conflict(resource, name, f"the {label} in the precondition ({wanted}) does not match the {label} in record "
                    f"({actual}). The object might have been {why}", resource.kind)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(resource: Resource, name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{qualified(resource)} "{name}" is forbidden: {why}', _details(resource, name))


def invalid(resource: Resource, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 with one cause per field, worded like apimachinery's field.ErrorList."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: dict[str, Any] = {"name": name}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.kind
    details["causes"] = causes
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details)


def invalid_options(kind: str, field: str, reason: str, message: str) -> ApiError:
    """422 for a bad query option, as apimachinery validates CreateOptions, PatchOptions, ListOptions..."""
    return ApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
                    {"group": "meta.k8s.io", "kind": kind, "causes": [cause(reason, field, message)]})


OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions", "DELETE": "DeleteOptions",
                "GET": "ListOptions"}  # the options object a verb's query string decodes into


def cause(reason: str, field: str, message: str) -> dict[str, str]:
    """One entry of details.causes (reason like FieldValueRequired / FieldValueInvalid)."""
    return {"reason": reason, "message": message, "field": field}


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource "
                    f"({method})", {})


def unsupported_media(accepted: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: {accepted}")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def expired_continue(inconsistent: str) -> ApiError:
    """410 for a continue token older than the kept history; it carries a token to go on inconsistently."""
    return ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token results in "
                    "an inconsistent list - objects that were created, modified, or deleted between the time the "
                    "first chunk was returned and now may show up in the list.", metadata={"continue": inconsistent})


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def from_store(err: StoreError, resource: Resource, name: str) -> ApiError:
    """Map a store exception onto the Status the real server would send for it."""
    if isinstance(err, Missing):
        return not_found(resource, name)
    if isinstance(err, AlreadyExists):
        return already_exists(resource, name)
    if isinstance(err, Conflict):
        return conflict(resource, name)
    if err.status == 400:
        return bad_request(str(err))
    if err.status == 410:
        return gone(str(err))
    return ApiError(err.status, err.reason, str(err))
