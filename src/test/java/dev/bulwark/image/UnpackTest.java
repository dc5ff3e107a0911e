package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layer extraction of well-formed layers: formats, metadata, whiteouts, the duplicate rule. */
@org.junit.jupiter.api.Timeout(120)
class UnpackTest {
    @TempDir
    Path tmp;

    private Path target() throws IOException {
        return Files.createDirectories(tmp.resolve("rootfs"));
    }

    private static void apply(LayerUnpacker u, byte[] layer) {
        u.apply(new ByteArrayInputStream(layer), "", "test");
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    }

    @Test
    void filesDirectoriesLinksAndModes() throws IOException {
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of()
                .dir("etc", 0755)
                .file("etc/hosts", "127.0.0.1 localhost\n", 0640)
                .dir("usr/bin", 0711) // parent usr created implicitly
                .file("usr/bin/tool", "#!/bin/sh\n", 0755)
                .symlink("bin", "usr/bin")
                .symlink("etc/abs", "/etc/hosts")
                .hardlink("etc/hosts2", "etc/hosts")
                .add(TarEntry.file("etc/old", 0600, 0).withMtime(1_000_000_000L), "x".getBytes())
                .file("tmp/shared", "w", 0666)   // bits the umask would take away
                .file("tmp/none", "n", 0)
                .tar());
        assertEquals(0666, mode(t.resolve("tmp/shared")));
        assertEquals(0, mode(t.resolve("tmp/none")));
        assertEquals("127.0.0.1 localhost\n", read(t.resolve("etc/hosts")));
        assertEquals(0640, mode(t.resolve("etc/hosts")));
        assertEquals(0711, mode(t.resolve("usr/bin")));
        assertEquals(0755, mode(t.resolve("usr")));
        assertEquals(0755, mode(t.resolve("usr/bin/tool")));
        assertEquals("usr/bin", Files.readSymbolicLink(t.resolve("bin")).toString());
        assertEquals("/etc/hosts", Files.readSymbolicLink(t.resolve("etc/abs")).toString());
        assertTrue(Files.isSameFile(t.resolve("etc/hosts"), t.resolve("etc/hosts2")));
        assertEquals(1_000_000_000_000L, Files.getLastModifiedTime(t.resolve("etc/old")).toMillis());
        LayerUnpacker.Report r = u.report();
        assertEquals(5, r.files());
        assertEquals(2, r.symlinks());
        assertEquals(1, r.hardlinks());
    }

    @Test
    void ownershipAsRoot() throws IOException {
        assumeTrue(Posix.isRoot(), "chown needs root");
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of()
                .add(TarEntry.file("f", 0644, 0).withOwner(1234, 5678), "x".getBytes())
                .add(TarEntry.dir("d", 0755).withOwner(42, 43), new byte[0])
                .add(TarEntry.symlink("l", "f").withOwner(7, 8), new byte[0])
                .tar());
        assertEquals(1234, Files.getAttribute(t.resolve("f"), "unix:uid"));
        assertEquals(5678, Files.getAttribute(t.resolve("f"), "unix:gid"));
        assertEquals(42, Files.getAttribute(t.resolve("d"), "unix:uid"));
        assertEquals(7, Files.getAttribute(t.resolve("l"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void longNamesPaxGnuAndUstarPrefix() throws IOException {
        Path t = target();
        String longDir = "a".repeat(120) + "/" + "b".repeat(120);
        String paxName = longDir + "/" + "c".repeat(200);
        String gnuName = "g".repeat(150) + "/file";
        String ustarPrefix = "p".repeat(90) + "/" + "q".repeat(90); // fits name+prefix
        String unicode = "ca-certificates/NetLock_Arany_=Class_Gold=_F\u0151tan\u00fas\u00edtv\u00e1ny.crt";
        byte[] layer = Layer.of()
                .file(paxName, "pax")
                .gnuLongName(gnuName, "gnu")
                .raw(ustarHeader(ustarPrefix, 5), "ustar".getBytes())
                .tar();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, layer);
        assertEquals("pax", read(t.resolve(paxName)));
        assertEquals("gnu", read(t.resolve(gnuName)));
        assertEquals("ustar", read(t.resolve(ustarPrefix)));

        // Non-ASCII names need a UTF-8 locale: the JVM maps file names with sun.jnu.encoding,
        // which it takes from LC_ALL/LANG. Without one, the error says what to do.
        byte[] uni = Layer.of().file(unicode, "u").tar();
        if ("UTF-8".equals(System.getProperty("sun.jnu.encoding"))) {
            apply(u, uni);
            assertEquals("u", read(t.resolve(unicode)));
        } else {
            ImageException e = assertThrows(ImageException.class, () -> apply(u, uni));
            assertTrue(e.getMessage().contains("LC_ALL=C.UTF-8"), e.getMessage());
        }
    }

    private static byte[] ustarHeader(String name, int size) {
        int slash = name.indexOf('/');
        byte[] h = Layer.header(name.substring(slash + 1), '0', size);
        byte[] prefix = name.substring(0, slash).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(prefix, 0, h, 345, prefix.length);
        return h;
    }

    @Test
    void userXattrsAppliedOthersIgnored() throws IOException {
        Path t = target();
        byte[] layer = Layer.of()
                .add(TarEntry.file("f", 0644, 0).withXattrs(Map.of(
                        "user.note", "hello".getBytes(),
                        "trusted.secret", "no".getBytes())), "x".getBytes())
                .tar();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        try {
            apply(u, layer);
        } catch (ImageException e) {
            assumeTrue(!e.getMessage().contains("xattr"), "filesystem without user xattrs: " + e.getMessage());
            throw e;
        }
        UserDefinedFileAttributeView v = Files.getFileAttributeView(t.resolve("f"), UserDefinedFileAttributeView.class);
        ByteBuffer b = ByteBuffer.allocate(v.size("note"));
        v.read("note", b);
        assertEquals("hello", new String(b.array(), StandardCharsets.UTF_8));
        assertEquals(1, u.report().ignoredXattrs());
    }

    @Test
    void setuidStrippedByDefaultKeptWhenAllowed() throws IOException {
        byte[] layer = Layer.of().file("su", "x", 04755).file("sg", "y", 02711).dir("sticky", 01777).tar();
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, layer);
        assertEquals(0755, mode(t.resolve("su")));
        assertEquals(0711, mode(t.resolve("sg")));
        assertEquals(01777, mode(t.resolve("sticky")), "the sticky bit is not a privilege and stays");
        assertEquals(2, u.report().strippedCount());
        assertTrue(u.report().strippedSetuid().contains("su"));

        Path t2 = Files.createDirectories(tmp.resolve("kept"));
        LayerUnpacker k = new LayerUnpacker(t2, UnpackOptions.defaults().withSetuid(true));
        apply(k, layer);
        assertEquals(04755, mode(t2.resolve("su")));
        assertEquals(02711, mode(t2.resolve("sg")));
        assertEquals(0, k.report().strippedCount());
    }

    @Test
    void capabilityXattrStrippedByDefault() throws IOException {
        byte[] cap = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; // cap_net_raw, v2
        byte[] layer = Layer.of()
                .add(TarEntry.file("ping", 0755, 0).withXattrs(Map.of("security.capability", cap)), "x".getBytes())
                .tar();
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, layer);
        assertEquals(1, u.report().strippedCount());
        assertTrue(u.report().strippedSetuid().get(0).contains("security.capability"));
        assertFalse(hasXattr(t.resolve("ping"), "security.capability"));
    }

    @Test
    void capabilityXattrKeptWhenAllowedAsRoot() throws IOException, InterruptedException {
        assumeTrue(Posix.isRoot(), "security.capability needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/getfattr")), "needs the attr package");
        byte[] cap = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        byte[] layer = Layer.of()
                .add(TarEntry.file("ping", 0755, 0).withXattrs(Map.of("security.capability", cap)), "x".getBytes())
                .tar();
        Path t = target();
        apply(new LayerUnpacker(t, UnpackOptions.defaults().withSetuid(true)), layer);
        assertTrue(hasXattr(t.resolve("ping"), "security.capability"));
    }

    private static boolean hasXattr(Path p, String name) throws IOException {
        if (!Files.isExecutable(Path.of("/usr/bin/getfattr"))) {
            return false;
        }
        try {
            Process pr = new ProcessBuilder("getfattr", "-n", name, "--only-values", p.toString())
                    .redirectErrorStream(true).start();
            pr.getInputStream().readAllBytes();
            return pr.waitFor() == 0;
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }

    @Test
    void whiteoutsAndOpaqueDirectoriesHideLowerLayersOnly() throws IOException {
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of()
                .file("a/b", "b").file("a/c", "c").file("d", "d")
                .file("o/old1", "1").file("o/sub/old2", "2").file("o/keep/old3", "3")
                .symlink("s", "/etc")
                .tar());
        apply(u, Layer.of()
                .file("a/.wh.b", "")
                .file(".wh.d", "")
                .file(".wh.s", "")            // removes the link, not /etc
                .file("a/.wh.missing", "")    // nothing to remove: fine
                .dir("o")
                .dir("o/keep")                // re-declared in this layer: kept, but emptied of lower content
                .file("o/.wh..wh..opq", "")
                .file("o/new", "n")
                .file("n/x", "x").file("n/.wh.x", "") // same-layer whiteout: x stays
                .tar());
        assertFalse(Files.exists(t.resolve("a/b")));
        assertEquals("c", read(t.resolve("a/c")));
        assertFalse(Files.exists(t.resolve("d")));
        assertFalse(Files.exists(t.resolve("s"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isDirectory(Path.of("/etc")));
        assertFalse(Files.exists(t.resolve("o/old1")));
        assertFalse(Files.exists(t.resolve("o/sub")));
        assertTrue(Files.isDirectory(t.resolve("o/keep")));
        assertFalse(Files.exists(t.resolve("o/keep/old3")));
        assertEquals("n", read(t.resolve("o/new")));
        assertEquals("x", read(t.resolve("n/x")));
        assertFalse(Files.exists(t.resolve("a/.wh.b")), "whiteouts are not materialised");
        assertFalse(Files.exists(t.resolve("o/.wh..wh..opq")));
    }

    @Test
    void opaqueMarkerBeforeItsEntries() throws IOException {
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of().file("o/old", "1").tar());
        apply(u, Layer.of().file("o/.wh..wh..opq", "").file("o/new", "n").tar());
        assertFalse(Files.exists(t.resolve("o/old")));
        assertEquals("n", read(t.resolve("o/new")));
    }

    /** The duplicate rule: the later entry wins, as in Docker; a dir over a dir is merged. */
    @Test
    void duplicateEntriesLaterWins() throws IOException {
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of()
                .file("f", "first").file("f", "second")
                .dir("d", 0700).file("d/x", "x").dir("d", 0750)
                .dir("e").file("e/y", "y").file("e", "now a file")
                .file("g", "file").dir("g")
                .tar());
        assertEquals("second", read(t.resolve("f")));
        assertEquals(0750, mode(t.resolve("d")));
        assertEquals("x", read(t.resolve("d/x")));
        assertEquals("now a file", read(t.resolve("e")));
        assertTrue(Files.isDirectory(t.resolve("g")));
    }

    @Test
    void readOnlyDirectoryStillReceivesEntries() throws IOException {
        Path t = target();
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        apply(u, Layer.of().dir("ro", 0555).file("ro/f", "f").tar());
        assertEquals(0555, mode(t.resolve("ro")));
        assertEquals("f", read(t.resolve("ro/f")));
    }

    @Test
    void gzipLayerAndMediaTypeChecks() throws IOException {
        byte[] tar = Layer.of().file("hello", "world").tar();
        Path t = target();
        new LayerUnpacker(t, UnpackOptions.defaults())
                .apply(new ByteArrayInputStream(Layer.gzip(tar)), MediaTypes.OCI_LAYER_GZIP, "sha256:x");
        assertEquals("world", read(t.resolve("hello")));

        ImageException e = assertThrows(ImageException.class, () -> new LayerUnpacker(t, UnpackOptions.defaults())
                .apply(new ByteArrayInputStream(tar), MediaTypes.DOCKER_LAYER_GZIP, "sha256:y"));
        assertTrue(e.getMessage().contains("says gzip"), e.getMessage());
    }

    @Test
    void zstdLayersFromTheZstdTool() throws IOException {
        byte[] tar = Layer.of().dir("etc").file("etc/hello", "world\n").file("bin/tool", "#!/bin/sh\n", 0755)
                .symlink("usr/bin", "../bin").file("big", "z".repeat(1 << 20)).tar();
        byte[] zst = Layer.zstd(tar);
        assertTrue(zst.length < tar.length / 10, "zstd compressed it: " + zst.length);
        Path t = target();
        new LayerUnpacker(t, UnpackOptions.defaults()).apply(new ByteArrayInputStream(zst), MediaTypes.OCI_LAYER_ZSTD, "sha256:z");
        assertEquals("world\n", read(t.resolve("etc/hello")));
        assertEquals(1 << 20, Files.size(t.resolve("big")));
        assertEquals(0755, mode(t.resolve("bin/tool")));
        assertEquals(Path.of("../bin"), Files.readSymbolicLink(t.resolve("usr/bin")));
        // Sniffed from the data when no media type is given, and a second layer (a whiteout) on top.
        LayerUnpacker u = new LayerUnpacker(t, UnpackOptions.defaults());
        u.apply(new ByteArrayInputStream(Layer.zstd(Layer.of().file(".wh.big", "").file("etc/motd", "hi").tar())), "", "sha256:z2");
        assertFalse(Files.exists(t.resolve("big")));
        assertEquals("hi", read(t.resolve("etc/motd")));
    }

    @Test
    void zstdMediaTypeAndDataMustAgree() throws IOException {
        Path t = target();
        byte[] tar = Layer.of().file("a", "b").tar();
        ImageException plain = assertThrows(ImageException.class, () -> new LayerUnpacker(t, UnpackOptions.defaults())
                .apply(new ByteArrayInputStream(tar), MediaTypes.OCI_LAYER_ZSTD, "sha256:z"));
        assertTrue(plain.getMessage().contains("says zstd, but the data is not zstd"), plain.getMessage());
        ImageException gz = assertThrows(ImageException.class, () -> new LayerUnpacker(t, UnpackOptions.defaults())
                .apply(new ByteArrayInputStream(Layer.zstd(tar)), MediaTypes.OCI_LAYER_GZIP, "sha256:g"));
        assertTrue(gz.getMessage().contains("says gzip"), gz.getMessage());
        assertFalse(Files.exists(t.resolve("a")));
    }

    @Test
    void fifoCreated() throws IOException {
        Path t = target();
        new LayerUnpacker(t, UnpackOptions.defaults())
                .apply(new ByteArrayInputStream(Layer.of().device("run/fifo", TarEntry.Type.FIFO, 0, 0).tar()), "", "f");
        assertTrue((Boolean) Files.getAttribute(t.resolve("run/fifo"), "unix:isOther") || Files.exists(t.resolve("run/fifo")));
        assertFalse(Files.isRegularFile(t.resolve("run/fifo")));
    }

    @Test
    void devicesCreatedOnlyWhenAllowedAsRoot() throws IOException {
        assumeTrue(Posix.isRoot(), "mknod needs root");
        Path t = target();
        new LayerUnpacker(t, UnpackOptions.defaults().withDevices(true))
                .apply(new ByteArrayInputStream(Layer.of().device("dev/null", TarEntry.Type.CHAR, 1, 3).tar()), "", "d");
        long rdev = ((Number) Files.getAttribute(t.resolve("dev/null"), "unix:rdev")).longValue();
        assertEquals(Files.getAttribute(Path.of("/dev/null"), "unix:rdev"), rdev);
    }

    @Test
    void readerRoundTripsTarWriter() throws IOException {
        byte[] big = new byte[70_000];
        new java.util.Random(1).nextBytes(big);
        byte[] tar = Layer.of().add(TarEntry.file("x/" + "long".repeat(40), 0600, 0).withOwner(10_000_000, 3), big).tar();
        TarReader r = new TarReader(new ByteArrayInputStream(tar), "t");
        TarEntry e = r.next().orElseThrow();
        assertEquals("x/" + "long".repeat(40), e.name());
        assertEquals(10_000_000, e.uid());
        assertArrayEquals(big, r.content().readAllBytes());
        assertTrue(r.next().isEmpty());
    }
}
