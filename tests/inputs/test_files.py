"""The one bounded reader: regular files only (stat first, never opening a pipe), a size limit per kind of input,
strict UTF-8 with the byte offset, stdin with the same bound, and chunks that never split a character."""

from __future__ import annotations

import io
import os
import threading

import pytest

from coldstart.errors import InputError, InputRefused, ProfileError
from coldstart.inputs.files import (
    EVENTS,
    LOG,
    PROFILE,
    InputKind,
    check_regular_file,
    decode_utf8,
    iter_text,
    read_bytes,
    read_text,
)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_fifo_is_refused_from_its_stat_without_opening_it(tmp_path) -> None:
    fifo = tmp_path / "events.json"
    os.mkfifo(fifo)
    done: list[BaseException] = []

    def read() -> None:
        try:
            read_text(fifo, EVENTS)
        except BaseException as exc:  # noqa: BLE001  (handed to the test thread)
            done.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(done[0], InputRefused) and "is a FIFO (named pipe), not a regular file" in str(done[0])
    with pytest.raises(InputRefused, match="FIFO"):
        check_regular_file(fifo, "kubeconfig")


def test_devices_directories_and_missing_files(tmp_path) -> None:
    with pytest.raises(InputRefused, match="/dev/zero: is a character device, not a regular file; give the profile"):
        read_bytes("/dev/zero", PROFILE)
    with pytest.raises(InputRefused, match="is a directory"):
        check_regular_file(tmp_path, "kubeconfig")
    with pytest.raises(ProfileError, match="no such file"):
        read_bytes(tmp_path / "nope.yaml", PROFILE, error=ProfileError)
    assert check_regular_file(__file__).st_size > 0


def test_size_limits_per_kind_and_the_variable_that_raises_them(tmp_path, monkeypatch) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (3 * 2**20))
    small = InputKind("profile", 2)
    with pytest.raises(InputRefused) as err:
        read_bytes(big, small)
    assert str(err.value) == (f"{big}: 3.0 MB is over the 2 MB limit for a profile; set COLDSTART_MAX_INPUT_MB=7 "
                              "to read it anyway")
    monkeypatch.setenv("COLDSTART_MAX_INPUT_MB", "4")
    assert len(read_bytes(big, small)) == 3 * 2**20
    monkeypatch.setenv("COLDSTART_MAX_INPUT_MB", "lots")
    with pytest.raises(InputRefused, match="COLDSTART_MAX_INPUT_MB='lots' is not a size in MB"):
        read_bytes(big, small)
    monkeypatch.delenv("COLDSTART_MAX_INPUT_MB")
    assert PROFILE.limit == 16 * 2**20 and EVENTS.limit == 2**30 and LOG.limit > EVENTS.limit


def test_stdin_is_bounded_too(monkeypatch) -> None:
    monkeypatch.setenv("COLDSTART_MAX_INPUT_MB", "1")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x" * (2 * 2**20))))
    with pytest.raises(InputRefused, match="<stdin>: more than 1 MB is over the 1 MB limit"):
        read_bytes("-", EVENTS)
    monkeypatch.setattr("sys.stdin", io.StringIO("kind: Event\n"))  # a text stream (a test, a notebook)
    assert read_text("-", EVENTS) == "kind: Event\n"


def test_utf8_strictly_with_line_and_byte() -> None:
    with pytest.raises(InputRefused) as err:
        decode_utf8(b"ok\nstill ok\ncaf\xe9\n", "p.yaml")
    assert str(err.value).startswith("p.yaml:3: not UTF-8 text (byte 15 0xe9)")
    assert decode_utf8("\ufeffa: 1".encode(), "p.yaml") == "a: 1"


def test_chunks_never_split_a_character_and_bad_bytes_are_placed(tmp_path) -> None:
    text = ("é€𝄞 line\n" * 5000)
    path = tmp_path / "v.log"
    path.write_text(text, encoding="utf-8")
    chunks = list(iter_text(path, LOG, chunk=7))
    assert "".join(chunks) == text and len(chunks) > 1000
    path.write_bytes(text.encode() + b"tail \xff\n")
    offset = len(text.encode()) + 5
    with pytest.raises(InputRefused, match=rf"v.log:5001: not UTF-8 text \(byte {offset} 0xff\)"):
        for _ in iter_text(path, LOG, chunk=4096):
            pass


def test_errors_keep_the_callers_class(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_text(tmp_path / "missing.json", EVENTS)
