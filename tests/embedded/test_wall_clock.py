"""The embedded cluster never shows a client a time in its future (clock.py): however long it idles with probes
firing and its clock running fast, every timestamp and the `Date` header the API server returns are at or before
the wall clock at the time of the response. And the Table ages `kubectl get` prints are never `<invalid>`."""

from __future__ import annotations

import email.utils
import json
import re
import time
import urllib.request
from datetime import datetime

import pytest

from coldstart.embedded.apiserver.tables import human_duration
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import load_profile

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _stamps(node, out: list[float]) -> list[float]:
    if isinstance(node, dict):
        for value in node.values():
            _stamps(value, out)
    elif isinstance(node, list):
        for value in node:
            _stamps(value, out)
    elif isinstance(node, str) and STAMP.match(node):
        out.append(datetime.fromisoformat(node.replace("Z", "+00:00")).timestamp())
    return out


def _request(url: str, method: str = "GET", body: dict | None = None, accept: str = "application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json",
                                                                           "Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.headers, response.read(), time.time()


def _deployment() -> dict:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                           "command": ["sh", "-c", "echo up; sleep infinity"],
                                                           "readinessProbe": {"tcpSocket": {"port": 80},
                                                                              "periodSeconds": 1}}]}}}}


@pytest.mark.parametrize(("interactive", "poll"), [(True, 0.5), (False, 3.5)])
def test_no_timestamp_is_ever_ahead_of_the_wall_clock_over_a_long_idle_period(interactive: bool, poll: float):
    # A lead of 20 s instead of a day: at 4000 virtual seconds per wall second the clock would pass the wall clock
    # within milliseconds of idling, and probes every second keep it jumping. A library cluster's clock runs only
    # while its client is silent for 3 s; an interactive one (`cluster up`) whatever its clients do.
    with EmbeddedCluster(load_profile("baseline"), start_time=time.time() - 20, interactive=interactive) as cluster:
        _request(cluster.url + "/apis/apps/v1/namespaces/default/deployments", "POST", _deployment())
        checked = 0
        end = time.monotonic() + 8.0
        while time.monotonic() < end:
            time.sleep(poll)
            for path in ("/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/events",
                         "/apis/apps/v1/namespaces/default/deployments", "/api/v1/nodes"):
                headers, body, answered = _request(cluster.url + path)
                date = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
                stamps = _stamps(json.loads(body), [date])
                assert max(stamps) <= answered, (path, max(stamps) - answered)
                checked += len(stamps)
            pods = json.loads(_request(cluster.url + "/api/v1/namespaces/default/pods")[1])["items"]
            for pod in pods:
                if (pod.get("status") or {}).get("phase") == "Running":
                    _, log, answered = _request(cluster.url + f"/api/v1/namespaces/default/pods/"
                                                f"{pod['metadata']['name']}/log?timestamps=true")
                    for line in log.decode().splitlines():
                        when = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
                        assert when <= answered
        assert cluster.clock.now() <= time.time()
        assert cluster.clock.now() > time.time() - 20  # it did run: it spent its lead and caught up
        assert checked > 20
        table = json.loads(_request(cluster.url + "/api/v1/namespaces/default/pods",
                                    accept="application/json;as=Table;v=v1;g=meta.k8s.io")[1])
        ages = [row["cells"][4] for row in table["rows"]]
        assert ages and all(age != "<invalid>" and re.fullmatch(r"\d+[smhdy].*", age) for age in ages), ages


def test_a_fresh_cluster_starts_a_day_behind_the_wall_clock():
    cluster = EmbeddedCluster(load_profile("baseline"))
    assert 86_000 < time.time() - cluster.clock.now() < 86_500


def test_interactive_clock_settles_to_the_wall_clocks_pace():
    cluster = EmbeddedCluster(load_profile("baseline"), interactive=True)
    sim = cluster.simulation
    assert sim.settle == cluster.SETTLE_SECONDS
    sim.last_change = cluster.clock.now() - sim.settle - 1
    assert sim._settled()


def test_human_duration_is_apimachinerys():
    assert [human_duration(s) for s in (-5, -1, 5, 119, 150, 600, 7200, 4 * 3600 + 60, 30 * 3600, 3 * 86400 + 3600,
                                        30 * 86400)] == ["<invalid>", "0s", "5s", "119s", "2m30s", "10m", "120m",
                                                         "4h1m", "30h", "3d1h", "30d"]
