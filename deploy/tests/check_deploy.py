#!/usr/bin/env python3
"""Offline checks of deploy/: what can be verified here without Docker, a cluster or a registry.

Run by the suite (tests/tests/sandbox/deploy_checks.rs), or by hand from the repository root:

    python3 deploy/tests/check_deploy.py check --worker-deadline-secs 30 --serve-drain-secs 15
    python3 deploy/tests/check_deploy.py configs      # JSON: each deployment's config + env
    python3 deploy/tests/check_deploy.py --root COPY check   # check another copy (the suite's
                                                             # negative test breaks one)

`check` prints one line per problem and exits 1 if there is any (0 and "ok: ..." lines
otherwise). It needs PyYAML and kubernetes-validate (`pip install kubernetes-validate`, which
.ci/run does). With `kubectl` on PATH it also renders both kustomizations (`kubectl
kustomize`, offline) and validates the result; without it, the files one by one.

`configs` prints, for each way deploy/ runs snapsync, the TOML file and the SNAPSYNC__*
variables it would get, and the stop grace the workers get, so the Rust test can load them
with snapsync's own configuration reader (unknown keys, bad values) and compare the grace with
the configured worker.shutdown_deadline.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
K8S_VERSION = None  # the newest schema kubernetes-validate bundles

problems = []
notes = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def rel(path):
    return os.path.relpath(path, ROOT)


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def duration_secs(value):
    """Compose durations ("45s", "1m30s") and plain numbers of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total, rest = 0.0, str(value).strip()
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)", rest):
        total += float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    if not re.fullmatch(r"(\d+(?:\.\d+)?(ms|us|s|m|h))+", rest):
        raise ValueError(f"not a duration: {value!r}")
    return total


# --- metric names the binaries export -----------------------------------------------------------

def exported_metrics():
    """Names documented in docs/metrics.md's tables AND recorded in the source (a literal
    "snapsync_..." in queue/, shared/, producer/ or worker/): name -> type."""
    documented = {}
    for line in read(os.path.join(ROOT, "docs", "metrics.md")).splitlines():
        m = re.match(r"\|\s*`(snapsync_[a-z_]+)`\s*\|\s*(counter|gauge|histogram)\s*\|", line)
        if m:
            documented[m.group(1)] = m.group(2)
    in_source = set()
    for top in ("queue", "shared", "producer", "worker"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top, "src")):
            for name in files:
                if name.endswith(".rs"):
                    in_source.update(re.findall(r'"(snapsync_[a-z_]+)"', read(os.path.join(dirpath, name))))
    if not documented:
        problem("docs/metrics.md", "no metric table found")
    return {name: kind for name, kind in documented.items() if name in in_source}, documented, in_source


def check_metric_names(where, expr, exported, documented, in_source):
    for name in set(re.findall(r"\bsnapsync_[a-z_]+", expr)):
        base = name
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix) and name[: -len(suffix)] in documented:
                base = name[: -len(suffix)]
                if documented[base] != "histogram":
                    problem(where, f"{name}: {base} is a {documented[base]}, not a histogram")
        if base not in documented:
            problem(where, f"metric {name} is not in docs/metrics.md")
        elif base not in in_source:
            problem(where, f"metric {name} is documented but no binary records it")


# --- Dockerfile --------------------------------------------------------------------------------

def dockerfile_instructions(text):
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, args = current.partition(" ")
        out.append((word.upper(), args.strip()))
        current = ""
    if current:
        problem("deploy/Dockerfile", "ends inside a continued line")
    return out


