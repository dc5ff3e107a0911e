#!/bin/bash
# Container start-to-exit latency: `bulwark run`, `runc run` and `crun run` on the same bundle
# (/bin/true from busybox, the config `bulwark spec` writes), interleaved, N runs each.
# Prints milliseconds per container and the ratios. Needs root; installs runc/crun if missing.
set -euo pipefail
N=${N:-50}
. "$(dirname -- "$0")/namespace.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc crun busybox-static
BULWARK_PLANNER=no-start "$here/bulwark" --version >/dev/null   # builds on first use; starts no planner
client=$here/target/native/bulwark

work=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
# This benchmark's own planner, in this private mount namespace (a planner serves only callers
# that see its mounts), stopped by its PID at the end.
export BULWARK_PLANNER_SOCKET=$work/planner/planner.sock
cleanup() {
    if [ -f "$BULWARK_PLANNER_SOCKET.pid" ]; then kill "$(cat "$BULWARK_PLANNER_SOCKET.pid")" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
"$here/bulwark" spec --bundle "$work/bundle"
sed -i 's|^\(\t*\)"sh"$|\1"/bin/true"|' "$work/bundle/config.json"
# crun 1.8 knows runtime-spec versions up to 1.0.x; the config uses nothing newer.
sed -i 's|"ociVersion": "1.2.0"|"ociVersion": "1.0.2"|' "$work/bundle/config.json"
grep -q '"/bin/true"' "$work/bundle/config.json"

declare -A total
runtimes=(bulwark runc crun direct)
cmd() {
    case "$1" in
        bulwark) echo "$client --root $work/state-bulwark" ;;
        direct) echo "env BULWARK_PLANNER=off $client --root $work/state-direct" ;;
        runc) echo "runc --root $work/state-runc" ;;
        crun) echo "crun --root $work/state-crun" ;;
    esac
}
for rt in "${runtimes[@]}"; do
    total[$rt]=0
    $(cmd "$rt") run --bundle "$work/bundle" "warmup-$rt" >/dev/null   # page cache, AOT cache, starts the planner
done
# The planner is up and warm (its warm-up compiles the per-container path) before timing starts.
for i in $(seq 1 100); do [ -S "$BULWARK_PLANNER_SOCKET" ] && break; sleep 0.1; done
sleep 3
for i in $(seq 1 20); do $(cmd bulwark) run --bundle "$work/bundle" "warm-$i" >/dev/null; done
for i in $(seq 1 "$N"); do
    for rt in "${runtimes[@]}"; do
        t0=$(date +%s%N)
        $(cmd "$rt") run --bundle "$work/bundle" "bench-$i" >/dev/null
        t1=$(date +%s%N)
        total[$rt]=$(( ${total[$rt]} + t1 - t0 ))
    done
done
echo "container run (/bin/true), $N runs each, interleaved (bulwark: the client and its warm planner; direct: a JVM per call):"
for rt in "${runtimes[@]}"; do
    awk -v n="$N" -v t="${total[$rt]}" -v rt="$rt" 'BEGIN { printf "  %-8s %7.1f ms per container\n", rt, t / n / 1e6 }'
done
awk -v b="${total[bulwark]}" -v r="${total[runc]}" -v c="${total[crun]}" -v d="${total[direct]}" \
    'BEGIN { printf "  bulwark/runc = %.2f   bulwark/crun = %.2f   direct/runc = %.2f\n", b / r, b / c, d / r }'
