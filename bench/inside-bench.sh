#!/bin/bash
# Docker and systemd inside a container (not a timed test): Bulwark's system container
# (`--runtime=bulwark-system`, no other flag) against what people run them with otherwise,
# runc with what `--privileged` gives (below), on a private dockerd + containerd started and
# stopped here and one
# Debian image made here by debootstrap (systemd, dbus, docker.io, iptables, and a busybox image
# as a tar for the inner dockerd). Interleaved, N each:
#   systemd: `docker run -d IMAGE /sbin/init` until `systemctl is-system-running` is past
#            starting; the state and the number of failed units are shown.
#   docker:  `docker run -d -v DIR:/var/lib/docker IMAGE dockerd` until the inner dockerd has
#            loaded the busybox tar and run `docker run --rm busybox true`.
# Needs root.
set -euo pipefail
N=${N:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages runc docker.io containerd busybox-static debootstrap debian-archive-keyring libcap2-bin
BULWARK_PLANNER=no-start "$here/bulwark" --version >/dev/null   # builds on first use; starts no planner
bulwark="$here/target/native/bulwark"
DOCKER=/usr/bin/docker

work=$(mktemp -d /tmp/bwi.XXXXXX)
parent=bulwark-inside-bench-$$
key_existed=$([ -e /etc/docker/key.json ] && echo 1 || echo 0)
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
    # the agent the runtime started on this run's socket, and its fd keeper, by their PIDs
    [ -f "$work/agent/agent.sock.keeper.pid" ] && stop_pid "$(cut -d' ' -f1 "$work/agent/agent.sock.keeper.pid")"
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$work" && stop_pid "$pid"
    done
    awk -v w="$work" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m"; done
    for h in /sys/fs/cgroup/*/; do
        [ -d "$h$parent" ] && { find "$h$parent" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; rmdir "$h$parent"; }
    done
    [ "$key_existed" = 0 ] && rm -f /etc/docker/key.json
    rm -rf "$work"
}
trap cleanup EXIT

suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
# the host's Debian mirror: the first URI of what apt reads (URIs: lines, or deb lines)
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null |
    sed -n 's/^URIs: *\([^ ]*\).*/\1/p; s/^deb  *\(\[[^]]*\] *\)\?\([^ ]*\).*/\2/p' | grep -v security | grep '^https\?://' | head -1 || true)
t0=$(date +%s)
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    --include=systemd,systemd-sysv,dbus,docker.io,iptables "$suite" "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" \
    >"$work/debootstrap.log" 2>&1 || { tail "$work/debootstrap.log" >&2; exit 1; }
echo "debootstrap $suite: $(( $(date +%s) - t0 )) s"
mkdir -p "$work/bb/bin"
cp /bin/busybox "$work/bb/bin/"
for c in sh true; do ln -s busybox "$work/bb/bin/$c"; done
tar -C "$work/bb" --numeric-owner -cf "$work/rootfs/root/busybox.tar" .

mkdir -p "$work/ctd" "$work/dkd/client" "$work/agent"
cat >"$work/ctd/config.toml" <<EOF
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/containerd.sock"
[ttrpc]
  address = "$work/ctd/containerd.sock.ttrpc"
EOF
/usr/bin/containerd --config "$work/ctd/config.toml" </dev/null >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 300); do
    /usr/bin/ctr --address "$work/ctd/containerd.sock" version >/dev/null 2>&1 && break
    kill -0 "$containerd_pid" || { cat "$work/containerd.log" >&2; exit 1; }
    sleep 0.1
done
# ID ranges from a pool of this run's own
printf 'bulwark:%s:%s\n' 3600000000 $((16 * 65536)) >"$work/subuid"
cp "$work/subuid" "$work/subgid"
printf 'id-range-state = %s\nsubuid = %s\nsubgid = %s\n' "$work/idranges" "$work/subuid" "$work/subgid" >"$work/system.conf"
printf '{"runtimes": {"bulwark-system": {"path": "%s", "runtimeArgs": ["--system", "--agent-socket", "%s", "--system-config", "%s"]}}}\n' \
    "$bulwark" "$work/agent/agent.sock" "$work/system.conf" >"$work/dkd/daemon.json"
/usr/sbin/dockerd --config-file "$work/dkd/daemon.json" --data-root "$work/dkd/data" --exec-root "$work/dkd/exec" \
    -H "unix://$work/docker.sock" --pidfile "$work/dkd/docker.pid" --containerd "$work/ctd/containerd.sock" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$parent" </dev/null >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_CONFIG="$work/dkd/client"
docker() { $DOCKER -H "unix://$work/docker.sock" "$@"; }
for _ in $(seq 300); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" || { cat "$work/dockerd.log" >&2; exit 1; }
    sleep 0.1
