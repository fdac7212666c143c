"""`coldstart` command line: render, verify, timeline, run, rollout, cleanup, rbac.

Exit codes: 0 success, 1 a check failed (an invariant, a budget, a wait), 2 bad input (nothing applied).
Errors print one line naming what to fix, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from coldstart import __version__
from coldstart.errors import ColdstartError, InputError
from coldstart.profiles import load_profile, shipped_profiles

# Each command imports its layer when it runs (the function-level imports below): `coldstart verify` should not
# pay for the kubernetes client, papermill or the embedded cluster, which take most of a second to import.


def cmd_render(args: argparse.Namespace) -> int:
    from coldstart.levers.render import render, to_yaml, write_rendered  # start-up cost (see above)

    profile = load_profile(args.profile)
    rendered = render(profile, serving=args.serving)
    if args.out:
        for path in write_rendered(rendered, args.out):
            print(path)
    else:
        sys.stdout.write(to_yaml([m for docs in rendered.values() for m in docs]))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from coldstart.verify import format_findings, summarize, verify_paths  # start-up cost (see above)

    profile = load_profile(args.profile) if args.profile else None
    findings = verify_paths(args.paths, profile=profile)
    sys.stdout.write(format_findings(findings, args.format))
    return 1 if summarize(findings)["fail"] else 0


def cmd_timeline(args: argparse.Namespace) -> int:
    from coldstart.timeline.inputs import timeline_from_files  # start-up cost (see above)
    from coldstart.timeline.text import format_timeline  # start-up cost (see above)

    result = timeline_from_files(events=args.events, pods=args.pods, logs=args.log)
    sys.stdout.write(format_timeline(result, args.format))
    for warning in result.warnings:  # what was skipped or left out of the phases, also when stdout is JSON
        print(f"coldstart: warning: {warning}", file=sys.stderr)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    from coldstart.live.cluster import Cluster  # start-up cost: the kubernetes client
    from coldstart.live.ownership import validate_run_id  # start-up cost (see above)

    validate_run_id(args.run_id)  # before anything else: a mistyped id must not reach a cluster
    profile = load_profile(args.profile)
    with Cluster.connect(args.cluster, profile=profile, run_id=args.run_id) as cluster:
        for obj in cluster.delete_run():
            print(f"deleted {obj}")
    return 0


def _shown(path: Path) -> str:
    """A path as the user can paste it: relative when it lies under the working directory."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_run(args: argparse.Namespace) -> int:
    from coldstart.runbooks.execute import run_notebook  # start-up cost: papermill, nbconvert

    params = dict(args.param or [])
    if args.adopt:
        params["adopt"] = "True"
    result = run_notebook(args.notebook, profile=args.profile, cluster=args.cluster, params=params,
                          out_root=args.out, verbose=args.verbose)
    print(f"report: {_shown(result.html)}")
    if not result.ok:
        print(f"coldstart: runbook failed: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_rollout(args: argparse.Namespace) -> int:
    args.notebook = "rollout"
    return cmd_run(args)


def cmd_rbac(args: argparse.Namespace) -> int:
    from coldstart.levers.render import to_yaml  # start-up cost (see above)
    from coldstart.live.rbac import manifests  # start-up cost (see above)

    profile = load_profile(args.profile)
    who = "a coldstart diagnosis needs" if args.diagnose else "coldstart runbooks need"
    print(f"# What {who} for profile {profile.name} in namespace {profile.namespace}; bind both to the identity the "
          "runbooks use (no wildcards).")
    sys.stdout.write(to_yaml(manifests(profile, diagnose=args.diagnose)))
    return 0


def cmd_cluster_up(args: argparse.Namespace) -> int:
    import signal  # start-up cost (see above): only this command waits for a signal
    import time  # start-up cost (see above): only this command waits

    from coldstart.embedded import serve  # start-up cost: the embedded cluster

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # even when started in the background (where SIGINT is ignored)
    signal.signal(signal.SIGTERM, interrupt)
    profile = load_profile(args.profile)
    cluster = serve.start(profile, port=args.port, speed=args.speed)
    try:
        context = serve.context_name(profile)
        path = serve.write_kubeconfig(args.kubeconfig or f"outputs/{profile.name}/kubeconfig", cluster.url, context)
        print(f"embedded cluster {context} serving on {cluster.url} (Ctrl-C stops it)")
        print(f"export KUBECONFIG={path.resolve()}", flush=True)
        while True:  # until Ctrl-C or SIGTERM (KeyboardInterrupt above)
            time.sleep(1.0)
            cluster.check()
    finally:
        cluster.stop()
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    import json  # start-up cost (see above)

    from coldstart.live.cluster import Cluster  # start-up cost: the kubernetes client
    from coldstart.runbooks.diagnose import diagnose  # start-up cost (see above)

    profile = load_profile(args.profile)
    if args.selector and args.workload:
        raise InputError("--selector and --workload choose the same thing; give one of them")
    with Cluster.connect(args.cluster, profile=profile) as cluster:
        result = diagnose(cluster, args.namespace, selector=args.selector, workload=args.workload,
                          watch_seconds=args.watch)
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    else:
        print(f"{len(result.workloads)} vLLM workload(s) in {args.namespace}: {', '.join(result.workloads) or '-'}")
        for i, fix in enumerate(result.fixes, start=1):
            print(f"{i}. {fix.line()}")
        if not result.fixes:
            print("nothing to change: every invariant holds")
        for note in result.notes:
            print(f"note: {note}")
    return 1 if result.fixes else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"coldstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="write the manifests of every lever for a profile")
    p.add_argument("--profile", required=True,
                   help=f"shipped name ({', '.join(shipped_profiles())}) or path to a profile")
    p.add_argument("--out", help="directory for one YAML file per lever (default: stdout)")
    p.add_argument("--serving", choices=["kserve", "deployment"], help="override the profile's serving form")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("verify", help="check manifests against the cold-start invariants")
    p.add_argument("paths", nargs="+", help="YAML/JSON files or directories ('-' for stdin)")
    p.add_argument("--profile", help="judge profile-specific invariants (region, budgets, GKE)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("timeline", help="cold-start phases from events, pod status and vLLM logs")
    p.add_argument("--events", action="append", default=[], help="events (kubectl get/describe output)")
    p.add_argument("--pods", action="append", default=[], help="pod status documents (YAML/JSON)")
    p.add_argument("--log", action="append", default=[], help="vLLM log files")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_timeline)

    p = sub.add_parser("cleanup", help="delete what one run left on a cluster (by its run-id label)")
    p.add_argument("run_id", help="the run id (the report's folder name, or the coldstart.dev/run-id label)")
    p.add_argument("--profile", default="baseline", help="the profile the run used (its namespace and targets)")
    p.add_argument("--cluster", required=True, help="kubeconfig:<context> or in-cluster (allowed by the profile)")
    p.set_defaults(func=cmd_cleanup)

    p = sub.add_parser("diagnose", help="read-only: why an existing vLLM deployment starts slowly, ranked fixes")
    p.add_argument("--cluster", required=True, help="kubeconfig:<context>, in-cluster or embedded (allowed by the "
                   "profile)")
    p.add_argument("--namespace", required=True)
    p.add_argument("--selector", help="label selector of the engine pods (default: every vLLM pod)")
    p.add_argument("--workload", help="KIND/NAME of one workload, e.g. Deployment/vllm")
    p.add_argument("--profile", default="baseline", help="the profile whose budgets and figures to judge by")
    p.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                   help="first record the next scale-ups for this long (events expire after about an hour)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("rbac", help="print the Role and ClusterRole a runbook needs on a live cluster")
    p.add_argument("--profile", default="baseline", help="the profile the runbooks use (its kinds and namespace)")
    p.add_argument("--diagnose", action="store_true", help="the read-only rules of a diagnosis instead")
    p.set_defaults(func=cmd_rbac)

    p = sub.add_parser("cluster", help="the embedded cluster as a standalone cluster for kubectl")
    up = p.add_subparsers(dest="action", required=True).add_parser("up", help="serve it in the foreground")
    up.add_argument("--profile", default="baseline")
    up.add_argument("--port", type=int, default=0, help="loopback port (default: any free one)")
    up.add_argument("--speed", type=float, help="virtual seconds per wall second at most (default 4000)")
    up.add_argument("--kubeconfig", help="where to write the kubeconfig (default outputs/<profile>/kubeconfig)")
    up.set_defaults(func=cmd_cluster_up)

    for name, helptext in (("run", "run a runbook notebook and render its HTML report"),
                           ("rollout", "run the rollout runbook (what `make rollout` does)")):
        p = sub.add_parser(name, help=helptext)
        if name == "run":
            p.add_argument("notebook", help="notebook stem or path (rollout, weight_load, ...)")
        p.add_argument("--profile", default="baseline")
        p.add_argument("--cluster", default="embedded", help="embedded, kubeconfig:<context> or in-cluster")
        p.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
        p.add_argument("--out", default="outputs", help="root folder for reports")
        p.add_argument("--verbose", action="store_true", help="show papermill's log, cell by cell, and every "
                       "progress line (default: one line per wait)")
        p.add_argument("--adopt", action="store_true", help="apply over existing objects of the same name that "
                       "coldstart did not create (they are never deleted); without it such a run is refused")
        p.set_defaults(func=cmd_run if name == "run" else cmd_rollout)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ColdstartError as exc:
        print(f"coldstart: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("coldstart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
