package dev.bulwark.agent;

import java.util.Optional;

/**
 * The trapped syscalls: the mount family, except fsconfig and fsmount (which only finish what an
 * fsopen began); sysinfo and sched_getaffinity, which the agent answers from the caller's limits
 * (what `free` and `nproc` ask); and setns and unshare, which it lets go on once the workers know
 * a namespace may change (see Supervisor).
 */
enum Call {
    MOUNT, UMOUNT2, MOVE_MOUNT, OPEN_TREE, MOUNT_SETATTR, FSPICK, FSOPEN, SYSINFO, SCHED_GETAFFINITY, SETNS, UNSHARE;

    private static final int AUDIT_ARCH_X86_64 = 0xc000003e;
    private static final int AUDIT_ARCH_AARCH64 = 0xc00000b7;

    /** The call for a notification's (arch, nr); the new mount API has one number on every arch. */
    static Optional<Call> of(int arch, int nr) {
        switch (nr) {
            case 428: return Optional.of(OPEN_TREE);
            case 429: return Optional.of(MOVE_MOUNT);
            case 430: return Optional.of(FSOPEN);
            case 433: return Optional.of(FSPICK);
            case 442: return Optional.of(MOUNT_SETATTR);
            default: break;
        }
        if (arch == AUDIT_ARCH_X86_64) {
            return switch (nr) {
                case 165 -> Optional.of(MOUNT);
                case 166 -> Optional.of(UMOUNT2);
                case 99 -> Optional.of(SYSINFO);
                case 204 -> Optional.of(SCHED_GETAFFINITY);
                case 308 -> Optional.of(SETNS);
                case 272 -> Optional.of(UNSHARE);
                default -> Optional.empty();
            };
        }
        if (arch == AUDIT_ARCH_AARCH64) {
            return switch (nr) {
                case 40 -> Optional.of(MOUNT);
                case 39 -> Optional.of(UMOUNT2);
                case 179 -> Optional.of(SYSINFO);
                case 123 -> Optional.of(SCHED_GETAFFINITY);
                case 268 -> Optional.of(SETNS);
                case 97 -> Optional.of(UNSHARE);
                default -> Optional.empty();
            };
        }
        return Optional.empty();
    }

    /** The helper's name for it. */
    String helperName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
