#!/bin/sh
# What the test suite leaves behind, against a snapshot taken before it ran.
#   scripts/leak-check.sh snapshot DIR   records the host's mounts, processes, cgroups, network
#                                        namespaces and links, state and ID-range slots in DIR
#   scripts/leak-check.sh compare DIR    lists everything of ours that appeared since and is
#                                        still there; exits 1 if there is any
# "Of ours": mounts under /tmp, /var/tmp, /run/bulwark*, /var/lib/bulwark or with bulwark in
# their path or source; processes in another PID namespace than this script's, or whose
# command line names bulwark or a temporary directory, or that are one of the daemons the tests
# start; cgroups named for bulwark, docker, containerd or libpod other than the empty `bulwark`
# parents; container state under /run/bulwark; live planners; ID-range slots with an owner;
# network namespaces and links; temporary directories the tests make (/tmp/bulwark*, /tmp/bw*).
set -eu

mode=${1:?usage: leak-check.sh snapshot|compare DIR}
dir=${2:?usage: leak-check.sh snapshot|compare DIR}

mounts() {
    # mount point and source of every mount, as mountinfo spells them (octal escapes kept)
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; print $5, $(i + 2) }' /proc/self/mountinfo |
        awk '$1 ~ "^/(tmp|var/tmp)/" || $1 ~ "^/run/bulwark" || $1 ~ "^/var/lib/bulwark" || $1 ~ "bulwark" || $2 ~ "bulwark"' | sort -u
}

# Whether PID is this script or one of its descendants (its subshells, pipelines).
mine() {
    q=$1
    while [ -n "$q" ] && [ "$q" -gt 1 ]; do
        [ "$q" = "$$" ] && return 0
        q=$(sed 's/.*) //' "/proc/$q/stat" 2>/dev/null | awk '{ print $2 }')
    done
    return 1
}

processes() {
    self_ns=$(readlink /proc/self/ns/pid)
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        stat=$(cat "$p/stat" 2>/dev/null) || continue
        # the start time is field 22; the command name (field 2) may hold spaces, so cut after ')'
        rest=$(printf '%s\n' "$stat" | sed 's/.*) //')
        # a zombie holds nothing but its PID, until its parent reaps it
        [ "${rest%% *}" = Z ] && continue
        start=$(printf '%s\n' "$rest" | awk '{ print $20 }')
        ns=$(readlink "$p/ns/pid" 2>/dev/null) || continue
        comm=$(cat "$p/comm" 2>/dev/null) || continue
        cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-300) || continue
        ours=no
        [ "$ns" != "$self_ns" ] && ours=yes
        case "$cmd" in *bulwark*|*/tmp/*) ours=yes ;; esac
        case "$comm" in
            dockerd|containerd|containerd-shim*|conmon|podman|registry|docker-registry|qemu-system-*|runc|crun) ours=yes ;;
        esac
        [ "$ours" = yes ] && ! mine "$pid" && printf '%s %s %s\n' "$pid" "$start" "$comm: $cmd"
    done | sort
}

cgroups() {
    awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | sort -u | while read -r m; do
        find "$m" -mindepth 1 -type d \( -path '*bulwark*' -o -path '*docker*' -o -path '*containerd*' -o -path '*libpod*' \) 2>/dev/null
    done | sort
}

state() {
    for d in /run/bulwark /run/bulwark-*; do
        [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 ! -name '.*' ! -name '*.lock' ! -name '*.start' ! -name '*.log' | sed 's/^/state: /'
    done
    if [ -d /var/lib/bulwark/idranges ]; then
        for s in /var/lib/bulwark/idranges/*; do
            [ -s "$s" ] && echo "ID range slot with an owner: $s: $(head -c 200 "$s" | tr '\n\t' '; ')"
        done
    fi
    for d in /tmp/bulwark* /tmp/bw*; do
        [ -e "$d" ] && echo "temporary directory: $d"
    done
    ip netns list 2>/dev/null | sed 's/^/network namespace: /'
    ls /sys/class/net | sed 's/^/link: /'
    true
}

leftovers() {
    mounts | comm -13 "$dir/mounts" - | sed 's/^/mount: /'
    # processes are matched by PID and start time, so a reused PID counts as new
    processes | while read -r pid start rest; do
        grep -qx "$pid $start" "$dir/processes" && continue
        [ -d "/proc/$pid" ] && echo "process: $pid $rest"
    done
    cgroups | comm -13 "$dir/cgroups" - | while read -r cg; do
        # the parents under which containers are made stay, empty
        if [ "$(basename "$cg")" = bulwark ] && [ -z "$(find "$cg" -mindepth 1 -type d)" ] &&
            ! grep -q . "$cg/cgroup.procs" 2>/dev/null; then
            continue
        fi
        echo "cgroup: $cg"
    done
    state | sort | comm -13 "$dir/state" -
}

case "$mode" in
snapshot)
    mkdir -p "$dir"
    mounts >"$dir/mounts"
    processes | awk '{ print $1, $2 }' >"$dir/processes"
    cgroups >"$dir/cgroups"
    state | sort >"$dir/state"
    ;;
compare)
    left=$(mktemp)
    leftovers >"$left"
    if [ -s "$left" ]; then
        # an engine's helper may still be finishing the cleanup of its last container
        sleep 3
        leftovers >"$left"
    fi
    if [ -s "$left" ]; then
        echo "leak-check: the tests left these behind:" >&2
        sed 's/^/  /' "$left" >&2
        rm -f "$left"
        exit 1
    fi
    rm -f "$left"
    echo "leak-check: nothing left behind (mounts, processes, cgroups, state, ID ranges, network namespaces, links, temporary directories)" >&2
    ;;
*)
    echo "usage: leak-check.sh snapshot|compare DIR" >&2
    exit 2
    ;;
esac
