#!/bin/bash
# The immutable-mountpoint agent (`bulwark agent`): the round trip of a trapped mount call, and
# the agent's memory. Needs root.
#
# Latency: a system container (user namespace, all capabilities) runs src/test/c/agent/mnt.c's
# loop, N calls of mount(MS_REMOUNT|MS_BIND) on its own tmpfs, in three configurations:
#   emulated   remount read-write: the agent copies the arguments and its resident helper's
#              worker for the caller's context resolves and performs the call in the caller's
#              namespaces, root and credentials (the path that guards immutable mounts); after
#              the first call on the worker's standing verdict for that mount
#   setattr    mount_setattr clearing read-only on the same tmpfs: the same way, and after the
#              first calls on the same standing verdict
#   asked      the same with AT_RECURSIVE: every call's verdict comes from the agent, on the
#              caller's mount table
#   continued  remount read-only: decided on the registers alone, the kernel runs the call
#   untrapped  the same container without the profile
# and sysinfo(2) and sched_getaffinity(2), answered by the agent from the container's limits,
# against the kernel's.
# Memory: the agent's VmRSS with 1 and with 50 registered containers (each makes one emulated
# call, then `sleep`s, detached), and that of their resident helpers and workers.
set -euo pipefail
N=${N:-5000}            # emulated calls per container
NFAST=${NFAST:-20000}   # continued and untrapped calls per container
RUNS=${RUNS:-3}         # containers per configuration; the best is kept
MANY=${MANY:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages busybox-static musl-tools
# A JVM per call (the direct path), as the figures in README were taken, and no planner left
# running afterwards.
export BULWARK_PLANNER=off
"$here/bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /tmp/bulwark-agent-bench.XXXXXX)
chmod 711 "$work"
B="$here/bulwark --root $work/state"
agent=
cleanup() {
    for d in "$work"/state/*/; do
        [ -d "$d" ] && $B delete --force "$(basename "$d")" >/dev/null 2>&1 || true
    done
    [ -n "$agent" ] && kill -KILL "$agent" 2>/dev/null || true
    if [ -f "$work/agent.sock.keeper.pid" ]; then
        read -r kpid kstart <"$work/agent.sock.keeper.pid"
        # the keeper's PID only while its start time is the one recorded (no reused PID)
        if [ "$(awk '{print $22}' "/proc/$kpid/stat" 2>/dev/null)" = "$kstart" ]; then kill -KILL "$kpid" 2>/dev/null || true; fi
    fi
    wait 2>/dev/null || true
    # the agent's FUSE view of /proc stays mounted while its keeper holds /dev/fuse: gone with both now
    if grep -q " $work/agent.sock.procview " /proc/self/mountinfo; then umount -l "$work/agent.sock.procview"; fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs" "$work/base"
cp -a "$here/target/native/image/rootfs/." "$work/rootfs/"
musl-gcc -static -O2 -Wall -Wextra -pthread -o "$work/rootfs/bin/mnt" "$here/src/test/c/agent/mnt.c"
"$here/bulwark" spec --bundle "$work/base"
tool() { java -cp "$here/target/bulwark.jar" "$here/bench/AgentBenchTool.java" "$@"; }

# started as AgentLauncher (and the systemd unit it writes) start it: a small serial-GC heap
java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Xmx48m --enable-native-access=ALL-UNNAMED \
    -Dbulwark.stage="$here/target/native/bulwark-stage" -cp "$here/target/bulwark.jar" dev.bulwark.cli.Main \
    agent --socket "$work/agent.sock" 2>"$work/agent.log" &
agent=$!
for _ in $(seq 200); do grep -q listening "$work/agent.log" 2>/dev/null && break; sleep 0.05; done
grep -q listening "$work/agent.log" || { cat "$work/agent.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ { print $2 / 1024 }' "/proc/$agent/status"; }
rss_start=$(rss)

loop() {   # name socket|- n flags|sysinfo -> microseconds per call (best of RUNS)
    local name=$1 sock=$2 n=$3 flags=$4 best= what
    mkdir -p "$work/$name"
    what="mnt loop $n /tmp/n $flags"
    case $flags in sysinfo|affinity) what="mnt $flags $n" ;; esac
    tool config "$work/base/config.json" "$work/$name/config.json" "$work/rootfs" "$sock" \
        sh -c "mkdir /tmp/n && mount -t tmpfs t /tmp/n && $what"
    for i in $(seq "$RUNS"); do
        us=$($B run --bundle "$work/$name" "$name-$i" </dev/null)
        case $us in *errno*|"") echo "$name: $us" >&2; exit 1 ;; esac
        best=$(awk -v a="$us" -v b="${best:-$us}" 'BEGIN { print (a < b ? a : b) }')
    done
    echo "$best"
}
emulated=$(loop emulated "$work/agent.sock" "$N" 4128)      # MS_REMOUNT|MS_BIND
setattr=$(loop setattr "$work/agent.sock" "$N" setattr)
asked=$(loop asked "$work/agent.sock" "$N" rsetattr)
continued=$(loop continued "$work/agent.sock" "$NFAST" 4129) # ... |MS_RDONLY
untrapped=$(loop untrapped - "$NFAST" 4129)
sysinfo_agent=$(loop sysinfo-agent "$work/agent.sock" "$N" sysinfo)
sysinfo_kernel=$(loop sysinfo-kernel - "$NFAST" sysinfo)
affinity_agent=$(loop affinity-agent "$work/agent.sock" "$N" affinity)
affinity_kernel=$(loop affinity-kernel - "$NFAST" affinity)

mkdir -p "$work/hold"
# each makes one emulated call first, so it has its resident helper and one worker
tool config "$work/base/config.json" "$work/hold/config.json" "$work/rootfs" "$work/agent.sock" \
    sh -c "mkdir /tmp/n && mount -t tmpfs t /tmp/n && mnt loop 1 /tmp/n 4128 >/dev/null && exec sleep 600"
rss0=$(rss)
$B run --detach --bundle "$work/hold" hold-1 </dev/null
sleep 1
rss1=$(rss)
for i in $(seq 2 "$MANY"); do
    $B run --detach --bundle "$work/hold" "hold-$i" </dev/null
done
for _ in $(seq 100); do
    [ "$(grep -c 'hold-.*registered' "$work/agent.log")" -ge "$MANY" ] && break
    sleep 0.1
done
sleep 1
rssN=$(rss)
# the helpers and their workers: processes of their own, below the agent
helpers() {
    local total=0 n=0 p
    for p in $(pgrep -P "$agent"); do
        case $(readlink "/proc/$p/exe") in */bulwark-mountctl) ;; *) continue ;; esac
        for q in $p $(pgrep -P "$p"); do
            total=$((total + $(awk '/^VmRSS/ { print $2 }' "/proc/$q/status"))); n=$((n + 1))
        done
    done
    echo "$n $(awk -v t=$total 'BEGIN { print t / 1024 }')"
}
read -r nhelpers helpers_mib < <(helpers)
threads=$(awk '/^Threads/ { print $2 }' "/proc/$agent/status")

