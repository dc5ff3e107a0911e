package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.cli.CliException;
import dev.bulwark.cli.Globals;
import dev.bulwark.cli.ImageCommands;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The image commands end to end on a store in a temp dir: import, images, inspect, export, unpack, rmi. */
@Timeout(120)
class ImageCommandsTest {
    @TempDir
    Path tmp;

    @FunctionalInterface
    interface Cmd {
        int run(Globals g, List<String> a) throws Exception;
    }

    private String run(Cmd c, String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setOut(new PrintStream(b, true, StandardCharsets.UTF_8));
        try {
            List<String> a = new ArrayList<>(List.of("--store", tmp.resolve("store").toString()));
            a.addAll(List.of(args));
            assertEquals(0, c.run(new Globals(Globals.DEFAULT_ROOT, null, "text", false, false), a));
        } finally {
            System.setOut(old);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    @Test
    void lifecycle() throws Exception {
        Path archive = tmp.resolve("save.tar");
        TestImages.dockerSave(archive, "busybox:musl", TestImages.twoLayers(), true);
        String imported = run(ImageCommands::importImage, archive.toString());
        assertTrue(imported.startsWith("docker.io/library/busybox:musl sha256:"), imported);
        String digest = imported.strip().split(" ")[1];

        String table = run(ImageCommands::images);
        String[] lines = table.split("\n");
        assertEquals(2, lines.length, table);
        assertTrue(lines[0].matches("REFERENCE +DIGEST +SIZE"), lines[0]);
        assertTrue(lines[1].startsWith("docker.io/library/busybox:musl  " + digest), lines[1]);
        assertTrue(lines[1].matches(".*\\d(\\.\\d+)?(B|kB|MB)$"), lines[1]);

        String config = run(ImageCommands::inspect, "busybox:musl");
        assertTrue(config.contains("\"diff_ids\""), config);
        assertTrue(config.contains("\"architecture\": \"amd64\"") || config.contains("\"architecture\""), config);
        assertEquals(config, run(ImageCommands::inspect, digest.substring(7, 7 + 12)), "a digest prefix resolves too");

        Path layout = tmp.resolve("out");
        run(ImageCommands::export, "busybox:musl", layout.toString());
        assertTrue(Files.isRegularFile(layout.resolve("index.json")));
        run(ImageCommands::export, "busybox:musl", tmp.resolve("out.tar").toString());
        assertTrue(Files.size(tmp.resolve("out.tar")) > 0);

        Path rootfs = tmp.resolve("rootfs");
        String unpacked = run(ImageCommands::unpack, "busybox:musl", rootfs.toString());
        assertTrue(unpacked.startsWith("unpacked "), unpacked);
        assertEquals("hello\n", Files.readString(rootfs.resolve("etc/motd")));

        run(ImageCommands::importImage, "--name", "copy:1", tmp.resolve("out.tar").toString());
        String removed = run(ImageCommands::rmi, "busybox:musl");
        assertEquals("Untagged: docker.io/library/busybox:musl\n", removed, "blobs shared with copy:1 stay");
        String removed2 = run(ImageCommands::rmi, "copy:1");
        assertTrue(removed2.contains("Deleted: 4 blobs"), removed2);
        assertEquals(1, run(ImageCommands::images).split("\n").length, "only the header is left");
        assertTrue(ContentStore.open(tmp.resolve("store")).blobs().isEmpty());
    }

    @Test
    void errorsNameTheProblem() throws Exception {
        ImageException e = assertThrows(ImageException.class, () -> run(ImageCommands::inspect, "nothere"));
        assertTrue(e.getMessage().contains("docker.io/library/nothere:latest"), e.getMessage());
        ImageException size = assertThrows(ImageException.class, () -> run(ImageCommands::unpack, "--max-bytes", "lots", "a", "b"));
        assertTrue(size.getMessage().startsWith("--max-bytes \"lots\""), size.getMessage());
        assertThrows(CliException.class, () -> run(ImageCommands::images, "extra"));
        Files.createDirectories(tmp.resolve("full"));
        Files.writeString(tmp.resolve("full/x"), "x");
        Path archive = tmp.resolve("save.tar");
        TestImages.dockerSave(archive, "a:b", TestImages.twoLayers(), false);
        run(ImageCommands::importImage, archive.toString());
        ImageException notEmpty = assertThrows(ImageException.class,
                () -> run(ImageCommands::unpack, "a:b", tmp.resolve("full").toString()));
        assertTrue(notEmpty.getMessage().contains("is not empty"), notEmpty.getMessage());
        assertFalse(Files.exists(tmp.resolve("full/etc")));
    }

    @Test
    void unpackSaysWhenItStripsSetuid() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Descriptor m = TestImages.store(s, Platform.host(), List.of(Layer.of().file("bin/su", "x", 04755).tar()));
        s.tag("docker.io/library/suid:1", m);
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            run(ImageCommands::unpack, "suid:1", tmp.resolve("r").toString());
        } finally {
            System.setErr(oldErr);
        }
        assertTrue(err.toString().contains("stripped setuid/setgid bits or file capabilities from 1 files (bin/su)"), err.toString());
        run(ImageCommands::unpack, "--setuid", "suid:1", tmp.resolve("r2").toString());
        assertEquals(04755, (Integer) Files.getAttribute(tmp.resolve("r2/bin/su"), "unix:mode") & 07777);
    }
}
