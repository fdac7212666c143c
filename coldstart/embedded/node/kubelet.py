"""The kubelets of every simulated node: they run the pods bound to their node (spec.nodeName, set by the
control plane) the way kubelet v1.33 does, and write what it writes. (v1.33, what GKE's channels run: since
v1.32 `Created container: X` has its colon, v1.35 shortens it to `Container created`, and before v1.35
`already present on machine` has no `and can be accessed by the pod`; coldstart's parsers read all of them.)

For each pod: claims must be Bound (else `FailedMount`, retried); PD/Hyperdisk claims are attached first
(`SuccessfulAttachVolume` from the attach/detach controller); the sandbox gets an IP
(PodReadyToStartContainers); init containers run to completion in order (Initialized); then each container in
turn: image (`Pulling`/`Pulled`, see images.py), `Created container: X`, `Started container X`. Its process
(process.py, vllm.py) writes logs, answers probes (probes.py), holds memory under the container's cgroup limit
(OOMKilled, exit 137) and may exit; failed containers restart with the CrashLoopBackOff back-off (immediately,
then 10 s doubling to 300 s) and `BackOff` events. Deleted pods get `Killing` `Stopping container X` and their
logs are dropped. Ground truth goes to ctx.mark: image_pull, container_start, the engine's phases, api_ready.
"""

from __future__ import annotations

from coldstart.embedded.context import SimContext
from coldstart.embedded.engine.args import engine_launch
from coldstart.embedded.engine.vllm import engine_plan
from coldstart.embedded.node.images import EnsureResult, ImageService, go_duration
from coldstart.embedded.node.podstatus import ContainerRun, PodRun
from coldstart.embedded.node.probes import ProbeCallbacks, ProbeRunner
from coldstart.embedded.node.process import Health, Plan, Step, enforce_memory, generic_plan
from coldstart.embedded.node.runenv import container_env, node_ip, node_ready, pod_gpus, pod_ip
from coldstart.embedded.node.volumes import NodeSideState, check_volumes
from coldstart.embedded.store.store import Change, rfc3339
from coldstart.kube.images import ImageRef, default_pull_policy

RETRY_SECONDS = 10.0  # pod worker requeue while volumes are not ready
BACKOFF_EVENT_SECONDS = 20.0  # resyncs that re-record BackOff while a container waits
KILL_SECONDS = 2.0  # SIGTERM to exit for a killed engine
BACKOFF_RESET_SECONDS = 600.0  # a container that ran this long starts its back-off afresh
MAX_BACKOFF = 300.0
NODE_STATUS_MAX_IMAGES = 50  # kubelet --node-status-max-images default (newest first here; the kubelet sorts by size)