echo "Agent round trip of a trapped mount(2), microseconds per call (best of $RUNS containers):"
printf "  %-58s %8.1f\n" "emulated (remount rw: copy, resident helper in caller's context)" "$emulated"
printf "  %-58s %8.1f\n" "emulated (mount_setattr rw of one mount: the same)" "$setattr"
printf "  %-58s %8.1f\n" "emulated, asked (mount_setattr rw, AT_RECURSIVE: the agent's verdict each call)" "$asked"
printf "  %-58s %8.1f\n" "continued (remount ro: decided on registers)" "$continued"
printf "  %-58s %8.1f\n" "untrapped (no profile)" "$untrapped"
echo "sysinfo(2), microseconds per call:"
printf "  %-58s %8.1f\n" "answered by the agent from the container's limits" "$sysinfo_agent"
printf "  %-58s %8.1f\n" "the kernel's (no profile)" "$sysinfo_kernel"
echo "sched_getaffinity(2), microseconds per call:"
printf "  %-58s %8.1f\n" "answered by the agent (the view's CPUs kept 1 s per cgroup set)" "$affinity_agent"
printf "  %-58s %8.1f\n" "the kernel's (no profile)" "$affinity_kernel"
echo "Agent memory (VmRSS, MiB):"
printf "  %-58s %8.1f\n" "just started" "$rss_start"
printf "  %-58s %8.1f\n" "after the latency runs, no container" "$rss0"
printf "  %-58s %8.1f\n" "1 registered container" "$rss1"
printf "  %-58s %8.1f\n" "$MANY registered containers ($threads threads)" "$rssN"
printf "  %-58s %8.1f\n" "their $nhelpers helper and worker processes, together" "$helpers_mib"
