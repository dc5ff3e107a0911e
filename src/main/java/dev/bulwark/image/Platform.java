package dev.bulwark.image;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue.JsonObject;

/**
 * An image platform, as OCI image indexes describe it: {@code linux/arm64/v8}. An empty
 * {@code os} means "not stated" (a descriptor without a platform).
 */
public record Platform(String os, String architecture, String variant) {
    public static final Platform UNSPECIFIED = new Platform("", "", "");

    /** Parses {@code os/arch[/variant]}. */
    public static Platform parse(String text) {
        String[] p = text.split("/", -1);
        if (p.length < 2 || p.length > 3 || p[0].isEmpty() || p[1].isEmpty() || (p.length == 3 && p[2].isEmpty())) {
            throw new ImageException("platform \"" + text + "\": expected os/architecture[/variant], e.g. linux/amd64");
        }
        return new Platform(p[0], p[1], p.length == 3 ? p[2] : "");
    }

    /** This machine's platform, named as Go names it (amd64, arm64), which image indexes use. */
    public static Platform host() {
        String arch = System.getProperty("os.arch", "amd64");
        return switch (arch) {
            case "amd64", "x86_64" -> new Platform("linux", "amd64", "");
            case "aarch64", "arm64" -> new Platform("linux", "arm64", "");
            case "x86", "i386", "i686" -> new Platform("linux", "386", "");
            case "ppc64le" -> new Platform("linux", "ppc64le", "");
            case "s390x" -> new Platform("linux", "s390x", "");
            case "riscv64" -> new Platform("linux", "riscv64", "");
            default -> new Platform("linux", arch, "");
        };
    }

    public boolean specified() {
        return !os.isEmpty();
    }

    /**
     * Whether an image for {@code candidate} runs here, when this is the wanted platform. A
     * wanted variant must match; arm64's only variant v8 is the same as none.
     */
    public boolean accepts(Platform candidate) {
        if (!os.equals(candidate.os) || !architecture.equals(candidate.architecture)) {
            return false;
        }
        if (variant.isEmpty()) {
            return true;
        }
        String v = candidate.variant;
        if (architecture.equals("arm64") && v.isEmpty()) {
            v = "v8";
        }
        return variant.equals(v);
    }

    static Platform read(Doc d) {
        return new Platform(d.req("os").string(), d.req("architecture").string(), d.string("variant", ""));
    }

    JsonObject toJson() {
        JsonBuilder b = JsonBuilder.object().put("architecture", architecture).put("os", os);
        if (!variant.isEmpty()) {
            b.put("variant", variant);
        }
        return b.build();
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
    }
}
