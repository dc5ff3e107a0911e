#!/bin/sh
# How the fixtures here were made (run as root on a Debian 12 host with runc, containerd, ctr,
# docker.io and podman installed): each engine runs a container of a one-layer busybox image
# through a wrapper runtime that copies the bundle's config.json aside and then execs runc, so
# each file is the config the engine really handed its runtime. Everything lives under one
# temporary directory (own containerd, dockerd and podman roots, no network), removed at the end.
#   capture.sh OUTDIR
set -eu
out=$(readlink -f "$1")
w=$(mktemp -d /tmp/bw-capture.XXXXXX)
cleanup() {
    [ -f "$w/docker.pid" ] && kill "$(cat "$w/docker.pid")" 2>/dev/null || true
    [ -f "$w/containerd.pid" ] && kill "$(cat "$w/containerd.pid")" 2>/dev/null || true
    sleep 2
    grep -o " $w[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$w"
}
trap cleanup EXIT

cat > "$w/runtime" <<WRAP
#!/bin/sh
# copy config.json of the bundle named by --bundle (or the cwd) on create, then run runc
prev=; bundle=.; create=
for a in "\$@"; do
    [ "\$prev" = --bundle ] || [ "\$prev" = -b ] && bundle=\$a
    [ "\$a" = create ] && create=1
    prev=\$a
done
[ -n "\$create" ] && cp "\$bundle/config.json" "$w/captured-\$(basename "\$0").json"
exec runc "\$@"
WRAP
chmod +x "$w/runtime"
for t in docker ctr podman; do ln -s runtime "$w/$t"; done

# the image: busybox-static as one layer, in docker save format
mkdir -p "$w/rootfs/bin" "$w/img"
cp /bin/busybox "$w/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$w/rootfs/bin/$a" ] || ln -s busybox "$w/rootfs/bin/$a"; done
tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$w/rootfs" -cf "$w/layer.tar" .
l=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
mkdir "$w/img/$l" && mv "$w/layer.tar" "$w/img/$l/layer.tar"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$l" > "$w/cfg"
c=$(sha256sum "$w/cfg" | cut -d' ' -f1)
mv "$w/cfg" "$w/img/$c.json"
printf '[{"Config":"%s.json","RepoTags":["capture/busybox:1"],"Layers":["%s/layer.tar"]}]' "$c" "$l" > "$w/img/manifest.json"
tar -C "$w/img" -cf "$w/image.tar" .

# containerd (ctr), then dockerd on it
cat > "$w/config.toml" <<TOML
version = 2
root = "$w/c-root"
state = "$w/c-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$w/containerd.sock"
[ttrpc]
  address = "$w/containerd.sock.ttrpc"
[debug]
  address = "$w/debug.sock"
TOML
containerd --config "$w/config.toml" > "$w/containerd.log" 2>&1 & echo $! > "$w/containerd.pid"
for i in $(seq 50); do ctr --address "$w/containerd.sock" version > /dev/null 2>&1 && break; sleep 0.2; done
ctr --address "$w/containerd.sock" images import "$w/image.tar" > /dev/null
ctr --address "$w/containerd.sock" run --rm --runc-binary "$w/ctr" docker.io/capture/busybox:1 cap-ctr true
echo '{}' > "$w/daemon.json"
dockerd --config-file "$w/daemon.json" --data-root "$w/d-data" --exec-root "$w/d-exec" -H "unix://$w/docker.sock" \
    --pidfile "$w/docker.pid" --containerd "$w/containerd.sock" --add-runtime "capture=$w/docker" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs > "$w/dockerd.log" 2>&1 &
for i in $(seq 100); do DOCKER_CONFIG="$w" docker -H "unix://$w/docker.sock" version > /dev/null 2>&1 && break; sleep 0.2; done
DOCKER_CONFIG="$w" docker -H "unix://$w/docker.sock" load -i "$w/image.tar" > /dev/null
DOCKER_CONFIG="$w" docker -H "unix://$w/docker.sock" run --rm --runtime capture --network none capture/busybox:1 true

# podman, every piece of its state under $w
p="podman --root $w/p-root --runroot $w/p-run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $w/p-tmp --network-config-dir $w/p-net --runtime $w/podman"
$p load -i "$w/image.tar" > /dev/null
# (podman asks RLIMIT_NOFILE 1048576, which runc may be refused where the caller is limited lower;
# the config is copied before runc runs, so that failure does not matter here)
$p run --rm --network none localhost/capture/busybox:1 true || true
$p rm -af > /dev/null 2>&1 || true

# runc spec
(cd "$w" && runc spec && mv config.json captured-runc-spec.json)

for t in runc-spec docker ctr podman; do cp "$w/captured-$t.json" "$out/$t.raw.json"; done

# What is of this host or this run is taken out, so the files are the engines' choices only:
# root.path becomes "rootfs"; a path under the capture directory (bind sources: hosts, hostname,
# resolv.conf, shm, .containerenv) becomes @FILES@/<its name>; linux.cgroupsPath and hooks are
# dropped (Docker's one hook is libnetwork-setkey, run through /proc/<dockerd's PID>/exe).
cd "$out"
for t in runc-spec docker ctr podman; do
    python3 - "$t.raw.json" "$t.json" "$w" <<'PY'
import json, os, sys
c = json.load(open(sys.argv[1]))
w = sys.argv[3]
c["root"]["path"] = "rootfs"
c["linux"].pop("cgroupsPath", None)
c.pop("hooks", None)
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [clean(x) for x in v]
    if isinstance(v, str) and v.startswith(w + "/"):
        return "@FILES@/" + os.path.basename(v)
    return v
json.dump(clean(c), open(sys.argv[2], "w"), indent=2, sort_keys=True)
open(sys.argv[2], "a").write("\n")
PY
    rm "$t.raw.json"
done
