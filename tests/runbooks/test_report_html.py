"""The rollout report as a browser draws it: headless Chromium opens the HTML `coldstart run` wrote and we
ask it, over the DevTools protocol, what it rendered (title, verdict, invariant table rows, the waterfall).

A report can hold every table and image and still show nothing (broken markup, an undecodable PNG, CSS
that hides outputs); only a browser can say. Skips when Chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from coldstart.runbooks.execute import run_notebook

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT = 60.0

# Evaluated in the page once its DOM is parsed and every image has decoded (or failed to).
PROBE = r"""
(async () => {
  if (document.readyState === "loading") {
    await new Promise(resolve => addEventListener("DOMContentLoaded", resolve, {once: true}));
  }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  const shown = el => el.getClientRects().length > 0 && el.getBoundingClientRect().width > 0
    && getComputedStyle(el).visibility !== "hidden";
  const text = el => el.textContent.replace(/\s+/g, " ").trim();
  const header = t => t.tHead ? [...t.tHead.rows[0].cells].map(text).join("|") : "";
  const invariantTables = [...document.querySelectorAll("table")]
    .filter(t => header(t) === "lever|invariant|status|object|container|message");
  const rows = invariantTables.flatMap(t => [...t.tBodies].flatMap(b => [...b.rows]));
  const heading = [...document.querySelectorAll("h1, h2, h3")].find(h => text(h).startsWith("Where the time went"));
  const after = heading ? [...document.images].filter(
    img => heading.compareDocumentPosition(img) & Node.DOCUMENT_POSITION_FOLLOWING) : [];
  const waterfall = after[0];
  const firstOutput = document.querySelector(".jp-OutputArea-output");
  const h1 = document.querySelector("h1");
  return JSON.stringify({
    href: location.href,
    title: document.title,
    h1: h1 && shown(h1) ? text(h1) : null,
    verdict: firstOutput && shown(firstOutput) ? text(firstOutput) : null,
    invariantTables: invariantTables.filter(shown).length,
    rows: rows.length,
    renderedRows: rows.filter(r => shown(r) && r.getBoundingClientRect().height > 0).length,
    images: document.images.length,
    renderedImages: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
    waterfall: waterfall ? {complete: waterfall.complete, naturalWidth: waterfall.naturalWidth,
                            naturalHeight: waterfall.naturalHeight, shown: shown(waterfall),
                            width: waterfall.getBoundingClientRect().width} : null,
    visibleCode: [...document.querySelectorAll(".jp-InputArea-editor")].filter(shown)
      .map(e => e.closest(".jp-Cell").className),
    verdictColor: (() => { const v = document.querySelector(".coldstart-verdict strong");
                           return v ? getComputedStyle(v).color : null; })(),
    verdictFirst: (() => { const v = document.querySelector(".coldstart-verdict");
                           return !!v && !!firstOutput && firstOutput.contains(v); })(),
    traceback: document.body.innerText.includes("Traceback"),
    banner: document.body.innerText.includes("An Exception was encountered"),
  });
})()
"""


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it), so the HTML "
                "report cannot be rendered headless")


def _devtools_port(profile_dir: Path, proc: subprocess.Popen[bytes], log: Path) -> int:
    """Chromium writes the port it chose (--remote-debugging-port=0) into DevToolsActivePort."""
    port_file = profile_dir / "DevToolsActivePort"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chromium exited with {proc.returncode}: {log.read_text()[-2000:]}")
        lines = port_file.read_text().split() if port_file.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)
    pytest.fail(f"chromium did not open its DevTools port in {TIMEOUT:.0f}s: {log.read_text()[-2000:]}")


async def _probe(port: int, url: str) -> dict[str, Any]:
    """Open a tab, navigate it to the report, evaluate PROBE there and return its result."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.put(f"http://127.0.0.1:{port}/json/new?about:blank") as response:
            target = await response.json(content_type=None)
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 1_000_000))

            async def call(method: str, **params: Any) -> dict[str, Any]:
                ident = next(ids)
                await ws.send_json({"id": ident, "method": method, "params": params})
                while True:
                    message = await ws.receive_json()
                    if message.get("id") == ident:
                        if "error" in message:
                            raise AssertionError(f"{method}: {message['error']}")
                        return message["result"]

            navigated = await call("Page.navigate", url=url)
            assert not navigated.get("errorText"), f"chromium could not open {url}: {navigated['errorText']}"
            result = await call("Runtime.evaluate", expression=PROBE, awaitPromise=True, returnByValue=True)
            if "exceptionDetails" in result:
                raise AssertionError(f"the probe failed in the page: {result['exceptionDetails']}")
            return json.loads(result["result"]["value"])


