# Sourced by the image benchmarks: timing and rate helpers, and the test layer they share.
ms() { date +%s%N | cut -b1-13; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / 1e6 / (t / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# share_tar OUT MB: a tar of whole /usr/share subdirectories, up to MB of files, numeric owners.
share_tar() {
    local list=() total=0 sz d
    while read -r sz d; do
        if [ $((total + sz)) -le "$2" ]; then
            list+=("${d#/}")
            total=$((total + sz))
        fi
    done < <(du -sm /usr/share/* 2>/dev/null | sort -k2)
    tar -C / --numeric-owner -cf "$1" "${list[@]}"
}
