#!/bin/sh
# Builds Bulwark: Debian build packages (as root, when missing), the jar and the native stage
# (mvn package), the JDK 25 AOT cache of the launcher, and target/launcher.env.
set -e
cd "$(dirname -- "$(readlink -f -- "$0")")/.."
. scripts/env.sh
ensure_packages make gcc musl-tools maven busybox-static golang-github-docker-docker-dev
mvn -B -q package -DskipTests
# A training run of the per-container path (config parse, plan, encode, process spawn) records
# the classes it loads and links into the AOT cache (JEP 483/514).
rm -f target/bulwark.aot
java -XX:AOTCacheOutput=target/bulwark.aot -Xlog:aot=error -cp target/bulwark.jar dev.bulwark.cli.Main __train >/dev/null
cat > target/launcher.env <<ENV
BULWARK_JAVA='$JAVA_HOME/bin/java'
BULWARK_JAVA_OPTS='-XX:AOTCache=$PWD/target/bulwark.aot -Xlog:aot=error -Xlog:cds=error -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k'
ENV
echo "bulwark: built $PWD/target/bulwark.jar and $PWD/target/native/bulwark-stage" >&2
