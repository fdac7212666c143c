"""Requests as they go over the wire, through the official client's own transport (`ApiClient.param_serialize`
+ `call_api`: its auth, TLS and connection pool), with the answer kept raw: status, headers (`Warning` among
them) and the JSON body exactly as the server wrote it. The typed API classes drop unknown fields and raise on
non-2xx, which hides exactly what a comparison of two servers needs to see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client as k8s

JSON = "application/json"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass
class Reply:
    status: int
    body: Any  # the decoded JSON, or the text when it is not JSON
    headers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


def _warnings(headers: Any) -> list[str]:
    """The `Warning` headers' texts (RFC 7234: `299 - "text"`), in order."""
    raw = headers.getlist("Warning") if hasattr(headers, "getlist") else [headers.get("Warning", "")]
    out = []
    for value in raw:
        for part in filter(None, (value or "").split(", 299")):
            text = part.split(" - ", 1)[-1].strip()
            out.append(text[1:-1] if text.startswith('"') and text.endswith('"') else text)
    return out


def call(api: k8s.ApiClient, method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None, *,
         content_type: str = JSON, accept: str = JSON, timeout: float = 30.0) -> Reply:
    """One request; any status comes back as a Reply (never raised). A `bytes` body is sent as it is."""
    params = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items()
              if v is not None]
    headers = {"Accept": accept}
    if body is not None:
        headers["Content-Type"] = content_type
    m, url, header_params, data, post = api.param_serialize(method, path, query_params=params, header_params=headers,
                                                             body=None if isinstance(body, bytes) else body,
                                                             auth_settings=["BearerToken"])
    if isinstance(body, bytes):  # sent as it is (a JSON text json.dumps cannot write: a key twice), same pool
        resp = api.rest_client.pool_manager.request(m, url, body=body, headers=header_params, preload_content=False,
                                                    timeout=urllib3.Timeout(connect=10, read=timeout))
        raw = resp.data
        return _reply(resp.status, raw, resp.headers)
    resp = api.call_api(m, url, header_params, data, post, _request_timeout=(10, timeout))
    return _reply(resp.status, resp.read(), resp.headers)


def _reply(status: int, raw: Any, headers: Any) -> Reply:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        decoded: Any = json.loads(text) if text else None
    except ValueError:
        decoded = text
    return Reply(status, decoded, {k.lower(): v for k, v in headers.items()}, _warnings(headers))


def watch(api: k8s.ApiClient, path: str, query: Mapping[str, Any], *, wall_limit: float | None = None
          ) -> Iterator[dict[str, Any]]:
    """The events of one watch request as the server sends them; the stream ends when the server ends it
    (timeoutSeconds) or the caller stops iterating. An HTTP error before the stream is one synthetic ERROR event
    carrying the Status, so callers see both forms of a refused watch."""
    params = [("watch", "true"), *((k, str(v).lower() if isinstance(v, bool) else str(v))
                                    for k, v in query.items() if v is not None)]
    m, url, header_params, data, post = api.param_serialize("GET", path, query_params=params,
                                                             header_params={"Accept": JSON},
                                                             auth_settings=["BearerToken"])
    seconds = float(query.get("timeoutSeconds") or 60)
    resp = api.call_api(m, url, header_params, data, post, _request_timeout=(10, wall_limit or seconds + 30))
    raw = resp.response
    try:
        if resp.status != 200:
            body = raw.read()
            yield {"type": "HTTP", "status": resp.status, "object": json.loads(body or b"null")}
            return
        buffer = b""
        for chunk in raw.stream(64 * 1024, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)
    finally:
        raw.close()  # closed before it goes back to the pool: a half-read stream must not be reused
        raw.release_conn()
