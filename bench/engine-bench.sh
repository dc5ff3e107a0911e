#!/bin/bash
# Bulwark, runc and crun as an engine drives them, interleaved, in milliseconds per container:
#  (a) `docker run --rm <busybox> true` on a private dockerd + containerd (started and stopped here
#      by PID), --runtime bulwark, runc and crun, N_DOCKER runs each (default 20);
#  (b) the raw cycle containerd's shim drives for one container: `create --bundle B --pid-file P ID`
#      (stdio to /dev/null), `start ID`, wait for /bin/true to exit, `delete ID`; N_CYCLE runs each
#      (default 50).
# Needs root; installs runc, crun, docker.io, containerd and busybox-static if missing.
set -euo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x
N_DOCKER=${N_DOCKER:-20}
N_CYCLE=${N_CYCLE:-50}
. "$(dirname -- "$0")/namespace.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc crun busybox-static docker.io containerd
BULWARK_PLANNER=no-start "$here/bulwark" --version >/dev/null   # builds on first use; starts no planner
# The client itself (no launcher script in between), as an installed bulwark would be.
bulwark="$here/target/native/bulwark"
DOCKER=/usr/bin/docker

# Short: the daemons' socket paths must fit in sun_path (108 bytes).
work=$(mktemp -d /tmp/bwb.XXXXXX)
# This benchmark's own planner (in this mount namespace), reached through the daemons'
# environment, which containerd's shim passes on to the runtime; stopped by PID at the end.
export BULWARK_PLANNER_SOCKET=$work/planner/p.sock
parent=bulwark-bench-$$
key_existed=$([ -e /etc/docker/key.json ] && echo 1 || echo 0)
run_existed=$([ -e /run/containerd ] && echo 1 || echo 0)
dockerd_pid=
containerd_pid=

