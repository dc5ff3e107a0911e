#!/bin/bash
# Create-to-running time of a system container versus a plain one (not a timed test): on the same
# bundle (busybox `sleep`, the config `bulwark spec` writes), `bulwark create` + `bulwark start`,
# timed until start returns (the process runs), then killed and deleted outside the timing.
# Interleaved, N each. The system container also gets its range from the allocator, ID-mapped
# root, all capabilities and the mount family trapped to the agent (started here, on a socket of
# this run, before the timing; stopped by PID at the end, with its fd keeper).
# runc's plain create+start is shown beside them for scale. Needs root.
set -euo pipefail
N=${N:-20}
. "$(dirname -- "$0")/namespace.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc busybox-static
# A JVM per call (the direct path), as the figures in README were taken, and no planner left
# running afterwards.
export BULWARK_PLANNER=off
"$here/bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /tmp/bulwark-system-bench.XXXXXX)
chmod 711 "$work"
sock=$work/agent/agent.sock
agent=
cleanup() {
    for id in $(ls "$work/state" 2>/dev/null); do "$here/bulwark" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ls "$work/state-runc" 2>/dev/null); do runc --root "$work/state-runc" delete --force "$id" >/dev/null 2>&1 || true; done
    if [ -n "$agent" ]; then kill -9 "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; fi
    if [ -f "$sock.keeper.pid" ]; then
        read -r kpid kstart < "$sock.keeper.pid"
        # the keeper's PID only while its start time is the one recorded (no reused PID)
        if [ "$(awk '{print $22}' "/proc/$kpid/stat" 2>/dev/null)" = "$kstart" ]; then kill -9 "$kpid" 2>/dev/null || true; fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/sleep"
"$here/bulwark" spec --bundle "$work/bundle"
sed -i 's|^\(\t*\)"sh"$|\1"/bin/sleep", "600"|' "$work/bundle/config.json"
sed -i 's|"ociVersion": "1.2.0"|"ociVersion": "1.0.2"|' "$work/bundle/config.json"
grep -q '"/bin/sleep", "600"' "$work/bundle/config.json"
printf 'bulwark:%s:%s\n' 3300000000 $((64 * 65536)) > "$work/subuid"
cp "$work/subuid" "$work/subgid"
printf 'id-range-state = %s\nsubuid = %s\nsubgid = %s\n' "$work/idranges" "$work/subuid" "$work/subgid" > "$work/system.conf"

mkdir -p "$work/agent"
"$here/bulwark" agent --socket "$sock" >"$work/agent/agent.log" 2>&1 &
agent=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "system-bench: the agent did not start: $(cat "$work/agent/agent.log")" >&2; exit 1; }

plain="$here/bulwark --root $work/state"
system="$here/bulwark --root $work/state --system --agent-socket $sock --system-config $work/system.conf"
ms() { date +%s%N; }
declare -A total=([plain]=0 [system]=0 [runc]=0)
one() { # kind id
    local t0 t1
    case $1 in
        plain) t0=$(ms); $plain create --bundle "$work/bundle" "$2"; $plain start "$2"; t1=$(ms)
               $plain kill "$2" KILL; $plain delete --force "$2" ;;
        system) t0=$(ms); $system create --bundle "$work/bundle" "$2"; $system start "$2"; t1=$(ms)
               $plain kill "$2" KILL; $plain delete --force "$2" ;;
        runc) t0=$(ms); runc --root "$work/state-runc" create --bundle "$work/bundle" "$2" </dev/null >/dev/null
              runc --root "$work/state-runc" start "$2"; t1=$(ms)
              runc --root "$work/state-runc" delete --force "$2" ;;
    esac
    total[$1]=$(( ${total[$1]} + t1 - t0 ))
}
# warm-up: page cache, AOT cache, seccomp compile cache
one plain warm-plain; one system warm-system; one runc warm-runc
total=([plain]=0 [system]=0 [runc]=0)
for i in $(seq 1 "$N"); do
    one plain "p$i"; one system "s$i"; one runc "r$i"
done
echo "create + start until running (busybox sleep), $N each, interleaved:"
for k in plain system runc; do
    awk -v n="$N" -v t="${total[$k]}" -v k="$k" 'BEGIN { printf "  %-22s %7.1f ms\n", (k == "runc" ? "runc (plain)" : "bulwark " k), t / n / 1e6 }'
done
awk -v s="${total[system]}" -v p="${total[plain]}" 'BEGIN { printf "  system / plain = %.2f (+%.1f ms)\n", s / p, (s - p) / '"$N"' / 1e6 }'
