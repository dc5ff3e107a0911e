package dev.bulwark.image;

import java.util.Optional;

/**
 * Which IDs a container of `bulwark run IMAGE` runs with. Empty means the host's IDs (no user
 * namespace: `--userns=host`). The system-container allocator plugs in here: an exclusive
 * 65536-ID range per container, released when the container is gone. The rootfs must then be
 * an ID-mapped mount for files to be owned by root inside; that is the allocator's side too.
 */
public interface IdMapChoice {
    /** The range for a new container, or empty for host IDs. */
    Optional<BundleBuilder.IdRange> acquire(String containerId, boolean system);

    /** The container is gone (removed, or its creation failed): its range may be reused. */
    void release(String containerId);

    /** Host IDs, no user namespace. Today's default, until the allocator exists. */
    IdMapChoice HOST = new IdMapChoice() {
        @Override
        public Optional<BundleBuilder.IdRange> acquire(String containerId, boolean system) {
            return Optional.empty();
        }

        @Override
        public void release(String containerId) {}
    };
}
