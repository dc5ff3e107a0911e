# Sourced by the scripts: finds a JDK 25 (JAVA_HOME if it is one, else under /usr/lib/jvm) and
# installs the Debian packages named in $BULWARK_APT when running as root and any is missing.

find_jdk25() {
    for j in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25*; do
        [ -n "$j" ] && [ -x "$j/bin/javac" ] || continue
        v=$("$j/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
        case "$v" in
            2[5-9]|[3-9][0-9]) echo "$j"; return 0 ;;
        esac
    done
    return 1
}

ensure_packages() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "bulwark: missing Debian packages:$missing (install them as root)" >&2
        return 1
    fi
    echo "bulwark: installing Debian packages:$missing" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

JAVA_HOME=$(find_jdk25) || {
    echo "bulwark: no JDK 25 found. Install Temurin 25 (or any JDK 25) and set JAVA_HOME to it." >&2
    exit 1
}
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# File names in images are UTF-8; the JVM takes its file-name encoding from the locale.
export LC_ALL=C.UTF-8
