#!/bin/bash
# What Landlock costs per container (docs/landlock.md). Two measurements, in one run:
#  1. the stage's part, exactly: a child creates the ruleset `bulwark spec`'s config gets from
#     its mounts (dev.bulwark.landlock=on), adds its rules and enforces it (bench/landlock-cost.c,
#     the same syscalls the stage makes), N times; and the cost of an open(2) afterwards;
#  2. end to end: `bulwark run` of busybox /bin/true through a warm planner, with the annotation
#     on and off, interleaved, N runs each (the difference is within the noise of ~30 ms runs).
# Needs root.
set -euo pipefail
N=${N:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages busybox-static gcc
BULWARK_PLANNER=no-start "$here/bulwark" --version >/dev/null   # builds on first use; starts no planner
client=$here/target/native/bulwark
abi=$("$here/target/native/bulwark-stage" landlock-abi)
echo "Landlock ABI of this kernel: $abi"
case "$abi" in 0*) echo "no Landlock here: nothing to measure"; exit 0 ;; esac

work=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
export BULWARK_PLANNER_SOCKET=$work/planner/planner.sock
cleanup() {
    if [ -f "$BULWARK_PLANNER_SOCKET.pid" ]; then kill "$(cat "$BULWARK_PLANNER_SOCKET.pid")" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
for b in on off; do
    mkdir -p "$work/$b/rootfs/bin"
    cp /bin/busybox "$work/$b/rootfs/bin/busybox"
    ln -s busybox "$work/$b/rootfs/bin/true"
    "$here/bulwark" spec --bundle "$work/$b"
    sed -i 's|^\(\t*\)"sh"$|\1"/bin/true"|' "$work/$b/config.json"
    sed -i "s|^{|{\n\t\"annotations\": {\"dev.bulwark.landlock\": \"$b\"},|" "$work/$b/config.json"
    grep -q "\"dev.bulwark.landlock\": \"$b\"" "$work/$b/config.json"
done

# 1. the rules `on` gives that config: the root (read-only) and each mount, read-only or not as mounted
gcc -O2 -o "$work/landlock-cost" "$here/bench/landlock-cost.c"
rules=("/:ro")
# (on the host, where the child runs; a mount point the host lacks is left out and said)
while read -r dest ro; do
    if [ -e "$dest" ]; then rules+=("$dest:$ro"); else echo "  (no $dest on this host: one rule fewer)"; fi
done < <(python3 - "$work/on/config.json" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1]))["mounts"]:
    o = m.get("options", [])
    print(m["destination"], "ro" if "ro" in o or "rro" in o else "rw")
EOF
)
handled=0x7fff   # every right to ABI 3 (Landlock.filesystemRights for ABI >= 3)
"$work/landlock-cost" "$((N * 20))" "$handled" "${rules[@]}"

# 2. end to end through the benchmark's own planner, stopped by its PID at the end
for b in on off; do "$client" --root "$work/state" run --bundle "$work/$b" "warmup-$b" >/dev/null; done
for i in $(seq 1 100); do [ -S "$BULWARK_PLANNER_SOCKET" ] && break; sleep 0.1; done
sleep 3
for i in $(seq 1 20); do for b in on off; do "$client" --root "$work/state" run --bundle "$work/$b" "warm-$b-$i" >/dev/null; done; done
declare -A total sq
total[on]=0; total[off]=0; sq[on]=0; sq[off]=0
for i in $(seq 1 "$N"); do
    for b in on off; do
        t0=$(date +%s%N)
        "$client" --root "$work/state" run --bundle "$work/$b" "bench-$b-$i" >/dev/null
        t1=$(date +%s%N)
        d=$(( (t1 - t0) / 1000 ))
        total[$b]=$(( ${total[$b]} + d ))
        sq[$b]=$(( ${sq[$b]} + d * d ))
    done
done
echo "bulwark run (/bin/true) through a warm planner, $N runs each, interleaved:"
for b in on off; do
    awk -v n="$N" -v t="${total[$b]}" -v s="${sq[$b]}" -v b="$b" 'BEGIN {
        m = t / n; sd = sqrt(s / n - m * m)
        printf "  landlock %-3s %7.2f ms per container (sd %.2f ms, standard error %.2f ms)\n", b, m / 1000, sd / 1000, sd / sqrt(n) / 1000 }'
done
awk -v n="$N" -v a="${total[on]}" -v b="${total[off]}" 'BEGIN { printf "  difference   %+7.2f ms\n", (a - b) / n / 1000 }'
