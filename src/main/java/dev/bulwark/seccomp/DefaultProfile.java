package dev.bulwark.seccomp;

import dev.bulwark.spec.Spec.Seccomp;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Docker's default seccomp profile (moby profiles/seccomp/default.json), used unchanged. Bulwark
 * does not carry its own copy in the source tree: the build copies the file from Debian's
 * golang-github-docker-docker-dev package into the jar, and a run from the source tree reads the
 * package's file directly.
 */
public final class DefaultProfile {
    /** Where the build puts the file in the jar. */
    public static final String RESOURCE = "/dev/bulwark/seccomp/docker-default.json";
    /** Where Debian's golang-github-docker-docker-dev installs it. */
    public static final Path DEBIAN = Path.of("/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json");

    private static volatile DockerProfile cached;

    private DefaultProfile() {}

    /** The parsed profile (read once). */
    public static DockerProfile profile() {
        DockerProfile p = cached;
        if (p == null) {
            cached = p = load();
        }
        return p;
    }

    /** The OCI profile for a container with bounding capability set caps, on this host. */
    public static Seccomp oci(Set<String> caps) {
        return oci(caps, Arch.host(), DockerProfile.KernelVersion.host());
    }

    public static Seccomp oci(Set<String> caps, Arch arch, DockerProfile.KernelVersion kernel) {
        return profile().evaluate(caps, arch, kernel)
                .orElseThrow(() -> new SeccompException(RESOURCE, "the default profile is empty"));
    }

    private static DockerProfile load() {
        try (InputStream in = DefaultProfile.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                return DockerProfile.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), RESOURCE);
            }
        } catch (IOException e) {
            throw new SeccompException(RESOURCE, "cannot read the default seccomp profile from the jar: " + e.getMessage());
        }
        try {
            return DockerProfile.parse(Files.readString(DEBIAN), DEBIAN.toString());
        } catch (NoSuchFileException e) {
            throw new SeccompException("", "Docker's default seccomp profile is missing: it is neither in the jar ("
                    + RESOURCE + ") nor at " + DEBIAN + "; install the Debian package golang-github-docker-docker-dev "
                    + "and rebuild");
        } catch (IOException e) {
            throw new SeccompException(DEBIAN.toString(), "cannot read the default seccomp profile: " + e.getMessage());
        }
    }
}
