#!/bin/bash
# Create-to-running time of a system container versus a plain one (not a timed test): on the same
# bundle (busybox `sleep`, the config `bulwark spec` writes), `bulwark create` + `bulwark start`,
# timed until start returns (the process runs), then killed and deleted outside the timing.
# Interleaved, N each. The system container also gets its range from the allocator, ID-mapped
# root, all capabilities and the mount family trapped to the agent (started here, on a socket of
# this run, before the timing; stopped by PID at the end, with its fd keeper).
# runc's plain create+start is shown beside them for scale. Then the read cost of the agent's
# virtualised /proc files in a system container against the host's own files and LXCFS's
# (Debian's lxcfs, mounted here by this run and unmounted at the end): bench/proc-read.c,
# best of 5 rounds of R open/read/close each. Needs root.
set -euo pipefail
N=${N:-20}
. "$(dirname -- "$0")/namespace.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc busybox-static lxcfs musl-tools
# A JVM per call (the direct path), as the figures in README were taken, and no planner left
# running afterwards.
export BULWARK_PLANNER=off
"$here/bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /tmp/bulwark-system-bench.XXXXXX)
chmod 711 "$work"
sock=$work/agent/agent.sock
agent=
lxcfs=
cleanup() {
    if [ -n "$lxcfs" ]; then kill "$lxcfs" 2>/dev/null || true; wait "$lxcfs" 2>/dev/null || true; fi
    if grep -q " $work/lxcfs " /proc/self/mountinfo; then umount -l "$work/lxcfs"; fi
    for id in $(ls "$work/state" 2>/dev/null); do "$here/bulwark" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ls "$work/state-runc" 2>/dev/null); do runc --root "$work/state-runc" delete --force "$id" >/dev/null 2>&1 || true; done
    if [ -n "$agent" ]; then kill -9 "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; fi
    if [ -f "$sock.keeper.pid" ]; then
        read -r kpid kstart < "$sock.keeper.pid"
        # the keeper's PID only while its start time is the one recorded (no reused PID)
        if [ "$(awk '{print $22}' "/proc/$kpid/stat" 2>/dev/null)" = "$kstart" ]; then kill -9 "$kpid" 2>/dev/null || true; fi
    fi
    # the agent's FUSE view of /proc stays mounted while its keeper holds /dev/fuse: gone with both now
    if grep -q " $sock.procview " /proc/self/mountinfo; then umount -l "$sock.procview"; fi
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

# ---- the read cost of a virtualised /proc file --------------------------------------------
R=${R:-2000}
files="/proc/meminfo /proc/uptime /proc/stat /proc/cpuinfo /sys/devices/system/cpu/online"
mkdir -p "$work/pr/rootfs/bin"
musl-gcc -static -O2 -o "$work/pr/rootfs/bin/proc-read" "$here/bench/proc-read.c"
"$here/bulwark" spec --bundle "$work/pr"
# every file twice: the first pass warms the agent's JIT (as a long-running agent is), the second counts
args=$(printf '"%s", ' /bin/proc-read "$R" $files $files)
sed -i "s|^\(\t*\)\"sh\"\$|\1${args%, }|" "$work/pr/config.json"
grep -q '"/bin/proc-read"' "$work/pr/config.json"
last() { awk '{ last[$1] = $0 } END { for (f in last) print last[f] }' | sort; }
$system run --bundle "$work/pr" pr1 </dev/null | last > "$work/pr.system"
"$work/pr/rootfs/bin/proc-read" "$R" $files $files | last > "$work/pr.host"
mkdir -p "$work/lxcfs"
lxcfs -f --pidfile "$work/lxcfs.pid" "$work/lxcfs" >"$work/lxcfs.log" 2>&1 &
lxcfs=$!
for _ in $(seq 100); do [ -f "$work/lxcfs/proc/meminfo" ] && break; sleep 0.05; done
[ -f "$work/lxcfs/proc/meminfo" ] || { echo "system-bench: lxcfs did not mount: $(cat "$work/lxcfs.log")" >&2; exit 1; }
"$work/pr/rootfs/bin/proc-read" "$R" $(for f in $files $files; do echo "$work/lxcfs$f"; done) | sed "s|^$work/lxcfs||" | last > "$work/pr.lxcfs"
echo
echo "read cost per open/read/close (µs, best of 5 x $R, after a pass that warms each):"
printf '  %-34s %10s %10s %10s   %s\n' file host agent lxcfs "agent/host  lxcfs/host"
join "$work/pr.host" "$work/pr.system" | join - "$work/pr.lxcfs" | while read -r f h hb a ab l lb; do
    awk -v f="$f" -v h="$h" -v a="$a" -v l="$l" 'BEGIN { printf "  %-34s %10.1f %10.1f %10.1f   %9.1fx %10.1fx\n", f, h, a, l, a / h, l / h }'
done
