#!/bin/sh
# Builds Bulwark: Debian build packages (as root, when missing), the jar and the native stage
# (mvn package), the JDK 25 AOT cache of the launcher, and target/launcher.env.
set -e
cd "$(dirname -- "$(readlink -f -- "$0")")/.."
. scripts/env.sh
ensure_packages make gcc file musl-tools maven busybox-static golang-github-docker-docker-dev
mvn -B -q package -DskipTests
scripts/aot.sh
echo "bulwark: built $PWD/target/bulwark.jar and $PWD/target/native/bulwark-stage" >&2
