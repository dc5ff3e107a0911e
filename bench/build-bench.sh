#!/bin/bash
# `bulwark build` of the worked example (docs/examples/system.yml): build time (N builds, each a
# JVM, the direct path), output sizes, that two builds are byte-identical, and boot-to-service
# time in qemu: from qemu's start until the web service answers on the guest's static address
# (qemu forwards a loopback port to 10.0.2.15:80). KVM is used when the guest gets going under
# it within 20 s, else TCG (said). Kernel: scripts/kernel-image.sh, cached in target/kernel-image.
# Image: the embedded default image (busybox and the probe). Needs root.
set -euo pipefail
N=${N:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
ensure_packages qemu-system-x86 curl
. "$here/bench/common.sh"
export BULWARK_PLANNER=off
"$here/bulwark" --version >/dev/null   # builds on first use; starts no planner
work=$(mktemp -d /tmp/bulwark-build-bench.XXXXXX)
qpid=
cleanup() {
    if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
[ -f "$here/target/kernel-image/index.json" ] || "$here/scripts/kernel-image.sh" "$here/target/kernel-image" >/dev/null
b() { "$here/bulwark" "$@"; }
kernel=$(b import --store "$work/store" --name bulwark/kernel:debian "$here/target/kernel-image" | awk '{print $2}')
"$here/scripts/dir-image.sh" "$here/target/native/image/rootfs" "$work/probe" 1 >/dev/null
image=$(b import --store "$work/store" --name bulwark/probe:1 "$work/probe" | awk '{print $2}')
sed -e "s|KERNEL|bulwark/kernel:debian@$kernel|" -e "s|IMAGE|bulwark/probe:1@$image|" "$here/docs/examples/system.yml" > "$work/system.yml"

times=()
for i in $(seq 1 "$N"); do
    t0=$(ms)
    b build --store "$work/store" -o "$work/out$i" "$work/system.yml" > "$work/digests$i" 2>"$work/build$i.log"
    times+=($(( $(ms) - t0 )))
done
for i in $(seq 2 "$N"); do cmp -s "$work/out1/initrd.img" "$work/out$i/initrd.img" || { echo "build $i differs from build 1" >&2; exit 1; }; done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
echo "build time (ms, $N builds, JVM per build): $sorted"
grep 'KSPP' "$work/build1.log" | sed 's/^build: /kernel: /'
awk '{printf "output: %-12s %10d bytes  %s\n", substr($2, length($2)-index(reverse($2),"/")+2), $3, $1}
     function reverse(s,  r, i) { r=""; for (i=length(s); i>0; i--) r=r substr(s,i,1); return r }' "$work/digests1"
echo "byte-identical across $N builds: yes"
rootfs_kb=$(gzip -dc "$work/out1/initrd.img" | wc -c)
echo "initramfs uncompressed: $rootfs_kb bytes; of it the init $(stat -c %s "$here/target/native/bulwark-init") and the stage $(stat -c %s "$here/target/native/bulwark-stage")"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
boot() {  # ACCEL SECONDS: prints seconds to the first page, or "none"
    rm -f "$work/serial"
    t0=$(ms)
    qemu-system-x86_64 -accel "$1" -m 256 -smp 1 -nodefaults -display none -no-reboot -serial "file:$work/serial" \
        -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:80" \
        -kernel "$work/out1/kernel" -initrd "$work/out1/initrd.img" -append "$(cat "$work/out1/cmdline")" >"$work/qemu.log" 2>&1 &
    qpid=$!
    local got=none
    while [ $(( $(ms) - t0 )) -lt $(( $2 * 1000 )) ] && kill -0 "$qpid" 2>/dev/null; do
        if [ "$1" = kvm ] && [ $(( $(ms) - t0 )) -gt 20000 ] && ! grep -aq 'Linux version' "$work/serial" 2>/dev/null; then break; fi
        if curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/index.html" 2>/dev/null; then got=$(( $(ms) - t0 )); break; fi
        sleep 0.1
    done
    kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; qpid=
    echo "$got"
}
accel=kvm; got=none
# KVM PVM (kvm_pvm alone) boots only kernels built with CONFIG_PVM_GUEST, which Debian's is not
pvm=no
[ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ] && pvm=yes
if [ "$pvm" = yes ]; then
    echo "KVM: /dev/kvm here is KVM PVM, which cannot boot Debian's kernel (no CONFIG_PVM_GUEST); TCG (software emulation) instead"
elif [ -e /dev/kvm ]; then
    got=$(boot kvm 60)
fi
if [ "$got" = none ]; then
    [ -e /dev/kvm ] && [ "$pvm" = no ] && echo "KVM: the guest printed no kernel line in 20 s under KVM on this host; TCG (software emulation) instead"
    accel=tcg; got=$(boot tcg 120)
fi
echo "boot to service answering ($accel): $got ms"
grep -a 'bulwark-init: \(onboot\|service\|boot complete\)' "$work/serial" | sed 's/^/console: /'
