"""An HTTP proxy in front of an API server that injects the faults a real control plane has: load shedding
(429 with Retry-After), server errors (500), optimistic-concurrency conflicts (409), expired watches (410 in
the stream), dropped watch streams, and an API server restart (every connection cut, nothing answered for a
moment). Everything else is forwarded byte for byte, watch streams line by line.

A fault is a rule: which requests it matches (method, a path fragment, watch or not) and how many times it
fires; rules fire in order on the matching requests. The proxy records what it did, so a test can assert that
each fault was met.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Fault:
    kind: str  # "429" | "500" | "409" | "410-stream" | "drop-stream" | "restart"
    method: str = "GET"
    path: str = ""  # a fragment the path must contain
    watch: bool | None = None  # only watch requests (True), only non-watch (False), either (None)
    times: int = 1
    after: int = 0  # let this many matching requests through first
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        is_watch = "watch=true" in path or "watch=1" in path
        return (method == self.method and self.path in path
                and (self.watch is None or self.watch == is_watch))


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    restart_seconds: float = 0.5
    _down_until: float = 0.0

    def __post_init__(self) -> None:
        target = urlsplit(self.upstream)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_all()

    def pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fired < fault.times and fault.matches(method, path):
                    fault.seen += 1
                    if fault.seen > fault.after:
                        fault.fired += 1
                        self.log.append(f"{fault.kind} {method} {path}")
                        return fault
        return None

    def restart(self) -> None:
        """Cut every connection and answer nothing for `restart_seconds`, as a restarting API server does."""
        self._down_until = time.monotonic() + self.restart_seconds
        self._server.close_all()

    def down(self) -> bool:
        return time.monotonic() < self._down_until


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def close_all(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
            self.connections.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.down():
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            fault = proxy.pick(self.command, self.path)
            if fault is not None and fault.kind == "restart":
                proxy.restart()
                return
            if fault is not None and fault.kind in ("429", "500", "409"):
                code = int(fault.kind)
                reason = {429: "TooManyRequests", 500: "InternalError", 409: "Conflict"}[code]
                message = {429: "the server is busy; try again", 500: "etcdserver: request timed out",
                           409: "Operation cannot be fulfilled: the object has been modified; please apply your "
                                "changes to the latest version and try again"}[code]
                self._answer(code, _status(code, reason, message), {"Retry-After": "1"} if code == 429 else None)
                return
            self._forward(body, fault)

        def _forward(self, body: bytes, fault: Fault | None) -> None:
            upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=600)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            resp = upstream.getresponse()
            self.send_response(resp.status)
            streaming = resp.getheader("Transfer-Encoding", "").lower() == "chunked" or "watch=" in self.path
            for key, value in resp.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            if not streaming:
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            lines = 0
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    lines += 1
                    if fault is not None and fault.kind == "410-stream" and lines == 1:
                        gone = {"type": "ERROR", "object": json.loads(_status(410, "Expired", "too old resource "
                                                                                "version"))}
                        self._chunk(json.dumps(gone).encode() + b"\n")
                        break
                    if fault is not None and fault.kind == "drop-stream" and lines == 2:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._chunk(line)
                self._chunk(b"")
            except OSError:
                self.close_connection = True
            finally:
                upstream.close()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    return Handler
