#!/bin/sh
# Writes a directory as a one-layer OCI image layout, reproducibly (sorted, mtime 0, owner 0:0,
# gzip -n), for `bulwark import`. Used by docs/build.md and bench/build-bench.sh to store the
# embedded default image (busybox and the probe, target/native/image/rootfs).
#
#   scripts/dir-image.sh ROOTFS-DIR OUT-DIR [REF-NAME]
set -eu
src=${1:?usage: dir-image.sh ROOTFS-DIR OUT-DIR [REF-NAME]}
out=${2:?usage: dir-image.sh ROOTFS-DIR OUT-DIR [REF-NAME]}
name=${3:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$src" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" .
gzip -n -9 -c "$work/layer.tar" > "$work/layer.tar.gz"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
rm -rf "$out"
mkdir -p "$out/blobs/sha256"
diff_id=$(sha "$work/layer.tar")
layer=$(sha "$work/layer.tar.gz")
cp "$work/layer.tar.gz" "$out/blobs/sha256/$layer"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/probe"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff_id" > "$work/config.json"
config=$(sha "$work/config.json")
cp "$work/config.json" "$out/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(size "$work/config.json")" "$layer" "$(size "$work/layer.tar.gz")" > "$work/manifest.json"
manifest=$(sha "$work/manifest.json")
cp "$work/manifest.json" "$out/blobs/sha256/$manifest"
printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(size "$work/manifest.json")" "$name" > "$out/index.json"
echo "sha256:$manifest"
