"""The rollout's second question, a scale from zero with everything warm, has one answer however slow the client.

The first start preempts the buffer's pause pod; its replacement goes pending and the autoscaler adds a node for
it, whose pre-pull starts from nothing. How much cluster time passes between "scaled to zero" and the next
scale-up depends on the client (on the embedded cluster, on the wall clock: a CI run under load once scaled up
20 s after, met the new node mid-pull, and waited 112 s for the image). The runbook waits for the steady state
first (buffer placed, images on every node the pre-pull runs on), so the warm start is the same at any delay.
"""

from __future__ import annotations

import pytest

from coldstart.live.wait import Progress, WaitFailed, wait_for
from coldstart.profiles import load_profile
from coldstart.runbooks import runbook


@pytest.mark.parametrize("idle_seconds", [0, 20, 100])
def test_the_warm_start_does_not_depend_on_when_the_client_scales_up(monkeypatch, idle_seconds):
    scale = runbook._wait_replicas

    def slow_client(conn, count, timeout, what, progress):
        scale(conn, count, timeout, what, progress)
        if count == 0 and idle_seconds:  # the client dawdles: cluster time runs on for idle_seconds
            with pytest.raises(WaitFailed):
                wait_for(conn, "v1", "Pod", conn.profile.namespace, label_selector="coldstart-test=nothing",
                         done=lambda objects: (0, 1), timeout=idle_seconds, what="a dawdling client")

    monkeypatch.setattr(runbook, "_wait_replicas", slow_client)
    outcome = runbook.rollout(load_profile("baseline"))
    assert outcome.ready and outcome.warm_up_failure is None, outcome.failure or outcome.warm_up_failure
    first, warm = outcome.replicas
    assert "image_pull" not in warm.pod.phases, f"the warm start pulled on {warm.pod.node}"
    assert warm.time_to_ready is not None and warm.time_to_ready < 0.8 * first.time_to_ready


def test_the_progress_printer_is_silent_for_a_wait_with_nothing_to_wait_for(capsys):
    show = runbook.printer()
    show(Progress("scaled to zero", 0.0, 720, 1, 1))  # done at the first look: nothing was waited on
    show(Progress("images pre-pulled", 0.0, 720, 1, 2))
    show(Progress("images pre-pulled", 30.0, 720, 1, 2))  # same count, under a minute: no new line
    show(Progress("images pre-pulled", 157.0, 720, 2, 2))
    assert capsys.readouterr().out.splitlines() == ["images pre-pulled: 1/2 after 0s of 720s",
                                                    "images pre-pulled: 2/2 after 157s of 720s"]