def _render(html: Path, tmp: Path) -> dict[str, Any]:
    """What Chromium rendered of a report file."""
    browser = _browser()
    profile_dir = tmp / "chromium-profile"
    log = tmp / "chromium.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-port=0",
                                 "about:blank"], stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    try:
        port = _devtools_port(profile_dir, proc, log)
        facts: dict[str, Any] = asyncio.run(asyncio.wait_for(_probe(port, html.resolve().as_uri()), TIMEOUT))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    facts["expected_href"] = html.resolve().as_uri()
    return facts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Chromium rendered of a fresh baseline rollout report."""
    _browser()
    result = run_notebook("rollout", profile="baseline", cluster="embedded",
                          out_root=tmp_path_factory.mktemp("report"))
    assert result.ok, f"the rollout failed, so its report proves nothing: {result.error}"
    return _render(result.html, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Chromium rendered of the report of a failing rollout: a 64Mi /dev/shm and utilization 0.92."""
    _browser()
    tmp = tmp_path_factory.mktemp("failing")
    profile = tmp / "broken.yaml"
    profile.write_text("extends: baseline\nname: broken\nruntime: {shm_size: 64Mi, gpu_memory_utilization: 0.92}\n")
    result = run_notebook("rollout", profile=str(profile), cluster="embedded", out_root=tmp,
                          params={"compare_naive": "False"})
    assert not result.ok and result.error and "verdict FAIL" in result.error, result.error
    return _render(result.html, tmp_path_factory.mktemp("chromium-failing"))


def test_a_failing_run_reads_as_a_verdict_not_a_crash(failed: dict[str, Any]):
    assert not failed["banner"] and not failed["traceback"], "papermill's banner or a traceback in the report"
    assert failed["verdictFirst"], "the verdict is not the first output"
    assert failed["verdict"].startswith("Verdict: FAIL."), failed["verdict"]
    assert failed["verdictColor"] == "rgb(183, 28, 28)", failed["verdictColor"]  # red
    verdict = failed["verdict"]
    assert "shm-memory-16gi" in verdict and "gpu-mem-util-range" in verdict
    assert "vLLM cuda_oom" in verdict and "torch.OutOfMemoryError" in verdict  # the root cause, from the log
    assert "--gpu-memory-utilization between 0.6 and 0.8" in verdict  # and the fix


def test_the_report_is_what_chromium_opened(rendered: dict[str, Any]):
    assert rendered["href"] == rendered["expected_href"]


def test_title_renders(rendered: dict[str, Any]):
    assert rendered["title"] == "rollout"
    assert rendered["h1"] and rendered["h1"].startswith("Rollout: all four levers")


def test_verdict_renders_at_the_top(rendered: dict[str, Any]):
    assert rendered["verdict"] and rendered["verdict"].startswith("Verdict: PASS."), rendered["verdict"]


def test_invariant_table_rows_render(rendered: dict[str, Any]):
    assert rendered["invariantTables"] >= 1, "no invariant table is visible"
    assert rendered["rows"] > 0
    assert rendered["renderedRows"] == rendered["rows"], "some invariant rows are not drawn"


def test_waterfall_renders(rendered: dict[str, Any]):
    waterfall = rendered["waterfall"]
    assert waterfall, "no image after 'Where the time went'"
    assert waterfall["complete"] and waterfall["naturalWidth"] > 100 and waterfall["naturalHeight"] > 50, waterfall
    assert waterfall["shown"] and waterfall["width"] > 100, waterfall
    assert rendered["images"] >= 2 and rendered["renderedImages"] == rendered["images"], "every figure decodes"


def test_only_parameters_code_is_visible(rendered: dict[str, Any]):
    visible = rendered["visibleCode"]
    assert len(visible) == 2, visible
    assert any("celltag_parameters" in c.split() for c in visible)
    assert any("celltag_injected-parameters" in c.split() for c in visible)
