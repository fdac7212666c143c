"""The embedded API server against a real kube-apiserver v1.35.4: the same requests through the official client
against both, the answers normalised and compared (tests/support/conformance.py). Prints one table row per
observation: case, what is compared, the real server's answer, the embedded one's, agree?.

Needs the real binaries (`make apiserver`). Starts its own real control planes (one as clusters run it, one with
the watch cache off for the expiry cases) and embedded clusters. Run from the repository root:

    .venv/bin/python benchmarks/conformance.py [--differences] [--case ID ...] [--width 70] [--json FILE]
                                               [--runs N] [--write-baseline]

`--write-baseline` runs every case three times and records each observation that agreed every time in
tests/live/conformance_baseline.json (the set tests/live/test_conformance.py holds the embedded server to): an
answer that depends on timing on either server does not belong there.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support and tools.apiserver

from coldstart.embedded.cluster import EmbeddedCluster  # noqa: E402
from coldstart.profiles import load_profile  # noqa: E402
from tests.support import conformance  # noqa: E402
from tests.support.realapi import control_plane, missing_reason  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--differences", action="store_true", help="only the rows that do not agree")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--width", type=int, default=70, help="cut cells longer than this (0: never)")
    parser.add_argument("--json", help="also write every row, uncut, to this file")
    parser.add_argument("--write-baseline", action="store_true",
                        help="record the rows that agree in every run as the baseline")
    parser.add_argument("--runs", type=int, help="run the cases this many times (default 1, 3 with --write-baseline);"
                                                 " a row agrees only if it agrees every time")
    args = parser.parse_args(argv)
    reason = missing_reason()
    if reason:
        print(f"conformance: {reason}", file=sys.stderr)
        return 2
    cases = [c for c in conformance.CASES if not args.case or c.id in args.case]
    started = time.monotonic()
    profile = load_profile("baseline")
    embedded_cluster = EmbeddedCluster(profile)
    expiring_cluster = EmbeddedCluster(profile, history=conformance.EMBEDDED_HISTORY)
    for cluster in (embedded_cluster, expiring_cluster):
        conformance.bare_simulation(cluster)  # before it starts: the same controllers as the real control plane
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp, \
            control_plane(Path(tmp) / "real", context="conformance-real") as real, \
            control_plane(Path(tmp) / "uncached", context="conformance-uncached", watch_cache=False) as uncached, \
            embedded_cluster, expiring_cluster:
        ready = time.monotonic()
        runs = []
        for _ in range(args.runs or (3 if args.write_baseline else 1)):
            runs.append(conformance.run([
                (conformance.real_side(real), conformance.embedded_side(embedded_cluster), False),
                (conformance.real_side(uncached, "real (watch cache off)"),
                 conformance.embedded_side(expiring_cluster, history=conformance.EMBEDDED_HISTORY), True),
            ], cases))
    rows = runs[-1]
    unstable = sorted({r.id for r in rows if r.agree} - set.intersection(
        *({r.id for r in run if r.agree} for run in runs)))
    print(conformance.table(rows, width=args.width or 10**9, only_differences=args.differences))
    print(f"servers up in {ready - started:.1f}s, cases in {(time.monotonic() - ready) / len(runs):.1f}s per run")
    if unstable:
        print(f"agreed in some of {len(runs)} runs only (left out of the baseline): {', '.join(unstable)}")
    if args.json:
        Path(args.json).write_text(json.dumps([{"case": r.case, "what": r.what, "real": r.real,
                                                "embedded": r.embedded, "agree": r.agree} for r in rows], indent=1))
    if args.write_baseline:
        if args.case:
            print("conformance: --write-baseline needs every case (no --case)", file=sys.stderr)
            return 2
        conformance.write_baseline(rows, leave_out=set(unstable))
        print(f"wrote {conformance.BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
