#!/bin/sh
# Builds the default kernel image of `bulwark build` (LinuxKit's convention: an OCI image whose
# root holds /kernel and /config) from Debian's kernel package, and writes it as an OCI image
# layout directory. Debian builds the NIC drivers as modules, so the image also holds
# /modules/*.ko and /modules/order, the virtio network driver and what it needs, in load order
# (MODULES overrides the list; bulwark-init loads them before any container). Only Debian's mirrors are used (apt-get download); the layer is reproducible
# (sorted, mtime 0, owner 0:0, gzip -n).
#
#   scripts/kernel-image.sh OUT-DIR [PACKAGE]     PACKAGE defaults to what linux-image-amd64 depends on
#
# Then: bulwark import OUT-DIR --name bulwark/kernel:VERSION
set -eu
out=${1:?usage: kernel-image.sh OUT-DIR [linux-image-PACKAGE]}
pkg=${2:-$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)}
[ -n "$pkg" ] || { echo "kernel-image.sh: cannot tell which linux-image package linux-image-amd64 depends on (apt-get update?)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg" >/dev/null)
deb=$(ls "$work"/*.deb)
mkdir "$work/x" "$work/root"
dpkg-deb -x "$deb" "$work/x"
release=${pkg#linux-image-}
cp "$work/x/boot/vmlinuz-$release" "$work/root/kernel"
cp "$work/x/boot/config-$release" "$work/root/config"
mkdir "$work/root/modules"
: > "$work/root/modules/order"
for m in ${MODULES:-virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net}; do
    ko=$(find "$work/x/lib/modules/$release" -name "$m.ko" | head -n1)
    [ -n "$ko" ] || { echo "kernel-image.sh: module $m is not in $pkg" >&2; exit 1; }
    cp "$ko" "$work/root/modules/$m.ko"
    echo "$m" >> "$work/root/modules/order"
done
chmod 0644 "$work/root/kernel" "$work/root/config" "$work/root/modules/"*
chmod 0755 "$work/root/modules"
tar -C "$work/root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" kernel config modules
gzip -n -9 -c "$work/layer.tar" > "$work/layer.tar.gz"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
rm -rf "$out"
mkdir -p "$out/blobs/sha256"
diff_id=$(sha "$work/layer.tar")
layer=$(sha "$work/layer.tar.gz")
cp "$work/layer.tar.gz" "$out/blobs/sha256/$layer"
printf '{"architecture":"amd64","os":"linux","config":{"Labels":{"dev.bulwark.kernel.package":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$pkg" "$diff_id" > "$work/config.json"
config=$(sha "$work/config.json")
cp "$work/config.json" "$out/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(size "$work/config.json")" "$layer" "$(size "$work/layer.tar.gz")" > "$work/manifest.json"
manifest=$(sha "$work/manifest.json")
cp "$work/manifest.json" "$out/blobs/sha256/$manifest"
printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(size "$work/manifest.json")" "$release" > "$out/index.json"
echo "kernel-image.sh: $pkg ($release) -> $out, manifest sha256:$manifest" >&2
echo "sha256:$manifest"
