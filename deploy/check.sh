#!/usr/bin/env bash
# The deploy checks of `make test`: alert rules (promtool check + unit tests), Kubernetes
# manifests (kubernetes-validate, offline) and their consistency, the compose file, and the
# image: built, exported to a root filesystem, and run from it (chroot, or `podman run`
# where this machine allows it) through /healthz, a full simulated payment, a notification
# and a `promtool check metrics` of its scrape. Host names resolve inside the image: Redis
# and the notification receiver are reached as `localhost` through its /etc/hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "alert rules"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts_test.yml

step "kubernetes manifests"
# ServiceMonitor is a Prometheus Operator CRD the tool has no schema for; it is checked below.
manifests=$(ls deploy/kubernetes/*.yaml | grep -v servicemonitor)
kubernetes-validate --strict --quiet $manifests
python3 - <<'PY'
import yaml
load = lambda f: yaml.safe_load(open(f"deploy/kubernetes/{f}.yaml"))
dep, cm, svc, sm, pdb = (load(f) for f in
    ["deployment", "configmap", "service", "servicemonitor", "poddisruptionbudget"])
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
labels = dep["spec"]["template"]["metadata"]["labels"]
assert dep["spec"]["replicas"] == 2
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["securityContext"]["readOnlyRootFilesystem"] is True
assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
# The grace period covers the preStop pause, the longest request and the notifier's drain.
need = (c["lifecycle"]["preStop"]["sleep"]["seconds"]
        + int(cm["data"]["ROUTE_TIMEOUT_MS"]) / 1000 + int(cm["data"]["SHUTDOWN_GRACE_MS"]) / 1000)
assert pod["terminationGracePeriodSeconds"] >= need, (pod["terminationGracePeriodSeconds"], need)
secret_keys = set(load("secret")["stringData"])
refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "valueFrom" in e}
assert refs == secret_keys, (refs, secret_keys)
for sel in (svc["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
    assert sel.items() <= labels.items(), sel
assert sm["apiVersion"] == "monitoring.coreos.com/v1" and sm["kind"] == "ServiceMonitor"
assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
ports = {p["name"] for p in svc["spec"]["ports"]}
assert all(e["port"] in ports and e["path"] == "/metrics" for e in sm["spec"]["endpoints"])
print("kubernetes manifests consistent")
PY

step "compose file"
python3 - <<'PY'
import yaml
d = yaml.safe_load(open("deploy/compose.yaml"))
s = d["services"]
replicas = [n for n, v in s.items() if v.get("image", "").startswith("localhost/payrouter") and "command" not in v]
assert len(replicas) == 2, replicas
assert all(s[n]["environment"]["REDIS_URL"].startswith("redis://redis:") for n in replicas)
conf = open("deploy/compose/nginx.conf").read()
assert all(f"server {n}:8080" in conf for n in replicas)
assert s["simulators"]["command"] == ["simulate"] and "redis" in s
print("compose file consistent")
PY

step "image"
tag=$(deploy/image.sh | tail -1)
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port); sim_port=$(free_port); redis_port=$(free_port); receiver_port=$(free_port)

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
# The notification receiver: records each body, answers 204.
python3 - "$receiver_port" "$work/notifications" >"$work/receiver.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(204); self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

# The demo profile by name once the binary has it (compiled-in profiles come with --version),
# and its settings spelled out either way.
settings=(HTTP_HOST=127.0.0.1 HTTP_PORT="$http_port" SIMULATE=true SIM_PORT="$sim_port"
    LOG_FORMAT=json LOG_LEVEL=info
    REDIS_URL="redis://localhost:$redis_port"
    PAYMENT_CALLBACK_URL="http://localhost:$receiver_port/notify")

if [ "$(podman run --rm "$tag" no-such-command >/dev/null 2>&1; echo $?)" = 2 ]; then
    echo "podman run works: running the image"
    runner=podman
    podman run --rm "$tag" --version >/dev/null 2>&1 && settings+=(PAYROUTER_PROFILE=demo)
    envs=(); for s in "${settings[@]}"; do envs+=(-e "$s"); done
    podman run --rm --network=host --name "payrouter-check-$$" "${envs[@]}" "$tag" >"$work/payrouter.log" 2>&1 &
    pids+=($!)
else
    echo "podman cannot run containers here: running /payrouter from the exported root filesystem"
    runner=chroot
    root="$work/root"
    mkdir -p "$root"
    cid=$(podman create "$tag")
    podman export "$cid" | tar -x -C "$root"
    podman rm "$cid" >/dev/null
    # What the container runtime would provide: /etc/hosts (and /dev/null, /dev/urandom).
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
    user=$(podman image inspect --format '{{.Config.User}}' "$tag")
    [ -n "$user" ] && [ "${user%%:*}" != 0 ] || fail "the image runs as root ($user)"
    ls "$root" | sort | tr '\n' ' '; echo
    chroot --userspec="$user" "$root" /payrouter --version >/dev/null 2>&1 && settings+=(PAYROUTER_PROFILE=demo)
    env -i "${settings[@]}" "$(command -v chroot)" --userspec="$user" "$root" /payrouter >"$work/payrouter.log" 2>&1 &
    pids+=($!)
fi
payrouter_pid=${pids[-1]}
base="http://127.0.0.1:$http_port"
sim="http://127.0.0.1:$sim_port"

# Polls `cmd` until it succeeds, at most $1 times 0.25 s.
until_ok() {
    local n=$1; shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    return 1
}
until_ok 80 curl -fsS "$base/healthz" || { cat "$work/payrouter.log"; fail "/healthz did not answer"; }
curl -fsS "$base/readyz" | grep -q ready || fail "/readyz: the store (Redis via localhost) is not reachable"
echo "healthz and readyz answer; Redis reached as localhost"

pay=$(curl -fsS "$base/v3/fena/pay" -H 'content-type: application/json' \
    -d '{"amount":1299,"currency":"GBP","shopTransactionId":"image-check-1"}')
payment_id=$(jq -er .paymentId <<<"$pay") || fail "pay answered $pay"
[ "$(jq -r .result <<<"$pay")" = REDIRECT_TO_URL ] || fail "pay answered $pay"
# The payer presses Pay: the simulator marks it paid and posts its callback.
curl -fsS "$sim/fena/_sim/payments/$payment_id/state" -H 'content-type: application/json' \
    -d '{"status":"paid","callback":true}' >/dev/null
status_is_accepted() {
    curl -fsS "$base/v3/fena/status?paymentId=$payment_id" | jq -e '.status == "ACCEPTED"'
}
until_ok 40 status_is_accepted || fail "payment $payment_id is not ACCEPTED: $(curl -sS "$base/v3/fena/status?paymentId=$payment_id")"
echo "payment $payment_id ACCEPTED"
notified() { grep -q "\"paymentId\":\"$payment_id\".*\"status\":\"ACCEPTED\"\|\"status\":\"ACCEPTED\".*\"paymentId\":\"$payment_id\"" "$work/notifications"; }
until_ok 40 notified || { cat "$work/payrouter.log"; fail "no ACCEPTED notification reached the receiver at localhost"; }
echo "notification delivered to http://localhost:$receiver_port"

curl -fsS "$base/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
echo "promtool check metrics: clean"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
grep -q "^payrouter_build_info{.*commit=\"$commit\"" "$work/metrics.txt" \
    || fail "payrouter_build_info does not name commit $commit: $(grep build_info "$work/metrics.txt")"

kill -TERM "$payrouter_pid"
wait "$payrouter_pid" || fail "payrouter did not exit 0 on SIGTERM"
python3 - "$work/payrouter.log" "$payment_id" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert lines, "no JSON log lines"
for l in map(json.loads, lines):
    assert l["service"] == "payrouter" and l.get("version"), l
access = [l for l in map(json.loads, lines) if l.get("message") == "request" and l.get("payment_id") == sys.argv[2]]
assert any(l["route"] == "/v3/{provider}/pay" and isinstance(l["latency_ms"], (int, float)) for l in access), access
print(f"{len(lines)} JSON log lines carry service and version; access lines name the payment")
PY
echo "image $tag: self-contained ($runner)"
