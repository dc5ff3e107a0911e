#!/bin/bash
# Image benchmark (not a timed test), all on one test image built here:
#  1. layer unpack throughput, Bulwark (`bulwark unpack`) versus umoci (`umoci raw unpack`, the
#     rootfs only, and `umoci unpack`, which also writes an mtree of the rootfs), in MB/s of
#     uncompressed layer;
#  2. SHA-256 verification throughput: Bulwark's store re-hashing a blob (ContentStore.verify,
#     timed inside the JVM, and the whole process) and `bulwark import` (hash while writing,
#     fsync, rename) versus `sha256sum`.
# The image is one gzip layer made from /usr/share (du -sm SIZE_MB, default 450: ~330 MB of tar), written as an OCI
# layout by hand. Runs are interleaved, N each (default 3); the best run is reported. The page
# cache is warm for every tool alike. Needs root (umoci keeps ownership) and installs umoci.
set -euo pipefail
N=${N:-3}
SIZE_MB=${SIZE_MB:-450}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
. "$here/bench/common.sh"
ensure_packages umoci coreutils gzip
bulwark="$here/bulwark"
# A JVM per call (the direct path), as the figures in README were taken, and no planner left
# running afterwards.
export BULWARK_PLANNER=off
"$bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /var/tmp/bulwark-image-bench.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
if "$bulwark" images --store "$work/probe" 2>&1 | grep -q 'unknown command'; then
    echo "image-bench: this bulwark has no image commands (register dev.bulwark.cli.ImageCommands in Main)" >&2
    exit 1
fi


