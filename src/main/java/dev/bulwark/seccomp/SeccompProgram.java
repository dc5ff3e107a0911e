package dev.bulwark.seccomp;

/**
 * A compiled seccomp filter, ready for seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog).
 *
 * @param filter struct sock_filter[] as the kernel reads it (8 bytes each, little-endian)
 * @param flags SECCOMP_FILTER_FLAG_* bits to pass to seccomp(2); includes NEW_LISTENER when needed
 * @param needsListener whether the filter returns SECCOMP_RET_USER_NOTIF, so the loader must keep
 *     the listener fd seccomp(2) returns and hand it to the listener
 * @param instructionCount filter.length / 8
 */
public record SeccompProgram(byte[] filter, int flags, boolean needsListener, int instructionCount) {
    public static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    public static final int SECCOMP_FILTER_FLAG_LOG = 2;
    public static final int SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
    public static final int SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
    public static final int SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16;
    public static final int SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;
}
