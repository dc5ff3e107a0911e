package dev.bulwark.image;

import java.util.Map;

/**
 * One member of a tar archive, after pax and GNU long-name headers are applied.
 *
 * @param name     the member's path as written in the archive (UTF-8), not yet checked
 * @param linkName the target of a symlink or hard link, else ""
 * @param mode     permission bits including setuid, setgid and sticky (07777)
 * @param xattrs   extended attributes from pax SCHILY.xattr.* records
 */
public record TarEntry(String name, Type type, String linkName, int mode, long uid, long gid, long size,
        long mtime, int devMajor, int devMinor, Map<String, byte[]> xattrs) {

    public enum Type { FILE, HARDLINK, SYMLINK, CHAR, BLOCK, DIR, FIFO }

    public TarEntry {
        xattrs = Map.copyOf(xattrs);
    }

    public static TarEntry file(String name, int mode, long size) {
        return new TarEntry(name, Type.FILE, "", mode, 0, 0, size, 0, 0, 0, Map.of());
    }

    public static TarEntry dir(String name, int mode) {
        return new TarEntry(name, Type.DIR, "", mode, 0, 0, 0, 0, 0, 0, Map.of());
    }

    public static TarEntry symlink(String name, String target) {
        return new TarEntry(name, Type.SYMLINK, target, 0777, 0, 0, 0, 0, 0, 0, Map.of());
    }

    public static TarEntry hardlink(String name, String target) {
        return new TarEntry(name, Type.HARDLINK, target, 0644, 0, 0, 0, 0, 0, 0, Map.of());
    }

    public TarEntry withOwner(long u, long g) {
        return new TarEntry(name, type, linkName, mode, u, g, size, mtime, devMajor, devMinor, xattrs);
    }

    public TarEntry withMtime(long t) {
        return new TarEntry(name, type, linkName, mode, uid, gid, size, t, devMajor, devMinor, xattrs);
    }

    public TarEntry withXattrs(Map<String, byte[]> x) {
        return new TarEntry(name, type, linkName, mode, uid, gid, size, mtime, devMajor, devMinor, x);
    }

    public TarEntry withDevice(Type t, int major, int minor) {
        return new TarEntry(name, t, "", mode, uid, gid, 0, mtime, major, minor, xattrs);
    }
}
