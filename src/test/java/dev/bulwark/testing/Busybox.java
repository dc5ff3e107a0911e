package dev.bulwark.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A busybox root filesystem (Debian's busybox-static) with every applet linked in /bin. */
public final class Busybox {
    private static final Path BUSYBOX = Path.of("/bin/busybox");

    private Busybox() {}

    public static void rootfs(Path dir) throws IOException, InterruptedException {
        if (!Files.isExecutable(BUSYBOX)) {
            throw new IllegalStateException("/bin/busybox is missing: install busybox-static");
        }
        // Readable by everyone: a container root in a user namespace, or a non-root user, is
        // "other" to files the host's root owns.
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path bin = Files.createDirectories(dir.resolve("bin"));
        for (String d : List.of("proc", "sys", "dev", "tmp", "etc", "root", "var")) {
            Files.createDirectories(dir.resolve(d));
        }
        Files.copy(BUSYBOX, bin.resolve("busybox"));
        Process p = new ProcessBuilder(BUSYBOX.toString(), "--list").redirectErrorStream(true).start();
        String list = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        for (String applet : list.split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(bin.resolve(applet.strip()), Path.of("busybox"));
            }
        }
        Files.writeString(dir.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
        Files.writeString(dir.resolve("etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
    }
}
