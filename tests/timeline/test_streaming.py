"""Large inputs in bounded memory: a vLLM log read in chunks gives exactly what the whole text gives, wherever the
chunks are cut; the CLI streams log files; a line without an end is read in pieces."""

from __future__ import annotations

import random

import pytest

from benchmarks.timeline import _log
from coldstart.timeline.inputs import timeline_from_files
from coldstart.timeline.sources.vllm_log import MAX_LINE, parse_vllm_log, parse_vllm_log_chunks
from tests.conftest import FIXTURES


def _texts() -> dict[str, str]:
    texts = {p.name: p.read_text() for p in sorted((FIXTURES / "vllm_logs").glob("*.log"))}
    texts["generated"] = _log(random.Random(3), 100.0, 300.0)
    texts["traceback after 600 lines"] = ("2025-06-02T10:00:00Z INFO 06-02 10:00:00 [api_server.py:1] vLLM API server "
                                          "version 0.10.1\n" + "no stamp here\n" * 600
                                          + "Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of "
                                          "memory\n")
    return texts


TEXTS = _texts()


_REAL_LOGS = [] if (FIXTURES / "vllm_logs").exists() else [pytest.param("real vLLM logs", marks=pytest.mark.skip(
    reason=f"{FIXTURES / 'vllm_logs'} not present: the real logs live beside the checkout in ../shared/"))]


@pytest.mark.parametrize("name", [*TEXTS, *_REAL_LOGS])
@pytest.mark.parametrize("size", [1, 7, 100, 4096])
def test_chunks_read_like_the_whole_text(name: str, size: int) -> None:
    text = TEXTS[name]
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    assert parse_vllm_log_chunks(pieces, name="x").to_json("x") == parse_vllm_log(text, name="x").to_json("x")


def test_the_cli_path_streams_files(tmp_path) -> None:
    text = TEXTS["generated"] * 3
    path = tmp_path / "vllm-0.log"
    path.write_text(text)
    (_, log), = timeline_from_files(logs=[str(path)]).logs
    assert log.lines == text.count("\n") and log.to_json("x") == parse_vllm_log(text, name=str(path)).to_json("x")


def test_a_line_without_an_end_is_read_in_pieces() -> None:
    endless = "x" * (3 * MAX_LINE) + " Application startup complete.\n"
    log = parse_vllm_log_chunks([endless[i:i + 65536] for i in range(0, len(endless), 65536)])
    assert log.lines >= 3
