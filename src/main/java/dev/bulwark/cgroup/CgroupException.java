package dev.bulwark.cgroup;

/**
 * A cgroup operation that failed or a limit the host cannot apply. The message names the setting
 * (a linux.resources JSON path where there is one), the cgroup file and the value, and the reason:
 * {@code linux.resources.memory.limit: cannot write "1024" to /sys/fs/cgroup/memory/x/memory.limit_in_bytes: Device or resource busy}.
 */
public final class CgroupException extends RuntimeException {
    public CgroupException(String message) {
        super(message);
    }

    public CgroupException(String message, Throwable cause) {
        super(message, cause);
    }
}