done
tar -C "$work/rootfs" --numeric-owner -c . | docker import - bulwark-bench/debian-system:latest >/dev/null
rm -rf "$work/rootfs"
IMAGE=bulwark-bench/debian-system:latest

now() { date +%s%N; }
declare -A sd_total=([bulwark-system]=0 [runc-unconfined]=0) dk_total=([bulwark-system]=0 [runc-unconfined]=0)
declare -A dk_up=([bulwark-system]=0 [runc-unconfined]=0)
# The peer is runc with what --privileged gives (every capability, no seccomp filter, no masked
# or read-only /proc paths, every device allowed, the host's cgroups read-write: the classic way
# to run dockerd or systemd under Docker). --privileged itself asks for every capability Docker
# knows, which a host whose own bounding set lacks one (CAP_SYS_RESOURCE on some sandboxes)
# refuses, and it ignores --cap-drop; so it is spelled out, less those capabilities.
last=$(cat /proc/sys/kernel/cap_last_cap)
bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
missing=$(capsh --decode="$(printf '%x' $(( ((1 << (last + 1)) - 1) & ~0x$bnd )))" | sed 's/^0x[0-9a-f]*=//; s/cap_//g' | tr 'a-z,' 'A-Z ')
peer=(--cap-add ALL --security-opt seccomp=unconfined --security-opt systempaths=unconfined "--device-cgroup-rule=a *:* rwm"
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host)
for c in $missing; do peer+=(--cap-drop "$c"); done
[ -n "${missing// /}" ] && echo "this host's bounding set lacks: $missing (not asked for)"
flags() { case $1 in bulwark-system) opts=(--runtime=bulwark-system) ;; runc-unconfined) opts=("${peer[@]}") ;; esac; }
systemd_once() {   # kind
    local name=sd-$RANDOM t0 t1 state
    t0=$(now)
    flags "$1"
    docker run -d "${opts[@]}" --name "$name" "$IMAGE" /sbin/init >/dev/null
    for _ in $(seq 1200); do
        state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
        case $state in ""|offline|initializing|starting) sleep 0.05 ;; *) break ;; esac
    done
    t1=$(now)
    sd_total[$1]=$(( ${sd_total[$1]} + t1 - t0 ))
    sd_state[$1]="$state, $(docker exec "$name" systemctl --failed --no-legend --plain 2>/dev/null | wc -l) failed units"
    docker rm -f "$name" >/dev/null
}
docker_once() {   # kind
    local name=dk-$RANDOM t0 tu t1 ok=0
    mkdir -p "$work/varlib/$name"
    t0=$(now)
    flags "$1"
    docker run -d "${opts[@]}" --name "$name" -v "$work/varlib/$name:/var/lib/docker" "$IMAGE" dockerd >/dev/null
    for _ in $(seq 1200); do docker exec "$name" docker version >/dev/null 2>&1 && break; sleep 0.05; done
    tu=$(now)
    docker exec "$name" sh -c 'docker import /root/busybox.tar bb >/dev/null && docker run --rm --network none bb true' && ok=1
    t1=$(now)
    [ "$ok" = 1 ] || echo "  $1: the inner docker run failed" >&2
    dk_total[$1]=$(( ${dk_total[$1]} + t1 - t0 ))
    dk_up[$1]=$(( ${dk_up[$1]} + tu - t0 ))
    docker rm -f "$name" >/dev/null
    rm -rf "$work/varlib/$name"
}
declare -A sd_state
systemd_once bulwark-system; systemd_once runc-unconfined   # warm-up: page cache, the agent
for _ in $(seq "$N"); do for k in bulwark-system runc-unconfined; do systemd_once "$k"; docker_once "$k"; done; done
echo "systemd as init, docker run to is-system-running past starting, $N runs each, interleaved:"
for k in bulwark-system runc-unconfined; do
    awk -v t="${sd_total[$k]}" -v n="$N" -v k="$k" -v s="${sd_state[$k]}" 'BEGIN { printf "  %-16s %7.0f ms  (%s)\n", k, t / n / 1e6, s }'
done
echo "docker inside, docker run of dockerd to an inner docker run --rm done, $N runs each, interleaved:"
for k in bulwark-system runc-unconfined; do
    awk -v t="${dk_total[$k]}" -v u="${dk_up[$k]}" -v n="$N" -v k="$k" \
        'BEGIN { printf "  %-16s %7.0f ms  (inner dockerd answering after %.0f ms)\n", k, t / n / 1e6, u / n / 1e6 }'
done
awk -v b="${sd_total[bulwark-system]}" -v r="${sd_total[runc-unconfined]}" -v c="${dk_total[bulwark-system]}" \
    -v d="${dk_total[runc-unconfined]}" 'BEGIN { printf "  bulwark-system/runc-unconfined: systemd %.2f, docker %.2f\n", b / r, c / d }'
