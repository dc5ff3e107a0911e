package dev.bulwark.image;

/** The OCI and Docker media types Bulwark reads, and what each one is. */
public final class MediaTypes {
    private MediaTypes() {}

    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    public static boolean isIndex(String mediaType) {
        return mediaType.equals(OCI_INDEX) || mediaType.equals(DOCKER_LIST);
    }

    public static boolean isManifest(String mediaType) {
        return mediaType.equals(OCI_MANIFEST) || mediaType.equals(DOCKER_MANIFEST);
    }

    /** Layer types this runtime can unpack, by compression. */
    public enum Compression { NONE, GZIP, ZSTD, UNKNOWN }

    public static Compression layerCompression(String mediaType) {
        String m = mediaType.replace(".nondistributable", "");
        if (m.equals(OCI_LAYER)) {
            return Compression.NONE;
        }
        if (m.equals(OCI_LAYER_GZIP) || m.equals(DOCKER_LAYER_GZIP) || m.equals(DOCKER_FOREIGN_LAYER_GZIP)) {
            return Compression.GZIP;
        }
        if (m.equals(OCI_LAYER_ZSTD)) {
            return Compression.ZSTD;
        }
        return Compression.UNKNOWN;
    }
}