def check_dockerfile():
    where = "deploy/Dockerfile"
    stages, stage = [], None
    for instr, args in dockerfile_instructions(read(os.path.join(DEPLOY, "Dockerfile"))):
        if instr == "FROM":
            m = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            if not m:
                problem(where, f"unreadable FROM {args!r}")
                continue
            stage = {"base": m.group(1), "name": m.group(2), "instr": []}
            stages.append(stage)
        elif stage is None:
            if instr not in ("ARG",):
                problem(where, f"{instr} before the first FROM")
        else:
            stage["instr"].append((instr, args))
    names = [s["name"] for s in stages]
    if len(stages) < 2:
        problem(where, f"not multi-stage ({len(stages)} stage)")
        return names
    builder = stages[0]
    runs = " ".join(a for i, a in builder["instr"] if i == "RUN")
    if not builder["base"].startswith("rust:"):
        problem(where, f"the first stage builds from {builder['base']}, not a rust image")
    if "cargo build" not in runs or "--locked" not in runs or "--release" not in runs:
        problem(where, "the builder does not run `cargo build --release --locked`")
    runtime = stages[-1]
    if "slim" not in runtime["base"] and "distroless" not in runtime["base"]:
        problem(where, f"the runtime stage's base {runtime['base']} is not a small image")
    instrs = runtime["instr"]
    users = [a for i, a in instrs if i == "USER"]
    if not users:
        problem(where, "the runtime stage sets no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        problem(where, f"the runtime stage runs as {users[-1]}")
    checks = [a for i, a in instrs if i == "HEALTHCHECK"]
    if not checks or "/healthz" not in checks[-1]:
        problem(where, "the runtime stage has no HEALTHCHECK on /healthz")
    copies = " ".join(a for i, a in instrs if i == "COPY")
    for binary in ("snapsync", "snapsync-worker"):
        if not re.search(rf"--from=\S+\s+(\S+\s+)*\S*/{binary}(\s|$)", copies):
            problem(where, f"the runtime stage does not copy the {binary} binary from the builder")
    if re.search(r"(ca-certificates)", " ".join(a for i, a in instrs if i == "RUN")) is None:
        problem(where, "the runtime stage does not install ca-certificates (TLS to the APIs)")
    for s in stages:
        for i, a in s["instr"]:
            if i == "COPY" and "--from" not in a and a.split()[0] != ".":
                for src in a.split()[:-1]:
                    if not src.startswith("--") and not os.path.exists(os.path.join(ROOT, src)):
                        problem(where, f"COPY source {src} does not exist in the repository")
    notes.append(f"Dockerfile: stages {names}, USER {users[-1] if users else None}")
    return names


# --- compose.yaml ------------------------------------------------------------------------------

def check_compose(stage_names, worker_deadline, serve_drain):
    where = "deploy/compose.yaml"
    doc = load_yaml(os.path.join(DEPLOY, "compose.yaml"))
    services = doc.get("services") or {}
    for name in ("redis", "serve", "worker", "sandbox", "serve-sandbox", "worker-sandbox"):
        if name not in services:
            problem(where, f"no service {name}")
    profiles = {}
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        if not hc or not hc.get("test"):
            problem(where, f"service {name} has no healthcheck")
        for p in svc.get("profiles") or []:
            profiles.setdefault(p, []).append(name)
        build = svc.get("build")
        if build:
            ctx = os.path.normpath(os.path.join(DEPLOY, build.get("context", ".")))
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problem(where, f"service {name}: no Dockerfile at {rel(dockerfile)}")
            if build.get("target") and build["target"] not in stage_names:
                problem(where, f"service {name}: build target {build['target']} is no stage of the Dockerfile")
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                path = os.path.normpath(os.path.join(DEPLOY, source))
                optional = name in ("serve", "worker") and source in ("./snapsync.toml",)
                if not os.path.exists(path) and not optional:
                    problem(where, f"service {name}: mounts {source}, which does not exist")
    if "sandbox" not in profiles or "production" not in profiles:
        problem(where, f"profiles are {sorted(profiles)}, expected production and sandbox")
    for p, want in (("sandbox", {"sandbox", "serve-sandbox", "worker-sandbox"}), ("production", {"serve", "worker"})):
        if set(profiles.get(p, [])) != want:
            problem(where, f"profile {p} has {sorted(profiles.get(p, []))}, expected {sorted(want)}")
    redis = services.get("redis", {})
    if redis.get("profiles"):
        problem(where, "redis must run in every profile (no `profiles`)")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in redis.get("volumes") or [] if isinstance(v, str)}
    command = redis.get("command") or []
    conf_targets = [t for t, s in mounts.items() if s == "./redis.conf"]
    if not conf_targets:
        problem(where, "redis does not mount ./redis.conf")
    elif len(command) < 2 or command[0] != "redis-server" or command[1] != conf_targets[0]:
        problem(where, f"redis's command {command} does not start redis-server with the mounted {conf_targets[0]}")
    if redis.get("ports"):
        problem(where, "redis publishes a port (it has no password: keep it on the internal network)")
    for name in ("worker", "worker-sandbox"):
        svc = services.get(name, {})
        replicas = (svc.get("deploy") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 1:
            problem(where, f"service {name}: deploy.replicas is {replicas!r}")
        grace = duration_secs(svc.get("stop_grace_period", "10s"))
        if grace <= worker_deadline:
            problem(where, f"service {name}: stop_grace_period {grace}s is not above worker.shutdown_deadline {worker_deadline}s")
    for name in ("serve", "serve-sandbox"):
        grace = duration_secs(services.get(name, {}).get("stop_grace_period", "10s"))
        if grace <= serve_drain:
            problem(where, f"service {name}: stop_grace_period {grace}s is not above serve's drain {serve_drain}s")
    sandbox = services.get("sandbox", {})
    if (sandbox.get("build") or {}).get("target") != "sandbox":
        problem(where, "the sandbox service is not built from the Dockerfile's sandbox stage")
    notes.append(f"compose.yaml: {len(services)} services, profiles {sorted(profiles)}")
    return doc


# --- Kubernetes -------------------------------------------------------------------------------

def kustomization_files(directory, seen=None):
    """Every file a kustomization (and the bases it lists) uses; problems for missing ones."""
    seen = seen if seen is not None else set()
    path = os.path.join(directory, "kustomization.yaml")
    where = rel(path)
    if path in seen:
        return []
    seen.add(path)
    if not os.path.isfile(path):
        problem(rel(directory), "no kustomization.yaml")
        return []
    k = load_yaml(path)
    if k.get("kind") != "Kustomization" or not str(k.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"):
        problem(where, "not a Kustomization (apiVersion/kind)")
    files = []
    for entry in k.get("resources") or []:
        target = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(target):
            files += kustomization_files(target, seen)
        elif os.path.isfile(target):
            files.append(target)
        else:
            problem(where, f"resource {entry} does not exist")
    for entry in k.get("patches") or []:
        p = entry.get("path") if isinstance(entry, dict) else entry
        if p and not os.path.isfile(os.path.join(directory, p)):
            problem(where, f"patch {p} does not exist")
    for gen in (k.get("configMapGenerator") or []) + (k.get("secretGenerator") or []):
        for f in gen.get("files") or []:
            f = f.split("=", 1)[-1]
            if not os.path.isfile(os.path.join(directory, f)):
                problem(where, f"generator file {f} does not exist")
    for key in ("patchesStrategicMerge", "bases"):
        if key in k:
            problem(where, f"`{key}` is deprecated in kustomize v5: use `patches` / `resources`")
    return files


def validate_builtin(where, doc):
    import kubernetes_validate

    version = K8S_VERSION or kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return True
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError as e:
        problem(where, f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}: {e.message} at {list(e.path)}")
        return True


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d.get("kind"), {})[(d.get("metadata") or {}).get("name")] = d
    return out


def pod_labels(deployment):
    return deployment["spec"]["template"]["metadata"].get("labels") or {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_scaled_object(where, so, deployments, exported, documented, in_source):
    if so.get("apiVersion") != "keda.sh/v1alpha1":
        problem(where, f"ScaledObject apiVersion {so.get('apiVersion')}, expected keda.sh/v1alpha1")
    spec = so.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    if target.get("name") not in deployments or target.get("kind", "Deployment") != "Deployment":
        problem(where, f"scaleTargetRef {target} names no Deployment here")
    elif target["name"] != "snapsync-worker":
        problem(where, "the ScaledObject does not scale the workers")
    lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi and hi >= 1):
        problem(where, f"minReplicaCount {lo!r} / maxReplicaCount {hi!r}")
    triggers = spec.get("triggers") or []
    if not triggers:
        problem(where, "no triggers")
    for t in triggers:
        meta = t.get("metadata") or {}
        if t.get("type") != "prometheus":
            problem(where, f"trigger type {t.get('type')}: a list length misses due scheduled jobs (deploy/README.md)")
            continue
        for key in ("serverAddress", "query", "threshold"):
            if not meta.get(key):
                problem(where, f"prometheus trigger without {key}")
        query = meta.get("query", "")
        if 'snapsync_queue_jobs{state="ready"}' not in query or "snapsync_queue_due_jobs" not in query:
            problem(where, "the query is not ready jobs plus due jobs")
        if re.search(r"sum\s*\(\s*snapsync_queue", query):
            problem(where, "the query sums the gauges over serve replicas (use max by ...)")
        check_metric_names(where, query, exported, documented, in_source)
        for key in ("threshold", "activationThreshold"):
            if key in meta:
                if not isinstance(meta[key], str):
                    problem(where, f"{key} must be a string (KEDA's metadata is a map of strings)")
                else:
                    try:
                        float(meta[key])
                    except ValueError:
                        problem(where, f"{key} {meta[key]!r} is not a number")


def check_k8s(worker_deadline, serve_drain, exported, documented, in_source):
    base_dir = os.path.join(DEPLOY, "k8s", "base")
    overlay_dir = os.path.join(DEPLOY, "k8s", "overlays", "sandbox")
    base_files = kustomization_files(base_dir)
    overlay_files = kustomization_files(overlay_dir)
    base_docs, all_docs = [], []
    for f in sorted(set(base_files + overlay_files)):
        docs = load_yaml_all(f)
        for d in docs:
            if not validate_builtin(rel(f), d) and d.get("kind") != "ScaledObject":
                problem(rel(f), f"unknown kind {d.get('apiVersion')}/{d.get('kind')} (no schema, no check)")
        all_docs += docs
        if f in base_files:
            base_docs += docs
    # Patches are partial resources: validate them merged, via kubectl kustomize (below).
    example = os.path.join(base_dir, "secret.example.yaml")
    for d in load_yaml_all(example):
        validate_builtin(rel(example), d)
        for key, value in (d.get("stringData") or {}).items():
            if "REPLACE" not in str(value):
                problem(rel(example), f"{key} is not a placeholder (REPLACE_...): never a real value")
    if example in base_files:
        problem(rel(base_dir), "kustomization.yaml applies secret.example.yaml (placeholders) to the cluster")

    kinds = by_kind(base_docs)
    deployments = kinds.get("Deployment", {})
    serve, worker = deployments.get("snapsync-serve"), deployments.get("snapsync-worker")
    if not serve or not worker:
        problem("deploy/k8s/base", "no Deployment snapsync-serve and snapsync-worker")
        return
    secrets = {d["metadata"]["name"] for d in load_yaml_all(example)}
    for name, dep in (("snapsync-serve", serve), ("snapsync-worker", worker)):
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        where = f"deploy/k8s/base Deployment {name}"
        if not selects(dep["spec"]["selector"].get("matchLabels"), pod_labels(dep)):
            problem(where, "selector does not match its pod labels")
        sc = c.get("securityContext") or {}
        if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
            problem(where, "runAsNonRoot is not set")
        if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
            problem(where, "container may escalate privileges or write its root filesystem")
        env = {e["name"]: e.get("value") for e in c.get("env") or []}
        if env.get("SNAPSYNC_CONFIG") != "/etc/snapsync/snapsync.toml":
            problem(where, "SNAPSYNC_CONFIG is not /etc/snapsync/snapsync.toml")
        refs = [e["secretRef"]["name"] for e in c.get("envFrom") or [] if "secretRef" in e]
        if not refs or any(r not in secrets for r in refs):
            problem(where, f"envFrom secretRef {refs} is not the example Secret {sorted(secrets)}")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        vols = {v["name"]: v for v in pod.get("volumes") or []}
        cm = (vols.get(mounts.get("/etc/snapsync"), {}).get("configMap") or {}).get("name")
        if cm not in kinds.get("ConfigMap", {}):
            problem(where, "/etc/snapsync is not the snapsync ConfigMap")
    spod = serve["spec"]["template"]["spec"]
    sc = spod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in sc.get("ports") or []}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (sc.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or (get.get("port") not in ports and get.get("port") not in ports.values()):
            problem("serve.yaml", f"{probe} is not GET {path} on the container's port")
    if spod.get("terminationGracePeriodSeconds", 30) <= serve_drain:
        problem("serve.yaml", f"terminationGracePeriodSeconds is not above serve's drain ({serve_drain}s)")
    grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= worker_deadline:
        problem("worker.yaml", f"terminationGracePeriodSeconds {grace} is not above worker.shutdown_deadline ({worker_deadline}s)")
    services = kinds.get("Service", {})
    svc = services.get("snapsync-serve")
    if not svc or not selects(svc["spec"].get("selector"), pod_labels(serve)):
        problem("serve.yaml", "no Service selecting the serve pods")
    elif not any(p.get("targetPort") in ports or p.get("targetPort") in ports.values() for p in svc["spec"]["ports"]):
        problem("serve.yaml", "the Service's targetPort is no port of the serve container")
    pdbs = kinds.get("PodDisruptionBudget", {})
    for dep_name, dep in (("snapsync-serve", serve), ("snapsync-worker", worker)):
        if not any(selects(p["spec"]["selector"].get("matchLabels"), pod_labels(dep)) for p in pdbs.values()):
            problem("pdb.yaml", f"no PodDisruptionBudget selects the {dep_name} pods")
    configmap = kinds.get("ConfigMap", {}).get("snapsync-config")
    if configmap:
        data = configmap.get("data") or {}
        for key, source in (("mapping.toml", "mapping/default.toml"), ("routing.toml", "routing/default.toml")):
            if data.get(key) != read(os.path.join(ROOT, source)):
                problem("configmap.yaml", f"{key} differs from {source} (copy it again)")
        text = data.get("snapsync.toml", "")
        for section, key in (("mapping", "mapping.toml"), ("routing", "routing.toml")):
            if f'path = "/etc/snapsync/{key}"' not in text:
                problem("configmap.yaml", f"snapsync.toml's [{section}] path is not /etc/snapsync/{key}")
    scaled = kinds.get("ScaledObject", {})
    if not scaled:
        problem("deploy/k8s/base", "no KEDA ScaledObject")
    for so in scaled.values():
        check_scaled_object("scaledobject.yaml", so, deployments, exported, documented, in_source)
    if read(os.path.join(overlay_dir, "redis.conf")) != read(os.path.join(DEPLOY, "redis.conf")):
        problem("deploy/k8s/overlays/sandbox/redis.conf", "differs from deploy/redis.conf (copy it again)")

    kubectl = shutil.which("kubectl")
    if kubectl:
        for directory, want_scaled in ((base_dir, True), (overlay_dir, False)):
            out = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                problem(rel(directory), f"kubectl kustomize failed: {out.stderr.strip()}")
                continue
            rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
            for d in rendered:
                validate_builtin(rel(directory) + " (rendered)", d)
            rk = by_kind(rendered)
            if bool(rk.get("ScaledObject")) != want_scaled:
                problem(rel(directory), f"rendered ScaledObject present: {bool(rk.get('ScaledObject'))}, expected {want_scaled}")
            if not want_scaled:
                if "snapsync-redis" not in rk.get("StatefulSet", {}) or "snapsync-sandbox" not in rk.get("Deployment", {}):
                    problem(rel(directory), "the sandbox overlay renders no Redis StatefulSet or sandbox Deployment")
            notes.append(f"kubectl kustomize {rel(directory)}: {len(rendered)} resources")
    else:
        notes.append("kubectl not on PATH: kustomizations checked file by file, not rendered")
    notes.append(f"k8s: {len(all_docs)} resources in {len(set(base_files + overlay_files))} files")


# --- Prometheus rules --------------------------------------------------------------------------

def check_rules(exported, documented, in_source):
    where = "deploy/prometheus/snapsync-rules.yaml"
    doc = load_yaml(os.path.join(DEPLOY, "prometheus", "snapsync-rules.yaml"))
    names = []
    for group in doc.get("groups") or []:
        if not group.get("name"):
            problem(where, "a group without a name")
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            if not name or not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", name):
                problem(where, f"rule name {name!r}")
                continue
            names.append(name)
            expr = rule.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problem(where, f"{name}: no expr")
                continue
            if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                problem(where, f"{name}: unbalanced brackets in expr")
            if "alert" in rule:
                if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                    problem(where, f"{name}: labels.severity is not critical, warning or info")
                if not (rule.get("annotations") or {}).get("summary"):
                    problem(where, f"{name}: no annotations.summary")
                if "for" in rule:
                    try:
                        duration_secs(rule["for"])
                    except ValueError as e:
                        problem(where, f"{name}: {e}")
            check_metric_names(f"{where} {name}", expr, exported, documented, in_source)
    if len(names) != len(set(names)):
        problem(where, "duplicate rule names")
    for want in ("SnapsyncDeadJobsRising", "SnapsyncBacklogOld", "SnapsyncRateLimited", "SnapsyncNoWorkers"):
        if want not in names:
            problem(where, f"no {want} alert")
    notes.append(f"prometheus rules: {len(names)} alerts")


# --- configs for the Rust side ------------------------------------------------------------------

def configs():
    out = []
    compose = load_yaml(os.path.join(DEPLOY, "compose.yaml"))
    services = compose["services"]
    for name, toml_path in (("worker", "config/snapsync.example.toml"), ("worker-sandbox", "config/sandbox.toml")):
        svc = services[name]
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items() if k.startswith("SNAPSYNC__")}
        out.append({
            "name": f"compose {name} ({toml_path})",
            "toml": read(os.path.join(ROOT, toml_path)),
            "env": env,
            "worker_grace_secs": duration_secs(svc.get("stop_grace_period", "10s")),
        })
    base = os.path.join(DEPLOY, "k8s", "base")
    overlay = os.path.join(DEPLOY, "k8s", "overlays", "sandbox")
    cm = by_kind(load_yaml_all(os.path.join(base, "configmap.yaml")))["ConfigMap"]["snapsync-config"]
    patch = by_kind(load_yaml_all(os.path.join(overlay, "patch-config.yaml")))["ConfigMap"]["snapsync-config"]
    worker = by_kind(load_yaml_all(os.path.join(base, "worker.yaml")))["Deployment"]["snapsync-worker"]
    grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    for name, toml, secret_file in (
        ("k8s base", cm["data"]["snapsync.toml"], os.path.join(base, "secret.example.yaml")),
        ("k8s overlays/sandbox", patch["data"]["snapsync.toml"], os.path.join(overlay, "secret.yaml")),
    ):
        secret = by_kind(load_yaml_all(secret_file))["Secret"]["snapsync-secrets"]
        out.append({"name": name, "toml": toml, "env": dict(secret.get("stringData") or {}), "worker_grace_secs": grace})
    print(json.dumps(out))


def main():
    global ROOT, DEPLOY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The suite's negative test checks a broken copy of the repository's files.
    parser.add_argument("--root", help="the repository to check (default: this script's)")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="every offline check; exit 1 on any problem")
    check.add_argument("--worker-deadline-secs", type=float, default=30)
    check.add_argument("--serve-drain-secs", type=float, default=15)
    sub.add_parser("configs", help="JSON: each deployment's config text and SNAPSYNC__ variables")
    args = parser.parse_args()
    if args.root:
        ROOT = os.path.abspath(args.root)
        DEPLOY = os.path.join(ROOT, "deploy")
    if args.command == "configs":
        configs()
        return 0
    exported, documented, in_source = exported_metrics()
    stages = check_dockerfile()
    check_compose(stages, args.worker_deadline_secs, args.serve_drain_secs)
    check_k8s(args.worker_deadline_secs, args.serve_drain_secs, exported, documented, in_source)
    check_rules(exported, documented, in_source)
    for n in notes:
        print(f"ok: {n}")
    for p in dict.fromkeys(problems):
        print(f"problem: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
