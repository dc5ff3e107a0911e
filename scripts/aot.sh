#!/bin/sh
# Makes the JDK 25 AOT cache of the launcher (JEP 483/514) from a training run of the
# per-container path, and target/launcher.env. Rerun whenever the jar changes: the JVM was seen
# using a cache made from an older jar, so the launcher checks the dates itself.
set -e
cd "$(dirname -- "$(readlink -f -- "$0")")/.."
. scripts/env.sh
rm -f target/bulwark.aot target/bulwark.aot.tmp
if ! java -XX:AOTCacheOutput=target/bulwark.aot.tmp -Xlog:aot=error -cp target/bulwark.jar dev.bulwark.cli.Main __train \
        >target/aot.log 2>&1; then
    cat target/aot.log >&2
    exit 1
fi
mv target/bulwark.aot.tmp target/bulwark.aot
cat > target/launcher.env <<ENV
BULWARK_JAVA='$JAVA_HOME/bin/java'
BULWARK_JAVA_OPTS='--sun-misc-unsafe-memory-access=allow -XX:AOTCache=$PWD/target/bulwark.aot -Xlog:aot=error -Xlog:cds=error -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k'
ENV