stop_pid() {   # SIGTERM, SIGKILL after 20 s
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid"
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    if [ -n "$dockerd_pid" ]; then
        ids=$($DOCKER -H "unix://$work/docker.sock" ps -aq 2>/dev/null)
        [ -n "$ids" ] && $DOCKER -H "unix://$work/docker.sock" rm -f $ids >/dev/null 2>&1
    fi
    stop_pid "$dockerd_pid"
    stop_pid "$containerd_pid"
    [ -f "$BULWARK_PLANNER_SOCKET.pid" ] && stop_pid "$(cat "$BULWARK_PLANNER_SOCKET.pid")"
    # Shims outlive their containerd by design: those naming this directory, by PID.
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "$work" && stop_pid "$pid"
    done
    awk -v w="$work" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount "$m"; done
    for h in /sys/fs/cgroup/*/; do
        [ "$h" = /sys/fs/cgroup/unified/ ] && continue   # the private tmpfs above, gone with this namespace
        [ -d "$h$parent" ] && { rmdir "$h$parent"/* 2>/dev/null; rmdir "$h$parent"; }
    done
    [ "$key_existed" = 0 ] && rm -f /etc/docker/key.json
    if [ "$run_existed" = 0 ]; then
        rmdir /run/containerd/fifo /run/containerd/s /run/containerd/runc /run/containerd 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A busybox rootfs with /bin/true: the image for (a) and the bundle for (b).
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for c in sh true; do ln -s busybox "$work/rootfs/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/rootfs/etc/group"

ms() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%7.1f", t / n * 1000 }'; }
report() {   # title n; totals in seconds in $total[bulwark|runc|crun]
    echo "$1, $2 runs each, interleaved:"
    for rt in "${runtimes[@]}"; do
        printf '  %-8s %s ms per container\n' "$rt" "$(ms "${total[$rt]}" "$2")"
    done
    for rt in "${runtimes[@]}"; do
        [ "$rt" = bulwark ] && continue
        awk -v b="${total[bulwark]}" -v r="${total[$rt]}" -v rt="$rt" 'BEGIN { printf "  bulwark/%s = %.2f\n", rt, b / r }'
    done
}
declare -A total

# ---- (a) docker run --rm ----
mkdir -p "$work/ctd" "$work/dkd/client"
cat >"$work/ctd/config.toml" <<EOF
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/containerd.sock"
[ttrpc]
  address = "$work/ctd/containerd.sock.ttrpc"
[debug]
  address = "$work/ctd/debug.sock"
[metrics]
  address = ""
EOF
/usr/bin/containerd --config "$work/ctd/config.toml" </dev/null >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 300); do
    [ -S "$work/ctd/containerd.sock" ] && /usr/bin/ctr --address "$work/ctd/containerd.sock" version >/dev/null 2>&1 && break
    kill -0 "$containerd_pid" || { cat "$work/containerd.log" >&2; exit 1; }
    sleep 0.1
done
echo '{}' >"$work/dkd/daemon.json"
/usr/sbin/dockerd --config-file "$work/dkd/daemon.json" --data-root "$work/dkd/data" --exec-root "$work/dkd/exec" \
    -H "unix://$work/docker.sock" --pidfile "$work/dkd/docker.pid" --containerd "$work/ctd/containerd.sock" \
    --add-runtime "bulwark=$bulwark" --add-runtime crun=/usr/bin/crun \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$parent" </dev/null >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_CONFIG="$work/dkd/client"
docker() { $DOCKER -H "unix://$work/docker.sock" "$@"; }
for _ in $(seq 300); do
    [ -S "$work/docker.sock" ] && docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" || { cat "$work/dockerd.log" >&2; exit 1; }
    sleep 0.1
done
tar -C "$work/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" .
docker import "$work/layer.tar" bulwark-bench/busybox:latest >/dev/null

runtimes=()
for rt in bulwark runc crun; do
    # docker run: the libnetwork prestart hook runs with --network none too; the warm-up also
    # fills the page cache and Bulwark's AOT cache.
    if out=$(docker run --rm --runtime "$rt" --network none bulwark-bench/busybox:latest true 2>&1); then
        runtimes+=("$rt")
    else
        echo "docker run --runtime $rt fails here, left out of (a): $out" >&2
    fi
done
for rt in "${runtimes[@]}"; do total[$rt]=0; done
[ -S "$BULWARK_PLANNER_SOCKET" ] || { echo "engine-bench: the runtime calls did not start a planner at $BULWARK_PLANNER_SOCKET" >&2; exit 1; }
for i in $(seq 1 5); do docker run --rm --runtime bulwark --network none bulwark-bench/busybox:latest true >/dev/null; done
for i in $(seq 1 "$N_DOCKER"); do
    for rt in "${runtimes[@]}"; do
        t0=$EPOCHREALTIME
        docker run --rm --runtime "$rt" --network none bulwark-bench/busybox:latest true >/dev/null
        t1=$EPOCHREALTIME
        total[$rt]=$(awk -v a="${total[$rt]}" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.6f", a + t1 - t0 }')
    done
done
report "docker run --rm busybox true (dockerd 20.10, containerd shim runc.v2)" "$N_DOCKER"
docker rmi bulwark-bench/busybox:latest >/dev/null
stop_pid "$dockerd_pid"; dockerd_pid=
stop_pid "$containerd_pid"; containerd_pid=

# ---- (b) create + start + wait + delete, as the shim drives it ----
mkdir -p "$work/bundle"
mv "$work/rootfs" "$work/bundle/rootfs"
"$bulwark" spec --bundle "$work/bundle"
sed -i 's|^\(\t*\)"sh"$|\1"/bin/true"|' "$work/bundle/config.json"
# crun 1.8 knows runtime-spec versions up to 1.0.x; the config uses nothing newer.
sed -i 's|"ociVersion": "1.2.0"|"ociVersion": "1.0.2"|' "$work/bundle/config.json"
grep -q '"/bin/true"' "$work/bundle/config.json"
rt() {   # runtime args...: no subshell inside the timed loop
    local r=$1
    shift
    case "$r" in
        bulwark) "$bulwark" --root "$work/state-bulwark" "$@" ;;
        runc) /usr/sbin/runc --root "$work/state-runc" "$@" ;;
        crun) /usr/bin/crun --root "$work/state-crun" "$@" ;;
    esac
}
mkfifo "$work/never"
exec {never}<>"$work/never"
# The container's init is orphaned once the runtime exits and reaped by PID 1 (the shim in
# containerd's case): wait until it is gone or a zombie, with builtins only (no forks).
wait_exit() {
    local stat
    while read -r stat <"/proc/$1/stat" 2>/dev/null; do
        stat=${stat##*) }
        [ "${stat%% *}" = Z ] && return 0
        read -r -t 0.0005 -u "$never" || true
    done
}
cycle() {   # runtime id
    local r=$1 id=$2 pid
    rt "$r" create --bundle "$work/bundle" --pid-file "$work/$id.pid" "$id" </dev/null >/dev/null 2>&1
    rt "$r" start "$id"
    read -r pid <"$work/$id.pid" || [ -n "$pid" ]   # no newline at its end
    wait_exit "$pid"
    rt "$r" delete "$id"
    rm -f "$work/$id.pid"
}
runtimes=(bulwark runc crun)
for rt in "${runtimes[@]}"; do
    total[$rt]=0
    cycle "$rt" "warmup-$rt"
done
for i in $(seq 1 10); do cycle bulwark "warm-$i"; done
for i in $(seq 1 "$N_CYCLE"); do
    for rt in "${runtimes[@]}"; do
        t0=$EPOCHREALTIME
        cycle "$rt" "cycle-$i"
        t1=$EPOCHREALTIME
        total[$rt]=$(awk -v a="${total[$rt]}" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.6f", a + t1 - t0 }')
    done
done
report "create + start + wait + delete (/bin/true), three runtime calls per container" "$N_CYCLE"
