"""The embedded cluster's Kubernetes API server: real HTTP/1.1 on loopback, served from the shared Store.

The library talks to it with the official client exactly as it talks to GKE, so everything a client can
observe follows kube-apiserver: discovery, Status errors, resourceVersions, watch streams, patch types,
server-side apply, dry run, subresources, `Date` and `Audit-Id` headers. Transport: the stdlib
ThreadingHTTPServer (a thread per keep-alive connection), chosen because the simulation and the store
are thread-based (watches block on the store's condition variable) and because the official client, not
this server, is the bottleneck (see benchmarks/embedded_api.py for the figures).

Watches follow watch.py (cluster-time `timeoutSeconds`; without one, the server's own limit of
`min_request_timeout` to twice that, like kube-apiserver's --min-request-timeout, so long-lived watches
must resume from their last resourceVersion here as on GKE; bookmarks every `bookmark_interval`).

Every request is logged in `requests` (method, path, verb, resource key, namespace, name, subresource,
watch flag, query, status) for tests and benchmarks; `on_client_write` is called after each mutating
request, before its answer is sent (the simulated clock holds time still while a client is writing).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from coldstart.embedded.apiserver import discovery, openapi, subresources, tables
from coldstart.embedded.apiserver import errors as apierrors
from coldstart.embedded.apiserver.admission import Admission, Mutator
from coldstart.embedded.apiserver.calls import Call, Reply
from coldstart.embedded.apiserver.errors import ApiError
from coldstart.embedded.apiserver.routing import RequestRecord, Route, route, verb_of
from coldstart.embedded.apiserver.verbs import Verbs
from coldstart.embedded.apiserver.watch import WatchRequest
from coldstart.embedded.store.resources import Kinds
from coldstart.embedded.store.store import PodLogs, Store

CRD = "apiextensions.k8s.io/CustomResourceDefinition"

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class ApiServer:
    """A Kubernetes API server on loopback over `store` (see module docstring). Use as a context manager."""

    def __init__(self, store: Store, logs: PodLogs, host: str = "127.0.0.1", port: int = 0,
                 mutators: Iterable[Mutator] = (), on_client_write: Callable[[], Any] | None = None, *,
                 bookmark_interval: float = 60.0, min_request_timeout: float | None = 1800.0, profile: Any = None):
        self.store, self.logs, self.profile = store, logs, profile
        self.host, self.port = host, port
        self.on_client_write = on_client_write
        self.bookmark_interval = bookmark_interval
        self.min_request_timeout = min_request_timeout
        self.kinds = Kinds(getattr(profile, "cloud", ""), lambda: store.list(CRD)[0])
        self.admission = Admission(store, mutators)
        self.verbs = Verbs(store, self.admission)
        self.requests: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._streams = 0
        # open watch streams -> (wall monotonic time they were opened, their connection)
        self._watches: dict[int, tuple[float, socket.socket]] = {}
        self.last_request = time.monotonic()  # any client request, for the simulation's clock
        self.last_call = time.monotonic()  # any client request but a watch: the client was busy then
        for name in SYSTEM_NAMESPACES:
            if store.get("/Namespace", "", name) is None:
                store.create({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                              "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ApiServer is not started; call start() or use it as a context manager")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> ApiServer:
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="coldstart-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end open watch streams cleanly, then close idle keep-alive connections."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        deadline = time.monotonic() + 2.0
        while self._streams and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request log ---------------------------------------------------------------------------------
    def count(self, key: str | None = None, namespace: str | None = None, name: str | None = None,
              verb: str | None = None) -> int:
        """Requests matching every given filter (key like "/Pod" or "apps/Deployment")."""
        return sum(1 for r in self.requests if (key is None or r.key == key) and (verb is None or r.verb == verb)
                   and (namespace is None or r.namespace == namespace) and (name is None or r.name == name))

    def requests_per_object(self, verb: str | None = None) -> Counter[tuple[str | None, str | None, str]]:
        """How many requests named each object, keyed by (resource key, namespace, name)."""
        return Counter((r.key, r.namespace, r.name) for r in self.requests
                       if r.name is not None and (verb is None or r.verb == verb))

    # -- serving -------------------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, query: dict[str, str], headers: Any,
                 body: bytes) -> tuple[Reply | Iterator[bytes], Route | None]:
        if path == "/openapi/v2" or path.startswith("/openapi/v3"):
            return openapi.reply(path, self.kinds.served()), None
        target = route(path, self.kinds.find)
        if isinstance(target, Route):
            if target.watch or query.get("watch", "").lower() in ("true", "1"):
                target.watch = method == "GET"
            return self._resource(method, target, query, headers, body), target
        if method not in ("GET", "HEAD"):
            raise apierrors.method_not_allowed(method) if target else apierrors.not_found_path()
        return self._discovery(path, target, headers), None

    def _discovery(self, path: str, target: str | None, headers: Any) -> Reply:
        return discovery.reply(path, target, headers.get("Accept") or "", self.kinds.served(),
                               self.url.split("://", 1)[1])

    def _resource(self, method: str, r: Route, query: dict[str, str], headers: Any,
                  body: bytes) -> Reply | Iterator[bytes]:
        call = Call(method, r.resource, r.namespace, r.name, r.subresource, query, headers.get("Content-Type") or "",
                    body, headers.get("User-Agent") or "", accept=headers.get("Accept") or "")
        result = self._verb(method, r, call)
        if isinstance(result, Reply):
            result.warnings = call.warnings
            if method == "GET" and r.subresource is None and result.code == 200 and tables.wants_table(call.accept):
                result.body = self._table(r, call.query, result.body)
        return result

    def _table(self, r: Route, query: dict[str, str], body: dict) -> dict:
        """A get or list answer as the Table kubectl asked for."""
        include = query.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise apierrors.bad_request(f'includeObject: Unsupported value: "{include}"')
        items = body.get("items", [body])
        kind = {"kind": r.resource.kind, "apiVersion": r.resource.api_version}
        items = [{**kind, **o} for o in items]
        meta = {k: v for k, v in (body.get("metadata") or {}).items() if "items" in body and k != "remainingItemCount"}
        return tables.table(r.resource.key, items, self.store.now(), meta, include)

    def _verb(self, method: str, r: Route, call: Call) -> Reply | Iterator[bytes]:
        query, verbs, sub = call.query, self.verbs, r.subresource
        if r.resource.verbs == ("create",):  # SelfSubjectAccessReview: answered, never stored
            if method != "POST" or r.name is not None:
                raise apierrors.method_not_allowed(method)
            return subresources.access_review(call)
        if sub is None and method == "GET":
            if r.watch:
                watch = WatchRequest(self.store, r.resource, r.namespace, query, r.name, self._stopping,
                                     self.bookmark_interval, self.min_request_timeout)
                if tables.wants_table(call.accept):
                    watch.render = lambda obj: self._table(r, query, obj)
                return watch.stream()
            return verbs.get(call) if r.name else verbs.list(call)
        if sub is None and r.name is None:
            if method == "POST" and (r.namespace is not None or not r.resource.namespaced):
                return verbs.create(call)
            if method == "DELETE":
                return verbs.delete_collection(call)
        elif sub is None:
            handler = {"PUT": verbs.update, "PATCH": verbs.patch, "DELETE": verbs.delete}.get(method)
            if handler is not None:
                return handler(call)
        elif sub == "status":
            handler = {"GET": verbs.get, "PUT": verbs.update, "PATCH": verbs.patch}.get(method)
            if handler is not None:
                return handler(call)
        elif sub == "scale" and method in ("GET", "PUT", "PATCH"):
            return subresources.scale(verbs, call)
        elif sub == "log" and method == "GET":
            return subresources.logs(verbs, call, self.logs, self._stopping)
        elif sub == "binding" and method == "POST":
            return subresources.bind(verbs, call)
        elif sub == "eviction" and method == "POST":
            return subresources.evict(verbs, call, self.logs)
        raise apierrors.method_not_allowed(method)

    def _after_pod_delete(self, route_: Route | None, verb: str, status: int) -> None:
        if route_ is not None and route_.resource.key == "/Pod" and verb == "delete" and status == 200:
            self.logs.forget(route_.namespace or "", route_.name or "")

    def handle(self, h: _Handler, method: str) -> None:
        """Serve one HTTP request on handler h (called from the connection's thread)."""
        self.last_request = time.monotonic()
        split = urlsplit(h.path)
        path = unquote(split.path).rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if query.get("watch") not in ("true", "1"):
            self.last_call = self.last_request
        target: Route | None = None
        try:
            try:
                body = _read_body(h)
            except ValueError as exc:
                h.close_connection = True
                raise apierrors.bad_request(f"unreadable request body: {exc}") from exc
            result, target = self.dispatch(method, path, query, h.headers, body)
        except ApiError as exc:
            result = Reply(exc.code, exc.status())
            target = target or self._safe_route(path)
        except Exception as exc:  # a bug must still answer, never hang the client
            log.exception("embedded API server failed on %s %s", method, h.path)
            result = Reply(500, apierrors.internal(f"{type(exc).__name__}: {exc}").status())
            target = target or self._safe_route(path)
        watch = bool(target and target.watch)
        verb = verb_of(method, target, watch)
        if method in _MUTATING and self.on_client_write is not None:
            try:
                self.on_client_write()
            except Exception:
                log.exception("on_client_write failed")
        if isinstance(result, Reply):
            name = target.name if target else None
            if verb == "create" and name is None and isinstance(result.body, dict) and result.code < 300:
                name = (result.body.get("metadata") or {}).get("name")
            self._record(method, path, verb, target, name, watch, query, result.code)
            self._after_pod_delete(target, verb, result.code)
            payload = result.body
            if not isinstance(payload, bytes | str):
                payload = json.dumps(payload, separators=(",", ":")).encode()
            elif isinstance(payload, str):
                payload = payload.encode()
            h.wfile.write(self._head(h, result.code, result.content_type, len(payload), result.warnings) + payload)
            return
        self._record(method, path, verb, target, target.name if target else None, watch, query, 200)
        self._stream(h, result, watch)

    def _record(self, method: str, path: str, verb: str, target: Route | None, name: str | None, watch: bool,
                query: dict[str, str], status: int) -> None:
        self.requests.append(RequestRecord(method, path, verb, target.resource.key if target else None,
                                           target.namespace if target else None, name,
                                           target.subresource if target else None, watch, query, status))

    def _head(self, h: _Handler, code: int, content_type: str, length: int | None,
              warnings: Iterable[str] = ()) -> bytes:
        reason = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
        lines = [f"HTTP/1.1 {code} {reason}", f"Audit-Id: {uuid.uuid4()}", "Cache-Control: no-cache, private",
                 f"Content-Type: {content_type}", f"Date: {email.utils.formatdate(self.store.now(), usegmt=True)}"]
        lines += [f'Warning: 299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings]
        lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
        if h.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _stream(self, h: _Handler, chunks: Iterator[bytes], watch: bool) -> None:
        content_type = "application/json" if watch else "text/plain"
        with self._conns_lock:
            self._streams += 1
            if watch:
                self._watches[id(chunks)] = (time.monotonic(), h.connection)
        try:
            h.wfile.write(self._head(h, 200, content_type, None))
            checked = time.monotonic()
            for chunk in chunks:
                if chunk:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif time.monotonic() - checked > 0.25:
                    checked = time.monotonic()
                    if _peer_closed(h.connection):
                        h.close_connection = True
                        return
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            h.close_connection = True
        except Exception as exc:
            log.exception("embedded API server stream failed")
            if watch:
                status = apierrors.internal(f"{type(exc).__name__}: {exc}").status()
                event = json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"
                with contextlib.suppress(OSError):
                    h.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
            h.close_connection = True
        finally:
            with self._conns_lock:
                self._streams -= 1
                self._watches.pop(id(chunks), None)
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def watching_since(self, moment: float) -> bool:
        """Is a watch open that the client opened after `moment` (wall monotonic)? That client is waiting
        for the cluster to do something, which is when the simulation's clock may run. A watch whose client has
        hung up (it saw what it waited for and went on) no longer counts, though its stream notices only later:
        otherwise the clock would run on while that client works before its next request."""
        with self._conns_lock:
            watches = list(self._watches.values())
        return any(opened > moment and not _peer_closed(conn) for opened, conn in watches)

    def _safe_route(self, path: str) -> Route | None:
        target = route(path, self.kinds.find)
        return target if isinstance(target, Route) else None

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if (h.headers.get("Transfer-Encoding") or "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _peer_closed(conn: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.api._track(self.connection, True)

    def finish(self) -> None:
        self.server.api._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def _serve(self) -> None:
        try:
            self.server.api.handle(self, self.command)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], api: ApiServer):
        self.api = api
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is routine (a stopped watch); anything else is logged."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)
