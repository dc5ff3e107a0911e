#!/bin/sh
# Runs Bulwark's tests on a fresh machine: installs the Debian packages they use (as root), picks
# JDK 25, lets Maven fetch its dependencies, then `mvn verify` (unit tests, real containers as
# root, the plan reader's fuzz run, differential seccomp tests against libseccomp), and last a
# check that the tests left nothing behind (scripts/leak-check.sh).
set -e
cd "$(dirname -- "$(readlink -f -- "$0")")/.."
. scripts/env.sh
ensure_packages make gcc file musl-tools maven busybox-static golang-github-docker-docker-dev \
    libseccomp-dev linux-libc-dev clang-14 libfuzzer-14-dev libclang-rt-14-dev util-linux bsdutils procps iproute2 tar \
    runc docker.io containerd podman skopeo umoci attr openssl zstd docker-registry apache2-utils \
    qemu-system-x86 cpio xz-utils debootstrap debian-archive-keyring
snapshot=$(mktemp -d)
trap 'rm -rf "$snapshot"' EXIT
scripts/leak-check.sh snapshot "$snapshot"
status=0
mvn -B verify || status=$?
scripts/leak-check.sh compare "$snapshot" || { [ "$status" != 0 ] || status=1; }
exit "$status"
