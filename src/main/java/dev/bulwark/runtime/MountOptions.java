package dev.bulwark.runtime;

import dev.bulwark.spec.SpecException;
import java.util.ArrayList;
import java.util.List;

/**
 * A mount's options split the way mount(8) and runc do: MS_* flags, propagation, whether it is a
 * (recursive) bind, and the rest as filesystem data ("size=64m,mode=755").
 */
public record MountOptions(
        long flags, long clearFlags, long propagation, boolean propagationRecursive, boolean bind,
        boolean recursive, long recAttrSet, long recAttrClr, String data, boolean copyUp) {

    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_SYNCHRONOUS = 16;
    public static final long MS_REMOUNT = 32;
    public static final long MS_MANDLOCK = 64;
    public static final long MS_DIRSYNC = 128;
    public static final long MS_NOSYMFOLLOW = 256;
    public static final long MS_NOATIME = 1024;
    public static final long MS_NODIRATIME = 2048;
    public static final long MS_BIND = 4096;
    public static final long MS_REC = 16384;
    public static final long MS_SILENT = 32768;
    public static final long MS_UNBINDABLE = 1 << 17;
    public static final long MS_PRIVATE = 1 << 18;
    public static final long MS_SLAVE = 1 << 19;
    public static final long MS_SHARED = 1 << 20;
    public static final long MS_RELATIME = 1 << 21;
    public static final long MS_I_VERSION = 1 << 23;
    public static final long MS_STRICTATIME = 1 << 24;
    public static final long MS_LAZYTIME = 1 << 25;

    public static final long MOUNT_ATTR_RDONLY = 0x1;
    public static final long MOUNT_ATTR_NOSUID = 0x2;
    public static final long MOUNT_ATTR_NODEV = 0x4;
    public static final long MOUNT_ATTR_NOEXEC = 0x8;
    public static final long MOUNT_ATTR__ATIME = 0x70;
    public static final long MOUNT_ATTR_NOATIME = 0x10;
    public static final long MOUNT_ATTR_STRICTATIME = 0x20;
    public static final long MOUNT_ATTR_NODIRATIME = 0x80;

    public static MountOptions parse(List<String> options, String path) {
        long flags = 0;
        long clear = 0;
        long prop = 0;
        boolean propRec = false;
        boolean bind = false;
        boolean rec = false;
        long recSet = 0;
        long recClr = 0;
        boolean copyUp = false;
        List<String> data = new ArrayList<>();
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            String p = path + "[" + i + "]";
            switch (o) {
                case "defaults" -> { }
                case "ro" -> flags |= MS_RDONLY;
                case "rw" -> clear |= MS_RDONLY;
                case "nosuid" -> flags |= MS_NOSUID;
                case "suid" -> clear |= MS_NOSUID;
                case "nodev" -> flags |= MS_NODEV;
                case "dev" -> clear |= MS_NODEV;
                case "noexec" -> flags |= MS_NOEXEC;
                case "exec" -> clear |= MS_NOEXEC;
                case "sync" -> flags |= MS_SYNCHRONOUS;
                case "async" -> clear |= MS_SYNCHRONOUS;
                case "dirsync" -> flags |= MS_DIRSYNC;
                case "mand" -> flags |= MS_MANDLOCK;
                case "nomand" -> clear |= MS_MANDLOCK;
                case "noatime" -> flags |= MS_NOATIME;
                case "atime" -> clear |= MS_NOATIME;
                case "nodiratime" -> flags |= MS_NODIRATIME;
                case "diratime" -> clear |= MS_NODIRATIME;
                case "relatime" -> flags |= MS_RELATIME;
                case "norelatime" -> clear |= MS_RELATIME;
                case "strictatime" -> flags |= MS_STRICTATIME;
                case "nostrictatime" -> clear |= MS_STRICTATIME;
                case "lazytime" -> flags |= MS_LAZYTIME;
                case "nolazytime" -> clear |= MS_LAZYTIME;
                case "iversion" -> flags |= MS_I_VERSION;
                case "noiversion" -> clear |= MS_I_VERSION;
                case "silent" -> flags |= MS_SILENT;
                case "loud" -> clear |= MS_SILENT;
                case "nosymfollow" -> flags |= MS_NOSYMFOLLOW;
                case "bind" -> bind = true;
                case "rbind" -> {
                    bind = true;
                    rec = true;
                }
                case "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable" -> {
                    prop = propagationFlag(o);
                    propRec = o.startsWith("r");
                }
                case "rro" -> recSet |= MOUNT_ATTR_RDONLY;
                case "rrw" -> recClr |= MOUNT_ATTR_RDONLY;
                case "rnosuid" -> recSet |= MOUNT_ATTR_NOSUID;
                case "rsuid" -> recClr |= MOUNT_ATTR_NOSUID;
                case "rnodev" -> recSet |= MOUNT_ATTR_NODEV;
                case "rdev" -> recClr |= MOUNT_ATTR_NODEV;
                case "rnoexec" -> recSet |= MOUNT_ATTR_NOEXEC;
                case "rexec" -> recClr |= MOUNT_ATTR_NOEXEC;
                case "remount" -> throw new SpecException(p, "\"remount\" is not valid in a container mount");
                case "idmap", "ridmap" ->
                    throw new SpecException(p, "ID-mapped mounts are not supported in this version");
                case "tmpcopyup" -> copyUp = true;
                default -> {
                    if (o.isEmpty()) {
                        throw new SpecException(p, "empty mount option");
                    }
                    data.add(o);
                }
            }
        }
        return new MountOptions(flags, clear, prop, propRec, bind, rec, recSet, recClr, String.join(",", data), copyUp);
    }

    private static long propagationFlag(String o) {
        return switch (o.startsWith("r") && !o.equals("r") ? o.substring(1) : o) {
            case "private" -> MS_PRIVATE;
            case "shared" -> MS_SHARED;
            case "slave" -> MS_SLAVE;
            default -> MS_UNBINDABLE;
        };
    }

    /** The mount_setattr(2) attributes a bind mount should get from these flags. */
    public long attrSet() {
        long a = recAttrSet;
        if ((flags & MS_RDONLY) != 0) {
            a |= MOUNT_ATTR_RDONLY;
        }
        if ((flags & MS_NOSUID) != 0) {
            a |= MOUNT_ATTR_NOSUID;
        }
        if ((flags & MS_NODEV) != 0) {
            a |= MOUNT_ATTR_NODEV;
        }
        if ((flags & MS_NOEXEC) != 0) {
            a |= MOUNT_ATTR_NOEXEC;
        }
        if ((flags & MS_NODIRATIME) != 0) {
            a |= MOUNT_ATTR_NODIRATIME;
        }
        if ((flags & MS_NOATIME) != 0) {
            a |= MOUNT_ATTR_NOATIME;
        } else if ((flags & MS_STRICTATIME) != 0) {
            a |= MOUNT_ATTR_STRICTATIME;
        }
        return a;
    }

    public long attrClr() {
        long a = recAttrClr;
        if ((clearFlags & MS_RDONLY) != 0) {
            a |= MOUNT_ATTR_RDONLY;
        }
        if ((clearFlags & MS_NOSUID) != 0) {
            a |= MOUNT_ATTR_NOSUID;
        }
        if ((clearFlags & MS_NODEV) != 0) {
            a |= MOUNT_ATTR_NODEV;
        }
        if ((clearFlags & MS_NOEXEC) != 0) {
            a |= MOUNT_ATTR_NOEXEC;
        }
        if ((flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) != 0) {
            a |= MOUNT_ATTR__ATIME; // the atime field is replaced as a whole
        }
        return a;
    }
}
