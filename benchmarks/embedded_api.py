"""Throughput of the embedded API server against kmock's KubernetesEmulator, through the official client.

Prints figures (not a test): pod creates, lists and one watch against each server, then how the embedded
server holds with 200 pods and 20,000 Event objects in the store. Run:

    .venv/bin/python benchmarks/embedded_api.py [--pods 300] [--events 20000] [--skip-kmock]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import kmock
from kubernetes import client, watch

from coldstart.embedded.apiserver.server import ApiServer
from coldstart.embedded.store.store import PodLogs, Store


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                             "labels": {"app": "vllm"}},
            "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.8.5"}]}}


def event(n: int) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"vllm-0.{n:08x}", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": f"vllm-{n % 200}", "namespace": "default"},
            "reason": "Pulling", "message": "Pulling image \"vllm/vllm-openai:v0.8.5\"", "type": "Normal",
            "source": {"component": "kubelet"}, "count": 1}


class KmockInThread:
    """kmock's KubernetesEmulator served by kmock.Server on its own event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.stopping = asyncio.Event()
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
            handler.resources["v1/pods"] = kmock.ResourceInfo(kind="Pod", namespaced=True)
            self.handler, self.url = handler, str(server.url).rstrip("/")
            self.ready.set()
            await self.stopping.wait()

    def __enter__(self) -> KmockInThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} req/s ({n} in {seconds:.2f} s)"


def timed(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def run_suite(label: str, url: str, pods: int, lists: int, budget: float) -> None:
    """Creates (reported per 100 so a slowdown shows), lists and one watch from version 0."""
    v1 = client.CoreV1Api(client.ApiClient(client.Configuration(host=url)))
    print(f"\n== {label} ({url})")
    done, start, block = 0, time.perf_counter(), time.perf_counter()
    blocks = []
    while done < pods:
        v1.create_namespaced_pod("default", pod(f"p{done}"))
        done += 1
        if done % 100 == 0:
            blocks.append(100 / (time.perf_counter() - block))
            block = time.perf_counter()
        if time.perf_counter() - start > budget:
            print(f"  stopped after {done} creates: over the {budget:.0f} s budget")
            break
    print(f"  create   {rate(done, time.perf_counter() - start)}; per block of 100: "
          + ", ".join(f"{b:.0f}/s" for b in blocks))
    seconds = timed(lambda: v1.list_namespaced_pod("default"), lists)
    print(f"  list     {rate(lists, seconds)} of {done} pods each")
    seconds = timed(lambda: v1.read_namespaced_pod("p0", "default"), lists)
    print(f"  get      {rate(lists, seconds)}")
    start, seen, w = time.perf_counter(), 0, watch.Watch()
    for _ in w.stream(v1.list_namespaced_pod, "default", resource_version="0", _request_timeout=30):
        seen += 1
        if seen == done:
            w.stop()
    print(f"  watch    {seen} ADDED events in {time.perf_counter() - start:.2f} s")


def raw_gets(url: str, n: int) -> float:
    """Server cost without the client: keep-alive GETs over http.client."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    start = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/api/v1/namespaces/default/pods/p0")
        conn.getresponse().read()
    conn.close()
    return time.perf_counter() - start


def transport_ceiling(n: int = 3000) -> None:
    """Why the stdlib threading server: a fixed 100-byte JSON answer, keep-alive, no Kubernetes logic at all."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiohttp import web

    answer = b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p0"},"spec":{"containers":[]}}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer)

    class Fixed(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self.wfile.write(head + answer)

        def log_message(self, *args: object) -> None:
            return

    stdlib = ThreadingHTTPServer(("127.0.0.1", 0), Fixed)
    threading.Thread(target=stdlib.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{stdlib.server_address[1]}"
    print("\n== transport ceiling (fixed answer, http.client keep-alive)")
    print(f"  stdlib ThreadingHTTPServer {rate(n, raw_gets(url, n))}")
    stdlib.shutdown()

    loop, started = asyncio.new_event_loop(), threading.Event()
    box: dict[str, object] = {}

    async def fixed(_: web.Request) -> web.Response:
        return web.Response(body=answer, content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", fixed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["port"], box["runner"] = runner.addresses[0][1], runner
        started.set()

    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    started.wait(10)
    aio_url = f"http://127.0.0.1:{box['port']}"
    print(f"  aiohttp (own loop thread)  {rate(n, raw_gets(aio_url, n))}")
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)


def at_scale(pods: int, events: int) -> None:
    store = Store()
    with ApiServer(store, PodLogs()) as api:
        v1 = client.CoreV1Api(client.ApiClient(client.Configuration(host=api.url)))
        print(f"\n== ApiServer at scale: {pods} pods and {events} Event objects")
        start = time.perf_counter()
        for n in range(pods):
            v1.create_namespaced_pod("default", pod(f"vllm-{n}"))
        print(f"  pod create          {rate(pods, time.perf_counter() - start)}")
        start = time.perf_counter()
        for n in range(events):
            v1.create_namespaced_event("default", event(n))
        print(f"  event create (HTTP) {rate(events, time.perf_counter() - start)}")
        start = time.perf_counter()
        for n in range(100):
            v1.create_namespaced_pod("default", pod(f"late-{n}"))
        print(f"  pod create after    {rate(100, time.perf_counter() - start)}")
        print(f"  pod get             {rate(500, timed(lambda: v1.read_namespaced_pod('vllm-0', 'default'), 500))}")
        print(f"  raw get (no client) {rate(2000, raw_gets(api.url, 2000))}")
        print(f"  pod list ({pods + 100})    {rate(50, timed(lambda: v1.list_namespaced_pod('default'), 50))}")
        sel = "involvedObject.name=vllm-7"
        seconds = timed(lambda: v1.list_namespaced_event("default", field_selector=sel), 20)
        print(f"  event list by field {rate(20, seconds)} ({events // 200} of {events} match)")
        start = time.perf_counter()
        items = v1.list_namespaced_event("default").items
        print(f"  event list (all)    {len(items)} items in {time.perf_counter() - start:.2f} s (typed client)")
        start = time.perf_counter()
        body = v1.list_namespaced_event("default", _preload_content=False).read()
        print(f"  event list raw      {len(body) / 1e6:.1f} MB in {time.perf_counter() - start:.2f} s (no decoding)")
        start, seen, w = time.perf_counter(), 0, watch.Watch()
        for _ in w.stream(v1.list_namespaced_event, "default", resource_version="1", _request_timeout=60):
            seen += 1
            if seen == events:
                w.stop()
        print(f"  watch from rv 1     {seen} events in {time.perf_counter() - start:.2f} s (typed client)")
        raw = v1.list_namespaced_event("default", watch=True, resource_version="1", timeout_seconds=1,
                                       _preload_content=False)
        start, seen = time.perf_counter(), 0
        for _ in watch.watch.iter_resp_lines(raw):
            seen += 1
            if seen == events:
                break
        raw.close()
        print(f"  watch raw lines     {seen} events in {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--lists", type=int, default=50)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kmock-budget", type=float, default=60.0, help="seconds allowed for kmock's creates")
    parser.add_argument("--skip-kmock", action="store_true")
    args = parser.parse_args()
    if not args.skip_kmock:
        with KmockInThread() as km:
            run_suite("kmock KubernetesEmulator", km.url, args.pods, args.lists, args.kmock_budget)
    with ApiServer(Store(), PodLogs()) as api:
        run_suite("coldstart ApiServer", api.url, args.pods, args.lists, 600.0)
    transport_ceiling()
    at_scale(200, args.events)


if __name__ == "__main__":
    main()
