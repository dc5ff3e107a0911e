# Sourced first by the benchmarks that run crun or runc beside Bulwark.
#
# crun 1.8 (Debian 12) refuses hosts with cgroup v1 plus a cgroup2 mount ("hybrid"). So the whole
# benchmark re-executes in a private mount namespace where the empty cgroup2 hierarchy is
# detached; every runtime sees the same host, and the host's mounts are untouched. A private tmpfs
# takes its place: runtimes (and dockerd) still mkdir under /sys/fs/cgroup/unified, which would
# otherwise write into the host's /sys/fs/cgroup tmpfs, hidden under the host's cgroup2 mount.
if [ -z "${BULWARK_BENCH_NS:-}" ]; then
    exec unshare -m --propagation private env BULWARK_BENCH_NS=1 "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified; then
    umount /sys/fs/cgroup/unified
    mount -t tmpfs -o size=1m,mode=755 bulwark-bench /sys/fs/cgroup/unified
fi