class Kubelet:
    """One controller standing for every node's kubelet (state is kept per node where it matters)."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store, self.clock = ctx, ctx.store, ctx.clock
        self.images = ImageService(ctx)
        self.state = NodeSideState()
        self.recorder = ctx.recorder("kubelet")
        self.pods: dict[str, PodRun] = {}
        self.waiting: dict[str, dict] = {}

    # -- store changes ------------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.key == "/Pod":
            self._pod_changed(change)
        elif change.key == "/Node" and change.type != "DELETED":
            name = change.obj["metadata"]["name"]
            for uid, pod in list(self.waiting.items()):
                if pod["spec"].get("nodeName") == name:
                    self._try_admit(uid)
        elif change.key == "/PersistentVolumeClaim":
            for run in list(self.pods.values()):
                if run.stage == "volumes" and run.namespace == change.namespace:
                    self._volumes(run)

    def _pod_changed(self, change: Change) -> None:
        pod = change.obj
        uid = pod["metadata"].get("uid", "")
        if change.type == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self._terminate(uid, pod)
            return
        if uid in self.pods or not pod.get("spec", {}).get("nodeName"):
            return
        self.waiting[uid] = pod
        self._try_admit(uid)

    def _try_admit(self, uid: str) -> None:
        pod = self.waiting[uid]
        pod = self.store.get("/Pod", pod["metadata"].get("namespace", ""), pod["metadata"]["name"]) or pod
        node = self.store.get("/Node", "", pod["spec"]["nodeName"])
        if pod["metadata"].get("uid") != uid or not node_ready(node, self.ctx.profile.gpu.resource,
                                                               pod_gpus(pod, self.ctx.profile.gpu.resource)):
            return
        del self.waiting[uid]
        self._admit(pod, node or {})

    # -- admission, volumes, sandbox ------------------------------------------------------------------
    def _admit(self, pod: dict, node: dict) -> None:
        meta, now = pod["metadata"], self.clock.now()
        name = pod["spec"]["nodeName"]
        run = PodRun(meta["uid"], meta.get("namespace", "default"), meta["name"], name, pod, node_ip(node, name), now)
        run.inits = [ContainerRun(c["name"], c, init=True) for c in pod["spec"].get("initContainers") or []]
        run.mains = [ContainerRun(c["name"], c) for c in pod["spec"].get("containers") or []]
        for c in run.all:
            if run.inits:
                c.state = {"waiting": {"reason": "PodInitializing"}}
        pending = [c.name for c in run.inits]
        run.condition("PodReadyToStartContainers", False, now)
        run.condition("Initialized", not pending, now, "ContainersNotInitialized",
                      f"containers with incomplete status: [{' '.join(pending)}]")
        run.readiness(now)
        self.pods[run.uid] = run
        self._write(run)
        self._volumes(run)

    def _volumes(self, run: PodRun) -> None:
        if run.stage != "volumes" or self.pods.get(run.uid) is not run:
            return
        pod = self.store.get("/Pod", run.namespace, run.name) or run.pod
        check = check_volumes(self.store, pod)
        if check.failure:
            self.recorder.event(run.pod, "Warning", "FailedMount", check.failure, host=run.node)
            run.timers = [t for t in run.timers if not t.cancelled and t.at > self.clock.now()]
            if not run.timers:  # one pending retry, however many claim changes woke us
                run.timers.append(self.clock.call_later(RETRY_SECONDS, self._volumes, run))
            return
        run.stage = "attach"
        now = self.clock.now()
        ready_at, ours = now, []
        for _, pv in check.attach:
            key = (run.node, pv)
            if key not in self.state.attached:
                self.state.attached[key] = now + self.ctx.jitter(self.ctx.kinetics.volume_attach_seconds,
                                                                   f"attach {pv} for {self.ctx.identity(run.pod)}")
                ours.append(pv)
            ready_at = max(ready_at, self.state.attached[key])
        for pv in ours:
            run.timers.append(self.clock.call_at(self.state.attached[(run.node, pv)], self._attached, run, pv))
        run.timers.append(self.clock.call_at(ready_at + self.ctx.jitter(0.5, f"sandbox {self.ctx.identity(run.pod)}"),
                                          self._sandbox, run))

    def _attached(self, run: PodRun, pv: str) -> None:
        self.ctx.recorder("attachdetach-controller").event(
            run.pod, "Normal", "SuccessfulAttachVolume", f'AttachVolume.Attach succeeded for volume "{pv}"')

    def _sandbox(self, run: PodRun) -> None:
        if self.pods.get(run.uid) is not run:
            return
        run.stage = "init"
        run.pod_ip = pod_ip(self.state, self.store.get("/Node", "", run.node) or {}, run.node)
        run.condition("PodReadyToStartContainers", True, self.clock.now())
        self._write(run)
        self._next(run)

    # -- containers ---------------------------------------------------------------------------------
    def _next(self, run: PodRun) -> None:
        """Start whatever comes next: init containers one by one (sidecars once started), then each container."""
        if self.pods.get(run.uid) is not run:
            return
        for c in run.inits:
            if not c.launched:
                self._start(run, c)
                return
            if not (c.completed if not c.sidecar else c.started):
                return
        if run.stage == "init":
            run.stage = "main"
            run.condition("Initialized", True, self.clock.now())
            for c in run.mains:
                c.state = {"waiting": {"reason": "ContainerCreating"}}
            self._write(run)
        for c in run.mains:
            if not c.launched:
                self._start(run, c)
                return

    def _start(self, run: PodRun, c: ContainerRun) -> None:
        c.launched = True
        c.instance += 1
        now, ref = self.clock.now(), c.spec.get("image", "")
        node = self.store.get("/Node", "", run.node) or {}
        policy = c.spec.get("imagePullPolicy") or default_pull_policy(ref)
        result = self.images.ensure(run.node, node.get("metadata", {}).get("labels") or {}, ref, policy, now,
                                    who=self.ctx.identity(run.pod))
        first = c.restart_count == 0 and c.exits == 0
        if first and result.pulling and run.image_first is None:  # the phase covers real pulls only
            run.image_first = now
        if result.pulling:
            self._event(run, c, "Normal", "Pulling", f'Pulling image "{ref}"')
        if result.reason != "Pulled":
            self._event(run, c, "Warning", result.reason, result.message)
            c.state = {"waiting": {"reason": result.waiting or result.reason, "message": result.message}}
            self._write(run)
            return
        c.timers.append(self.clock.call_at(result.ready_at, self._pulled, run, c, c.instance, result, first))
        if result.pulling:  # the image stays on the node even when the pod goes away before the pull ends
            self.clock.call_at(result.ready_at, self._report_image, run.node, result)

    def _report_image(self, node_name: str, result: EnsureResult) -> None:
        """node.status.images, as the kubelet reports them: what the scheduler's ImageLocality scores."""
        parsed = ImageRef.parse(result.image)  # listed by digest and, when it has one, by tag (as containerd does)
        names = [result.image_id] + ([f"{parsed.canonical}:{parsed.tag}"] if parsed.tag else [])

        def edit(node: dict) -> bool | None:
            status = node.get("status") or {}
            images = status.get("images") or []
            if any(result.image_id in (i.get("names") or []) for i in images):
                return False
            fresh = [{"names": names, "sizeBytes": result.size_bytes}, *images][:NODE_STATUS_MAX_IMAGES]
            node["status"] = {**status, "images": fresh}  # a new status: the stored node's is shared, not copied
            return None

        self.store.mutate("/Node", "", node_name, edit, fresh=())

    def _pulled(self, run: PodRun, c: ContainerRun, inst: int, result: EnsureResult, first: bool) -> None:
        if self._stale(run, c, inst):
            return
        now = self.clock.now()
        self._event(run, c, "Normal", "Pulled", result.message)
        if result.streamed:
            node = self.store.get("/Node", "", run.node)
            if node is not None:
                self.ctx.recorder("gcfsd").event(node, "Normal", "ImageStreaming",
                                                 f"Image {c.spec.get('image')} is backed by image streaming.",
                                                 host=run.node)
        c.image, c.image_id = result.image, result.image_id
        if first and result.pulling:  # an image found already present is not a pull
            run.image_last = max(run.image_last or now, now)
            self.ctx.mark(run.namespace, run.name, "image_pull", run.image_first or now, run.image_last)
        start = self.ctx.jitter(self.ctx.kinetics.container_start_seconds,
                                f"start {self.ctx.identity(run.pod)}/{c.name}")
        c.timers.append(self.clock.call_at(now + start * 0.4, self._event, run, c, "Normal", "Created",
                                           f"Created container: {c.name}"))
        c.timers.append(self.clock.call_at(now + start, self._started, run, c, inst, now, result.digest))

    def _started(self, run: PodRun, c: ContainerRun, inst: int, pulled_at: float, digest: str | None) -> None:
        if self._stale(run, c, inst):
            return
        now = self.clock.now()
        c.new_id(run.uid)
        c.state = {"running": {"startedAt": rfc3339(now)}}
        c.running_since, c.health, c.memory = now, Health(), 0
        self._event(run, c, "Normal", "Started", f"Started container {c.name}")
        env = container_env(self.ctx, self.images, self.state, run, c, digest)
        launch = None if c.init else engine_launch(c.spec, env.env)
        plan = engine_plan(env, launch, self.ctx, self.state) if launch else generic_plan(env)
        c.plan = plan = enforce_memory(plan, env.memory_limit)
        if plan.engine:
            run.engine = c.name
            self.ctx.mark(run.namespace, run.name, "container_start", pulled_at, now)
        for step in plan.steps:
            c.timers.append(self.clock.call_at(now + step.at, self._step, run, c, inst, step))
        if plan.exit_at is not None:
            reason = plan.exit_reason or ("Completed" if plan.exit_code == 0 else "Error")
            c.timers.append(self.clock.call_at(now + plan.exit_at, self._exited, run, c, inst, plan.exit_code, reason))
        self._phase(run)  # Running before any probe can report the container ready
        if not c.init or c.sidecar:
            c.probes = ProbeRunner(self.clock, c.spec, now, run.pod_ip, lambda: c.health, self._callbacks(run, c, inst))
            c.probes.start()
        else:
            c.started = True
        self._write(run)
        self._next(run)

    def _step(self, run: PodRun, c: ContainerRun, inst: int, step: Step) -> None:
        if self._stale(run, c, inst):
            return
        now = self.clock.now()
        for line in step.lines:
            self.ctx.logs.append(run.namespace, run.name, c.name, now, line)
        if step.health is not None:
            c.health = step.health
        if step.memory is not None:
            c.memory = step.memory
        since = c.running_since
        assert since is not None  # steps are scheduled by _started, which set it for this (non-stale) instance
        for phase, start, end in step.marks:
            self.ctx.mark(run.namespace, run.name, phase, since + start, since + end)
        if step.effect is not None:
            step.effect()

    def _callbacks(self, run: PodRun, c: ContainerRun, inst: int) -> ProbeCallbacks:
        def started() -> None:
            if not self._stale(run, c, inst):
                c.started = True
                self._write(run)
                if c.sidecar:
                    self._next(run)

        def ready(value: bool) -> None:
            if self._stale(run, c, inst):
                return
            c.ready = value
            self._phase(run)
            now = self.clock.now()
            if run.readiness(now) and run.engine:
                engine = next(x for x in run.mains if x.name == run.engine)
                plan: Plan | None = engine.plan
                if plan is not None and plan.ready_mark_from is not None and engine.running_since is not None:
                    start = engine.running_since + plan.ready_mark_from
                    self.ctx.mark(run.namespace, run.name, "api_ready", start, now)
            self._write(run)

        def unhealthy(kind: str, output: str) -> None:
            if not self._stale(run, c, inst):
                self._event(run, c, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {output}")

        def kill(kind: str) -> None:
            if not self._stale(run, c, inst):
                self._event(run, c, "Normal", "Killing", f"Container {c.name} failed {kind} probe, will be restarted")
                self._kill(run, c, KILL_SECONDS)

        return ProbeCallbacks(started, ready, unhealthy, kill)

    def _kill(self, run: PodRun, c: ContainerRun, grace: float) -> None:
        c.cancel()
        c.instance += 1
        c.health = Health()
        c.timers.append(self.clock.call_later(grace, self._exited, run, c, c.instance, 137, "Error"))

    def _exited(self, run: PodRun, c: ContainerRun, inst: int, code: int, reason: str) -> None:
        if self._stale(run, c, inst):
            return
        now = self.clock.now()
        c.cancel()
        c.instance += 1
        terminated = {"exitCode": code, "reason": reason, "startedAt": rfc3339(c.running_since or now),
                      "finishedAt": rfc3339(now), "containerID": c.container_id}
        c.state, c.started, c.ready, c.health = {"terminated": terminated}, False, False, Health()
        if c.init and code == 0 and not c.sidecar:
            c.ready = True
            self._write(run)
            self._next(run)
            return
        run.readiness(now)
        policy = run.pod.get("spec", {}).get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            self._phase(run)
            self._write(run)
            return
        if c.running_since is not None and now - c.running_since >= BACKOFF_RESET_SECONDS:
            c.exits = 0
        c.exits += 1
        delay = 0.0 if c.exits == 1 else min(MAX_BACKOFF, 10.0 * 2 ** min(c.exits - 2, 30))  # no overflow
        c.last_state = {"terminated": terminated}
        if delay > 0:
            pod = f"{run.name}_{run.namespace}({run.uid})"
            c.state = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {go_duration(delay)} "
                                   f"restarting failed container={c.name} pod={pod}"}}
            self._backoff_event(run, c, c.instance, now + delay)
        self._write(run)
        c.timers.append(self.clock.call_at(now + delay, self._restart, run, c, c.instance))

    def _backoff_event(self, run: PodRun, c: ContainerRun, inst: int, until: float) -> None:
        if self._stale(run, c, inst) or self.clock.now() >= until:
            return
        self._event(run, c, "Warning", "BackOff",
                    f"Back-off restarting failed container {c.name} in pod {run.name}_{run.namespace}({run.uid})")
        c.timers.append(self.clock.call_later(BACKOFF_EVENT_SECONDS, self._backoff_event, run, c, inst, until))

    def _restart(self, run: PodRun, c: ContainerRun, inst: int) -> None:
        if self._stale(run, c, inst):
            return
        c.restart_count += 1
        self.ctx.logs.restart(run.namespace, run.name, c.name)
        self._start(run, c)

    # -- termination ----------------------------------------------------------------------------------
    def _terminate(self, uid: str, pod: dict) -> None:
        self.waiting.pop(uid, None)
        run = self.pods.pop(uid, None)
        if run is None:
            return
        for c in run.all:
            if c.running:
                self._event(run, c, "Normal", "Killing", f"Stopping container {c.name}", pod=pod)
            c.cancel()
            c.instance += 1
        for timer in run.timers:
            timer.cancel()
        self.ctx.logs.forget(run.namespace, run.name)
        self.state.forget_pod(uid)

    # -- helpers --------------------------------------------------------------------------------------
    def _stale(self, run: PodRun, c: ContainerRun, inst: int) -> bool:
        return self.pods.get(run.uid) is not run or c.instance != inst

    def _event(self, run: PodRun, c: ContainerRun, type_: str, reason: str, message: str,
               pod: dict | None = None) -> None:
        kind = "initContainers" if c.init else "containers"
        self.recorder.event(pod or run.pod, type_, reason, message, field_path=f"spec.{kind}{{{c.name}}}",
                            host=run.node)

    def _phase(self, run: PodRun) -> None:
        if any(c.running or c.restart_count or c.last_state for c in run.mains) and run.stage == "main":
            run.phase = "Running"
        done = [c.state.get("terminated") or {} for c in run.mains]
        if run.mains and all(done) and run.pod.get("spec", {}).get("restartPolicy") in ("Never", "OnFailure"):
            run.phase = "Succeeded" if all(t.get("exitCode") == 0 for t in done) else "Failed"

    def _write(self, run: PodRun) -> None:
        def apply(pod: dict) -> bool | None:
            if pod["metadata"].get("uid") != run.uid:
                return False
            pod["status"] = run.render(pod.get("status") or {})
            return None
        self.store.mutate("/Pod", run.namespace, run.name, apply, fresh=())  # render reads status, never edits it
