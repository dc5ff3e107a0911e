#!/bin/bash
# Pull benchmark (not a timed test): `bulwark pull` versus `skopeo copy docker://... oci:DIR` from
# the same local registry (Debian's docker-registry on 127.0.0.1, TLS from a CA made here), N
# interleaved runs each (default 3), each into a fresh store or directory. Both verify every
# blob's SHA-256; skopeo also writes an OCI layout, Bulwark its store (fsync per blob).
# The image: one gzip layer made from /usr/share (SIZE_MB of files, default 300) and one
# uncompressed layer of RANDOM_MB of random bytes (default 64), pushed with skopeo.
set -euo pipefail
N=${N:-3}
SIZE_MB=${SIZE_MB:-300}
RANDOM_MB=${RANDOM_MB:-64}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
. "$here/bench/common.sh"
ensure_packages docker-registry skopeo openssl coreutils gzip
bulwark="$here/bulwark"
BULWARK_PLANNER=no-start "$bulwark" --version >/dev/null   # builds on first use; starts no planner

work=$(mktemp -d /var/tmp/bulwark-pull-bench.XXXXXX)
reg_pid=""
# This benchmark's own planner: `bulwark pull` is the client and a warm planner (started by the
# first, untimed pull); "direct" is a JVM per pull (BULWARK_PLANNER=off).
export BULWARK_PLANNER_SOCKET=$work/planner/p.sock
cleanup() {
    if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
    if [ -f "$BULWARK_PLANNER_SOCKET.pid" ]; then kill "$(cat "$BULWARK_PLANNER_SOCKET.pid")" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
if "$bulwark" pull 2>&1 | grep -q 'unknown command'; then
    echo "pull-bench: this bulwark has no pull command (register dev.bulwark.cli.RegistryCommands in Main)" >&2
    exit 1
fi


# ---- TLS and the registry ----
cd "$work"
openssl ecparam -name prime256v1 -out ec.param
openssl req -x509 -newkey ec:ec.param -nodes -keyout ca.key -out ca.crt -days 1 -subj "/CN=pull-bench CA" 2>/dev/null
openssl req -newkey ec:ec.param -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext 2>/dev/null
mkdir -p certs && cp ca.crt certs/ca.crt
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > registry.yml <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $work/server.crt
    key: $work/server.key
YML
docker-registry serve registry.yml > registry.log 2>&1 &
reg_pid=$!
for i in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
done

# ---- the image ----
share_tar layer1.tar "$SIZE_MB"
gzip -c layer1.tar > layer1.tar.gz
mkdir -p rnd && head -c $((RANDOM_MB << 20)) /dev/urandom > rnd/random.bin
tar -C rnd -cf layer2.tar random.bin
oci=$work/oci
mkdir -p "$oci/blobs/sha256"
put() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$oci/blobs/sha256/$h"; echo "$h"; }
diff1=$(sha256sum layer1.tar | cut -d' ' -f1)
diff2=$(sha256sum layer2.tar | cut -d' ' -f1)
s1=$(stat -c %s layer1.tar.gz); s2=$(stat -c %s layer2.tar)
l1=$(put layer1.tar.gz); l2=$(put layer2.tar); rm -f layer1.tar
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
    "$diff1" "$diff2" > config.json
cs=$(stat -c %s config.json); c=$(put config.json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$c" "$cs" "$l1" "$s1" "$l2" "$s2" > manifest.json
ms_=$(stat -c %s manifest.json); m=$(put manifest.json)
printf '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$m" "$ms_" > "$oci/index.json"
ref="127.0.0.1:$port/bench/image:1"
skopeo --insecure-policy copy --quiet --dest-cert-dir "$work/certs" "oci:$oci:bench" "docker://$ref"
# skopeo compresses the raw layer on the way in: what is pulled is what the registry holds.
skopeo inspect --raw --cert-dir "$work/certs" "docker://$ref" > pushed.json
m=$(sha256sum pushed.json | cut -d' ' -f1)
bytes=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["config"]["size"]+sum(l["size"] for l in d["layers"]))' pushed.json)
echo "image: 2 gzip layers, $((bytes / 1000000)) MB to pull ($((s1 / 1000000)) MB of /usr/share, $((s2 / 1000000)) MB random before gzip), manifest sha256:$m"

# ---- pulls ----
. "$here/target/launcher.env"
"$bulwark" pull --store "$work/store" --ca "$work/ca.crt" "$ref" >/dev/null 2>&1   # page cache; starts the planner
for i in $(seq 1 600); do grep -q 'warmed up' "$BULWARK_PLANNER_SOCKET.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'warmed up' "$BULWARK_PLANNER_SOCKET.log" || { echo "pull-bench: no warm planner at $BULWARK_PLANNER_SOCKET" >&2; exit 1; }
best_b=999999999; best_s=999999999; best_d=999999999; sum_b=0; sum_s=0; sum_d=0
for i in $(seq "$N"); do
    rm -rf "$work/store" "$work/skopeo"; sync
    t0=$(ms); out=$("$bulwark" pull --store "$work/store" --ca "$work/ca.crt" "$ref" 2>/dev/null); t=$(( $(ms) - t0 ))
    [ "$out" = "$ref sha256:$m" ] || { echo "pull-bench: bulwark pull printed \"$out\"" >&2; exit 1; }
    [ "$t" -lt "$best_b" ] && best_b=$t; sum_b=$((sum_b + t))
    rm -rf "$work/store"; sync
    t0=$(ms); out=$(BULWARK_PLANNER=off "$bulwark" pull --store "$work/store" --ca "$work/ca.crt" "$ref" 2>/dev/null); t=$(( $(ms) - t0 ))
    [ "$out" = "$ref sha256:$m" ] || { echo "pull-bench: direct bulwark pull printed \"$out\"" >&2; exit 1; }
    [ "$t" -lt "$best_d" ] && best_d=$t; sum_d=$((sum_d + t))
    rm -rf "$work/store" "$work/skopeo"; sync
    t0=$(ms); skopeo --insecure-policy copy --quiet --src-cert-dir "$work/certs" "docker://$ref" "oci:$work/skopeo:bench"; t=$(( $(ms) - t0 ))
    [ "$t" -lt "$best_s" ] && best_s=$t; sum_s=$((sum_s + t))
done
rm -rf "$work/store" "$work/skopeo"
echo
echo "pull from a local TLS registry, fresh store each time ($N interleaved runs; lower is better)"
printf '  %-38s best %6s ms  mean %6s ms  %5s MB/s\n' "bulwark pull (client, warm planner)" "$best_b" "$((sum_b / N))" "$(mbps "$bytes" "$best_b")"
printf '  %-38s best %6s ms  mean %6s ms  %5s MB/s\n' "bulwark pull (direct: a JVM per pull)" "$best_d" "$((sum_d / N))" "$(mbps "$bytes" "$best_d")"
printf '  %-38s best %6s ms  mean %6s ms  %5s MB/s\n' "skopeo copy docker:// oci:" "$best_s" "$((sum_s / N))" "$(mbps "$bytes" "$best_s")"
echo "  skopeo / bulwark (best): $(ratio "$best_s" "$best_b")x, direct: $(ratio "$best_s" "$best_d")x  (above 1: bulwark is faster)"