# ---- the image ----
share_tar "$work/layer.tar" "$SIZE_MB"
gzip -c "$work/layer.tar" > "$work/layer.tar.gz"
raw_bytes=$(stat -c %s "$work/layer.tar")
gz_bytes=$(stat -c %s "$work/layer.tar.gz")
files=$(tar -tf "$work/layer.tar" | wc -l)
oci="$work/oci"
mkdir -p "$oci/blobs/sha256"
put() { # file -> digest hex; the file becomes a blob
    local h; h=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$oci/blobs/sha256/$h"
    echo "$h"
}
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer=$(put "$work/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff_id" > "$work/config.json"
config_size=$(stat -c %s "$work/config.json")
config=$(put "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$gz_bytes" > "$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json")
manifest=$(put "$work/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$manifest" "$manifest_size" > "$oci/index.json"
echo "image: one gzip layer, $files entries, $((raw_bytes / 1000000)) MB uncompressed, $((gz_bytes / 1000000)) MB gzip"

store="$work/store"
"$bulwark" import --store "$store" --name bench:1 "$oci" >/dev/null

# The launcher runs the JVM with C1 only (-XX:TieredStopAtLevel=1, for fast per-container
# commands); SHA-256 is only intrinsified by C2, so the image commands are also timed on a
# plain JVM ("default JIT").
. "$here/target/launcher.env"
plain() { "$JAVA_HOME/bin/java" -cp "$here/target/bulwark.jar" dev.bulwark.cli.Main "$@"; }

# ---- 1. unpack ----
best_b=999999999; best_bj=999999999; best_u=999999999; best_uf=999999999
for i in $(seq "$N"); do
    rm -rf "$work/b" "$work/bj" "$work/u" "$work/uf"; sync
    t0=$(ms); "$bulwark" unpack --store "$store" bench:1 "$work/b" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_b" ] && best_b=$t
    sync
    t0=$(ms); plain unpack --store "$store" bench:1 "$work/bj" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_bj" ] && best_bj=$t
    sync
    t0=$(ms); umoci raw unpack --image "$oci:bench" "$work/u" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_u" ] && best_u=$t
    sync
    t0=$(ms); umoci unpack --image "$oci:bench" "$work/uf" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_uf" ] && best_uf=$t
done
# Same tree from both (names, types, sizes, modes, link targets).
if ! diff <(cd "$work/b" && find . -printf '%p %y %s %m %l\n' | sort) \
          <(cd "$work/u" && find . -printf '%p %y %s %m %l\n' | sort) >"$work/tree.diff"; then
    echo "warning: the unpacked trees differ:" >&2
    head -20 "$work/tree.diff" >&2
fi
rm -rf "$work/b" "$work/bj" "$work/u" "$work/uf"

echo
echo "layer unpack (best of $N, MB/s of uncompressed layer; higher is better)"
printf '  %-34s %6s ms  %5s MB/s\n' "bulwark unpack (launcher, C1)" "$best_b" "$(mbps "$raw_bytes" "$best_b")"
printf '  %-34s %6s ms  %5s MB/s\n' "bulwark unpack (default JIT)" "$best_bj" "$(mbps "$raw_bytes" "$best_bj")"
printf '  %-34s %6s ms  %5s MB/s\n' "umoci raw unpack (rootfs only)" "$best_u" "$(mbps "$raw_bytes" "$best_u")"
printf '  %-34s %6s ms  %5s MB/s\n' "umoci unpack (rootfs + mtree)" "$best_uf" "$(mbps "$raw_bytes" "$best_uf")"
echo "  bulwark (C1) / umoci raw unpack: $(ratio "$best_u" "$best_b")x    bulwark (C1) / umoci unpack: $(ratio "$best_uf" "$best_b")x"
echo "  bulwark (JIT) / umoci raw unpack: $(ratio "$best_u" "$best_bj")x   bulwark (JIT) / umoci unpack: $(ratio "$best_uf" "$best_bj")x"

# ---- 2. SHA-256 ----
big="$work/big"
head -c 1073741824 /dev/urandom > "$big"
big_bytes=$(stat -c %s "$big")
sha256sum "$big" >/dev/null   # page cache warm for everyone
hex=$(sha256sum "$big" | cut -d' ' -f1)
vstore="$work/vstore"
mkdir -p "$vstore/blobs/sha256" "$vstore/ingest"
ln "$big" "$vstore/blobs/sha256/$hex"
printf '{"imageLayoutVersion":"1.0.0"}' > "$vstore/oci-layout"
printf '{"schemaVersion":2,"manifests":[]}' > "$vstore/index.json"
# A layout whose one "layer" is the 1 GiB file, for `bulwark import` (hash while writing).
ilay="$work/ilay"
mkdir -p "$ilay/blobs/sha256"
ln "$big" "$ilay/blobs/sha256/$hex"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$work/c.json"
ch=$(sha256sum "$work/c.json" | cut -d' ' -f1); cs=$(stat -c %s "$work/c.json"); mv "$work/c.json" "$ilay/blobs/sha256/$ch"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$ch" "$cs" "$hex" "$big_bytes" > "$work/m.json"
mh=$(sha256sum "$work/m.json" | cut -d' ' -f1); msz=$(stat -c %s "$work/m.json"); mv "$work/m.json" "$ilay/blobs/sha256/$mh"
printf '{"imageLayoutVersion":"1.0.0"}' > "$ilay/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"example.org/big:1"}}]}' \
    "$mh" "$msz" > "$ilay/index.json"

cat > "$work/Verify.java" <<'JAVA'
public class Verify {
    public static void main(String[] a) {
        var s = dev.bulwark.image.ContentStore.open(java.nio.file.Path.of(a[0]));
        long t0 = System.nanoTime();
        var problems = s.verify();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (!problems.isEmpty()) { System.err.println(problems); System.exit(1); }
        System.out.println(ms);
    }
}
JAVA
"$JAVA_HOME/bin/javac" -d "$work/vcls" -cp "$here/target/bulwark.jar" "$work/Verify.java"
best_s=999999999; best_v=999999999; best_vp=999999999; best_vc2=999999999; best_i=999999999; best_ij=999999999
for i in $(seq "$N"); do
    t0=$(ms); sha256sum "$big" >/dev/null; t=$(( $(ms) - t0 )); [ "$t" -lt "$best_s" ] && best_s=$t
    t0=$(ms)
    # The launcher's JVM flags (C1 only, serial GC), as `bulwark` runs.
    v=$($BULWARK_JAVA $BULWARK_JAVA_OPTS -cp "$here/target/bulwark.jar:$work/vcls" Verify "$vstore")
    t=$(( $(ms) - t0 ))
    [ "$v" -lt "$best_v" ] && best_v=$v
    [ "$t" -lt "$best_vp" ] && best_vp=$t
    v=$("$JAVA_HOME/bin/java" -cp "$here/target/bulwark.jar:$work/vcls" Verify "$vstore")
    [ "$v" -lt "$best_vc2" ] && best_vc2=$v
    rm -rf "$work/istore"; sync
    t0=$(ms); "$bulwark" import --store "$work/istore" "$ilay" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_i" ] && best_i=$t
    rm -rf "$work/istore"; sync
    t0=$(ms); plain import --store "$work/istore" "$ilay" >/dev/null; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_ij" ] && best_ij=$t
    rm -rf "$work/istore"
done
echo
echo "SHA-256 of a 1 GiB blob (best of $N, page cache warm; higher is better)"
printf '  %-44s %6s ms  %5s MB/s\n' "sha256sum" "$best_s" "$(mbps "$big_bytes" "$best_s")"
printf '  %-44s %6s ms  %5s MB/s\n' "bulwark store verify, in the JVM (launcher flags)" "$best_v" "$(mbps "$big_bytes" "$best_v")"
printf '  %-44s %6s ms  %5s MB/s\n' "bulwark store verify, whole process" "$best_vp" "$(mbps "$big_bytes" "$best_vp")"
printf '  %-44s %6s ms  %5s MB/s\n' "bulwark store verify, in the JVM (default JIT)" "$best_vc2" "$(mbps "$big_bytes" "$best_vc2")"
printf '  %-44s %6s ms  %5s MB/s\n' "bulwark import (hash + write + fsync, launcher)" "$best_i" "$(mbps "$big_bytes" "$best_i")"
printf '  %-44s %6s ms  %5s MB/s\n' "bulwark import (hash + write + fsync, JIT)" "$best_ij" "$(mbps "$big_bytes" "$best_ij")"
echo "  bulwark verify / sha256sum: $(ratio "$best_s" "$best_v")x (launcher flags), $(ratio "$best_s" "$best_vc2")x (default JIT)"
