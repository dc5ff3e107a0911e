#!/bin/bash
# The cost of an allowed syscall inside a container under Docker's default seccomp profile:
# Bulwark's program (`bulwark run`) against the same profile as runc installs it with libseccomp
# (`runc run`), on the same config (the one `bulwark spec` writes), interleaved in one run, each
# beside a baseline without linux.seccomp. Prints ns per call, the filter's overhead over the
# baseline and the ratio, and the program sizes: Bulwark's as compiled, libseccomp's as exported,
# and both as the kernel holds them in the running containers. Needs root.
#
# Two calls are timed. getppid's verdict does not depend on its arguments, so a kernel >= 5.11
# answers it from the seccomp action cache without running either program: that is the common
# case, and both filters should cost next to nothing there. personality(0xffffffff) is allowed
# only for listed argument values, so the program runs to the end on every call: that is the
# cost of the program itself.
set -euo pipefail
N=${N:-1000000}   # calls per round; the loop keeps the best of 5 rounds
RUNS=${RUNS:-5}   # containers per runtime and configuration, interleaved; the best is kept
# Same environment as the other benchmarks (see namespace.sh).
. "$(dirname -- "$0")/namespace.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc busybox-static musl-tools gcc libseccomp-dev
# A JVM per call (the direct path), as the figures in README were taken, and no planner left
# running afterwards.
export BULWARK_PLANNER=off
"$here/bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /tmp/bulwark-seccomp-bench.XXXXXX)
held=()
cleanup() {
    for p in "${held[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

musl-gcc -static -O2 -Wall -Wextra -o "$work/seccomp-loop" "$here/bench/seccomp-loop.c"
gcc -O2 -Wall -Wextra -o "$work/filter-size" "$here/bench/filter-size.c"
gcc -O2 -Wall -Wextra -o "$work/scmp_export" "$here/src/test/c/seccomp/scmp_export.c" -lseccomp
mkdir -p "$work/rootfs/bin" "$work/base"
cp "$work/seccomp-loop" "$work/rootfs/bin/seccomp-loop"
"$here/bulwark" spec --bundle "$work/base"
tool() { java -cp "$here/target/bulwark.jar" "$here/bench/SeccompBenchTool.java" "$@"; }
for cfg in filter nofilter; do
    mkdir -p "$work/$cfg"
    tool config "$work/base/config.json" "$work/$cfg/config.json" "$work/rootfs" "$cfg" /bin/seccomp-loop "$N"
done
mkdir -p "$work/hold"
tool config "$work/base/config.json" "$work/hold/config.json" "$work/rootfs" filter /bin/seccomp-loop hold

cmd() {
    case "$1" in
        bulwark) echo "$here/bulwark --root $work/state-bulwark" ;;
        runc) echo "runc --root $work/state-runc" ;;
    esac
}

# ---- program sizes --------------------------------------------------------------------------
tool program "$work/filter/config.json" >"$work/program.txt"
bulwark_size=$(head -1 "$work/program.txt")
lib_size() {
    { sed -n 2p "$work/program.txt"; echo "optimize $1"; tail -n +3 "$work/program.txt"; } |
        "$work/scmp_export" | wc -c | awk '{ print $1 / 8 }'
}
installed() {   # runtime -> instruction counts of the filters in a running container, newest first
    local rt=$1 out="$work/hold-$1.out" pid=""
    $(cmd "$rt") run --bundle "$work/hold" "hold-$rt" >"$out" 2>&1 </dev/null &
    for _ in $(seq 1 200); do grep -q ready "$out" 2>/dev/null && break; sleep 0.05; done
    if [ "$rt" = bulwark ]; then
        pid=$(cat "$work/state-bulwark/hold-bulwark/pid")
    else
        pid=$(runc --root "$work/state-runc" state hold-runc | sed -n 's/^ *"pid": *\([0-9]*\).*/\1/p')
    fi
    held+=("$pid")
    "$work/filter-size" "$pid"
    kill -KILL "$pid"
    wait || true
}
bulwark_installed=$(installed bulwark)
runc_installed=$(installed runc)

# ---- timings --------------------------------------------------------------------------------
declare -A best
for i in $(seq 1 "$RUNS"); do
    for rt in bulwark runc; do
        for cfg in filter nofilter; do
            while read -r call ns; do
                key="$rt/$cfg/$call"
                best[$key]=$(awk -v a="${best[$key]:-1e18}" -v b="$ns" 'BEGIN { print (b < a ? b : a) }')
            done < <($(cmd "$rt") run --bundle "$work/$cfg" "b-$rt-$cfg-$i" </dev/null)
        done
    done
done

echo "seccomp: Docker's default profile for Docker's default capabilities, kernel $(uname -r)"
echo "program size (instructions):"
printf "  %-44s %5s\n" "bulwark, compiled" "$bulwark_size"
printf "  %-44s %5s\n" "bulwark, installed (kernel's copy)" "$bulwark_installed"
printf "  %-44s %5s\n" "runc $(runc --version | sed -n 's/^runc version //p'), installed (kernel's copy)" "$runc_installed"
printf "  %-44s %5s\n" "libseccomp $(runc --version | sed -n 's/^libseccomp: //p') export, default (linear)" "$(lib_size 1)"
printf "  %-44s %5s\n" "libseccomp export, binary tree (optimize 2)" "$(lib_size 2)"
echo "ns per call, best of $RUNS containers x 5 rounds of $N calls:"
printf "  %-26s %10s %24s\n" "" "getppid" "personality(0xffffffff)"
for rt in bulwark runc; do
    for cfg in nofilter filter; do
        label="$rt, $([ "$cfg" = filter ] && echo "default profile" || echo "no filter")"
        printf "  %-26s %10.1f %24.1f\n" "$label" "${best[$rt/$cfg/getppid]}" "${best[$rt/$cfg/personality]}"
    done
done
echo "filter overhead (profile minus no filter), ns per call:"
for call in getppid personality; do
    awk -v call="$call" -v bf="${best[bulwark/filter/$call]}" -v bn="${best[bulwark/nofilter/$call]}" \
        -v rf="${best[runc/filter/$call]}" -v rn="${best[runc/nofilter/$call]}" 'BEGIN {
        b = bf - bn; r = rf - rn
        printf "  %-12s bulwark %6.1f   runc %6.1f   ", call, b, r
        if (r > 0.5) printf "bulwark/runc = %.2f", b / r; else printf "bulwark/runc = n/a (runc overhead below noise)"
        printf "   (with filter: bulwark/runc = %.2f)\n", bf / rf
    }'
done
echo "  (getppid is answered from the kernel's action cache under both filters, so its two overheads"
echo "   differ by noise only; personality runs each program to its verdict.)"
