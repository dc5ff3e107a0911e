package dev.bulwark.image;

/**
 * What layer extraction may create. The defaults are the safe ones: no device nodes, setuid and
 * setgid bits and file capabilities stripped, symlinks and hard links allowed (images are full
 * of them) but confined to the target, ownership applied only as root.
 *
 * @param devices    create character and block device nodes (root only); else they are refused
 * @param setuid     keep setuid/setgid bits and security.capability xattrs; else they are stripped
 * @param ownership  chown entries to their uid/gid; the default is true when running as root
 * @param xattrs     apply user.* (and, with setuid, security.capability) xattrs; others are ignored
 * @param symlinks   create symbolic links; else a symlink entry is an error
 * @param hardlinks  create hard links; else a hard-link entry is an error
 */
public record UnpackOptions(boolean devices, boolean setuid, boolean ownership, boolean xattrs,
        boolean symlinks, boolean hardlinks, Limits limits) {

    /**
     * Limits against decompression bombs and absurd archives; each one, when exceeded, is an
     * error naming it.
     *
     * @param maxBytes      uncompressed tar bytes across all layers of one unpack
     * @param maxRatio      uncompressed/compressed for a layer, checked once it has produced
     *                      {@link #RATIO_FLOOR} bytes (so small, highly compressible layers pass)
     * @param maxEntries    tar entries across all layers
     * @param maxPathLength bytes of an entry name (PATH_MAX is 4096)
     * @param maxDepth      directory levels of an entry name
     */
    public record Limits(long maxBytes, long maxRatio, long maxEntries, int maxPathLength, int maxDepth) {
        public static final long RATIO_FLOOR = 64L << 20;

        public static Limits defaults() {
            return new Limits(32L << 30, 250, 1_000_000, 4096, 256);
        }

        public Limits {
            if (maxBytes <= 0 || maxRatio <= 0 || maxEntries <= 0 || maxPathLength <= 0 || maxDepth <= 0) {
                throw new ImageException("unpack limits must be positive: " + this);
            }
        }

        public Limits withMaxBytes(long v) {
            return new Limits(v, maxRatio, maxEntries, maxPathLength, maxDepth);
        }

        public Limits withMaxRatio(long v) {
            return new Limits(maxBytes, v, maxEntries, maxPathLength, maxDepth);
        }

        public Limits withMaxEntries(long v) {
            return new Limits(maxBytes, maxRatio, v, maxPathLength, maxDepth);
        }

        public Limits withMaxPathLength(int v) {
            return new Limits(maxBytes, maxRatio, maxEntries, v, maxDepth);
        }

        public Limits withMaxDepth(int v) {
            return new Limits(maxBytes, maxRatio, maxEntries, maxPathLength, v);
        }
    }

    public static UnpackOptions defaults() {
        return new UnpackOptions(false, false, Posix.isRoot(), true, true, true, Limits.defaults());
    }

    public UnpackOptions withDevices(boolean v) {
        return new UnpackOptions(v, setuid, ownership, xattrs, symlinks, hardlinks, limits);
    }

    public UnpackOptions withSetuid(boolean v) {
        return new UnpackOptions(devices, v, ownership, xattrs, symlinks, hardlinks, limits);
    }

    public UnpackOptions withOwnership(boolean v) {
        return new UnpackOptions(devices, setuid, v, xattrs, symlinks, hardlinks, limits);
    }

    public UnpackOptions withXattrs(boolean v) {
        return new UnpackOptions(devices, setuid, ownership, v, symlinks, hardlinks, limits);
    }

    public UnpackOptions withSymlinks(boolean v) {
        return new UnpackOptions(devices, setuid, ownership, xattrs, v, hardlinks, limits);
    }

    public UnpackOptions withHardlinks(boolean v) {
        return new UnpackOptions(devices, setuid, ownership, xattrs, symlinks, v, limits);
    }

    public UnpackOptions withLimits(Limits v) {
        return new UnpackOptions(devices, setuid, ownership, xattrs, symlinks, hardlinks, v);
    }
}
