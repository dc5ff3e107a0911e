package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile-layer corpus. Every case is built here, applied to a fresh target beside a
 * sentinel directory, and must fail with an error naming the problem (or, where the rule is
 * to neutralise rather than refuse, succeed harmlessly); after each, the sentinel, the
 * directory holding both, and /etc are checked to be untouched.
 */
@org.junit.jupiter.api.Timeout(120)
class HostileLayerTest {
    @TempDir
    Path tmp;
    Path target;
    Path sentinel;
    Map<String, String> sentinelBefore;

    @BeforeEach
    void setUp() throws IOException {
        target = Files.createDirectories(tmp.resolve("target"));
        sentinel = Files.createDirectories(tmp.resolve("sentinel"));
        Files.writeString(sentinel.resolve("file"), "precious");
        Files.createDirectories(sentinel.resolve("sub"));
        Files.writeString(sentinel.resolve("sub/inner"), "also precious");
        sentinelBefore = snapshot(sentinel);
    }

    @AfterEach
    void nothingOutsideTheTarget() throws IOException {
        assertEquals(sentinelBefore, snapshot(sentinel), "the sentinel directory beside the target changed");
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of("sentinel", "target"), s.map(p -> p.getFileName().toString()).sorted().toList(),
                    "something was created beside the target");
        }
        assertFalse(Files.exists(Path.of("/etc/bulwark-pwned"), LinkOption.NOFOLLOW_LINKS), "wrote into /etc");
        assertFalse(Files.exists(Path.of("/bulwark-pwned"), LinkOption.NOFOLLOW_LINKS), "wrote into /");
    }

    /** Path, type, mode, size and content of everything below dir, links not followed. */
    private static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                String k = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    m.put(k, "link " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    m.put(k, "dir " + Files.getAttribute(p, "unix:mode"));
                } else {
                    m.put(k, "file " + Files.getAttribute(p, "unix:mode") + " " + Files.getAttribute(p, "unix:nlink")
                            + " " + Files.readString(p));
                }
            }
        }
        return m;
    }

    private String abs(String rel) {
        return sentinel.resolve(rel).toString();
    }

    private static void apply(LayerUnpacker u, byte[] layer) {
        u.apply(new ByteArrayInputStream(layer), "", "sha256:hostile");
    }

    /** Applies the layers in order to the target; the last must fail with a message containing expected. */
    private String refused(UnpackOptions opt, String expected, byte[]... layers) {
        LayerUnpacker u = new LayerUnpacker(target, opt);
        for (int i = 0; i < layers.length - 1; i++) {
            apply(u, layers[i]);
        }
        ImageException e = assertThrows(ImageException.class, () -> apply(u, layers[layers.length - 1]));
        assertTrue(e.getMessage().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
        assertTrue(e.getMessage().contains("layer sha256:hostile"), "the error names the layer: " + e.getMessage());
        return e.getMessage();
    }

    private String refused(String expected, byte[]... layers) {
        return refused(UnpackOptions.defaults(), expected, layers);
    }

    // 1
    @Test
    void pathTraversal() {
        refused("\"..\" component", Layer.of().file("../sentinel/file", "pwned").tar());
        refused("\"..\" component", Layer.of().file("a/../../sentinel/file", "pwned").tar());
        refused("\"..\" component", Layer.of().file("./..", "pwned").tar());
    }

    // 2
    @Test
    void absolutePath() {
        refused("is absolute", Layer.of().file(abs("file"), "pwned").tar());
        refused("is absolute", Layer.of().file("/etc/bulwark-pwned", "pwned").tar());
    }

    // 3
    @Test
    void symlinkThenWriteThroughSameLayer() {
        refused("is a symlink", Layer.of().symlink("link", sentinel.toString()).file("link/file", "pwned").tar());
        refused("is a symlink", Layer.of().symlink("rel", "../sentinel").file("rel/file", "pwned").tar());
        refused("is a symlink", Layer.of().symlink("d", sentinel.toString()).dir("d/sub/deeper").tar());
    }

    // 4
    @Test
    void symlinkThenWriteThroughEarlierLayer() {
        refused("is a symlink",
                Layer.of().dir("usr").symlink("usr/lib", sentinel.toString()).tar(),
                Layer.of().file("usr/lib/file", "pwned").tar());
    }

    // 5: not an error: the later entry replaces the link, it is never opened through it
    @Test
    void fileOverSymlinkReplacesTheLink() throws IOException {
        LayerUnpacker u = new LayerUnpacker(target, UnpackOptions.defaults());
        apply(u, Layer.of().symlink("x", abs("file")).tar());
        apply(u, Layer.of().file("x", "pwned").hardlink("y", "x").tar());
        assertFalse(Files.isSymbolicLink(target.resolve("x")));
        assertEquals("pwned", Files.readString(target.resolve("x")));
    }

    // 6
    @Test
    void hardlinkToOutside() {
        refused("\"..\" component", Layer.of().hardlink("h", "../sentinel/file").tar());
        refused("is absolute", Layer.of().hardlink("h", abs("file")).tar());
        refused("is absolute", Layer.of().hardlink("h", "/etc/passwd").tar());
        refused("is a symlink", Layer.of().symlink("s", sentinel.toString()).hardlink("h", "s/file").tar());
        refused("does not exist", Layer.of().hardlink("h", "nothing/here").tar());
        refused("is a directory", Layer.of().dir("d").hardlink("h", "d").tar());
    }

    // 7: a hard link to a symlink that points outside is another symlink, never a way to write
    @Test
    void hardlinkToOutsidePointingSymlinkThenWrite() {
        refused("is a symlink",
                Layer.of().symlink("s", sentinel.toString()).hardlink("h", "s").tar(),
                Layer.of().file("h/file", "pwned").tar());
    }

    // 8
    @Test
    void symlinkLoops() {
        refused("is a symlink", Layer.of().symlink("a", "b").symlink("b", "a").file("a/x", "x").tar());
        refused("is a symlink", Layer.of().symlink("self", "self").file("self/x", "x").tar());
        refused("is a symlink", Layer.of().symlink("up", "..").file("up/sentinel/file", "x").tar());
    }

    // 9
    @Test
    void deviceNodes() {
        refused("character device 1:3; device nodes are refused",
                Layer.of().device("dev/null", TarEntry.Type.CHAR, 1, 3).tar());
        refused("block device 8:0; device nodes are refused",
                Layer.of().device("dev/sda", TarEntry.Type.BLOCK, 8, 0).tar());
    }

    // 10: setuid and setgid are stripped by default, and the report says so
    @Test
    void setuidFiles() throws IOException {
        LayerUnpacker u = new LayerUnpacker(target, UnpackOptions.defaults());
        apply(u, Layer.of().file("bin/su", "x", 04755).file("bin/wall", "y", 02755).hardlink("bin/su2", "bin/su").tar());
        assertEquals(0755, (Integer) Files.getAttribute(target.resolve("bin/su"), "unix:mode") & 07777);
        assertEquals(0755, (Integer) Files.getAttribute(target.resolve("bin/su2"), "unix:mode") & 07777);
        assertEquals(0755, (Integer) Files.getAttribute(target.resolve("bin/wall"), "unix:mode") & 07777);
        assertEquals(2, u.report().strippedCount());
    }

    // 11
    @Test
    void hugeSparseFileClaims() throws IOException {
        refused("sparse files are refused", Layer.of().raw(Layer.header("sparse", 'S', 1L << 40), new byte[0]).tar());
        refused("sparse files are refused", Layer.of()
                .pax("sparse2", Map.of("GNU.sparse.size", "1099511627776", "GNU.sparse.map", "0,0"), new byte[0]).tar());
        // A plain header claiming 1 TiB: refused from the header, before anything is written.
        refused("claims 1099511627776 bytes", Layer.of().raw(Layer.header("huge", '0', 1L << 40), new byte[0]).tar());
        assertFalse(Files.exists(target.resolve("huge")));
        refused("claims 1099511627776 bytes", Layer.of().pax("huge2", Map.of("size", "1099511627776"), new byte[0]).tar());
    }

    // 12
    @Test
    void gzipBomb() throws IOException {
        // 128 MiB of zeros in one entry compress to ~130 KB: a 1000:1 ratio, refused past 64 MiB.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out, 1 << 16) {
            {
                def.setLevel(Deflater.BEST_COMPRESSION);
            }
        }) {
            gz.write(Layer.header("bomb", '0', 128L << 20));
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 128; i++) {
                gz.write(zeros);
            }
        }
        refused("limit maxRatio", out.toByteArray());
        // And the absolute limit, with a smaller budget than the entry needs.
        UnpackOptions small = UnpackOptions.defaults().withLimits(UnpackOptions.Limits.defaults().withMaxBytes(1 << 20));
        refused(small, "limit maxBytes", Layer.gzip(Layer.of().file("a", "x".repeat(600_000)).file("b", "y".repeat(600_000)).tar()));
    }

    // 12b
    @Test
    void zstdBomb() {
        // The same 128 MiB of zeros through the zstd tool: about 4 KB, refused by the same ratio limit.
        byte[] bomb = Layer.zstd(out -> {
            out.write(Layer.header("bomb", '0', 128L << 20));
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 128; i++) {
                out.write(zeros);
            }
        });
        assertTrue(bomb.length < 1 << 20, "a bomb is small: " + bomb.length);
        refused("limit maxRatio", bomb);
        UnpackOptions small = UnpackOptions.defaults().withLimits(UnpackOptions.Limits.defaults().withMaxBytes(1 << 20));
        refused(small, "limit maxBytes", Layer.zstd(Layer.of().file("a", "x".repeat(600_000)).file("b", "y".repeat(600_000)).tar()));
    }

    // 12c
    @Test
    void corruptZstd() {
        byte[] good = Layer.zstd(Layer.of().file("a", "x".repeat(100_000)).tar());
        byte[] bad = good.clone();
        for (int i = 12; i < bad.length - 4; i += 7) {
            bad[i] ^= 0x5a;
        }
        refused("zstd", bad);
        // Cut short: the frame ends before its content.
        refused("", java.util.Arrays.copyOf(good, good.length / 2));
    }

    // 13
    @Test
    void absurdEntryCount() {
        Layer l = Layer.of();
        for (int i = 0; i < 3000; i++) {
            l.dir("d" + i);
        }
        UnpackOptions opt = UnpackOptions.defaults().withLimits(UnpackOptions.Limits.defaults().withMaxEntries(1000));
        refused(opt, "more than 1000 entries (limit maxEntries)", l.tar());
        // Empty entries still count: headers alone cannot run the unpacker forever.
        Layer w = Layer.of();
        for (int i = 0; i < 1500; i++) {
            w.file(".wh.x" + i, "");
        }
        refused(opt, "limit maxEntries", w.tar());
    }

    // 14: the rule is "later wins"; a later entry never writes through an earlier link
    @Test
    void duplicateEntries() throws IOException {
        LayerUnpacker u = new LayerUnpacker(target, UnpackOptions.defaults());
        apply(u, Layer.of()
                .file("f", "one").file("f", "two")
                .symlink("g", abs("file")).file("g", "replaced")
                .file("h", "plain").symlink("h", abs("file"))
                .tar());
        assertEquals("two", Files.readString(target.resolve("f")));
        assertEquals("replaced", Files.readString(target.resolve("g")));
        assertTrue(Files.isSymbolicLink(target.resolve("h")));
        refused("is a symlink", Layer.of().dir("d").symlink("d", sentinel.toString()).file("d/file", "x").tar());
    }

    // 15
    @Test
    void whiteoutOfOutsidePaths() {
        refused("names no entry below the target", Layer.of().file("sub/.wh..", "").tar());
        refused("\"..\" component", Layer.of().file("../sentinel/.wh.file", "").tar());
        refused("reserved whiteout prefix", Layer.of().file(".wh.../sentinel/file", "").tar());
        refused("is a symlink",
                Layer.of().symlink("s", sentinel.toString()).tar(),
                Layer.of().file("s/.wh.file", "").tar());
        refused("is a symlink",
                Layer.of().symlink("s2", sentinel.toString()).tar(),
                Layer.of().file("s2/.wh..wh..opq", "").tar());
        refused("is absolute", Layer.of().file(abs(".wh.file"), "").tar());
    }

    // 16
    @Test
    void whiteoutOfTheRoot() throws IOException {
        refused("names no entry below the target", Layer.of().file(".wh..", "").tar());
        refused("names no entry below the target", Layer.of().file(".wh.", "").tar());
        refused("names no entry below the target", Layer.of().file("./.wh...", "").tar());
        // An opaque root is legal: it hides the lower layers, and keeps the target itself.
        LayerUnpacker u = new LayerUnpacker(target, UnpackOptions.defaults());
        apply(u, Layer.of().file("old", "o").symlink("s", sentinel.toString()).tar());
        apply(u, Layer.of().file(".wh..wh..opq", "").file("new", "n").tar());
        assertTrue(Files.isDirectory(target));
        assertFalse(Files.exists(target.resolve("old")));
        assertFalse(Files.exists(target.resolve("s"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("n", Files.readString(target.resolve("new")));
    }

    // 17
    @Test
    void namesWithNulOrNewline() {
        refused("contains a NUL byte", Layer.of().pax("x", Map.of("path", "a\0/../../sentinel/file"), "x".getBytes()).tar());
        refused("contains a newline", Layer.of().file("evil\nname", "x").tar());
        refused("contains a newline", Layer.of().file("evil\rname", "x").tar());
        refused("contains a NUL byte or a newline", symlinkWithTarget("l", "a\nb"));
    }

    private static byte[] symlinkWithTarget(String name, String target) {
        return Layer.of().add(TarEntry.symlink(name, target), new byte[0]).tar();
    }

    // 18
    @Test
    void veryDeepAndLongPaths() {
        String deep = "d/".repeat(300) + "f";
        refused("levels deep, more than 256 (limit maxDepth)", Layer.of().file(deep, "x").tar());
        String longName = ("x".repeat(200) + "/").repeat(25) + "f";
        refused("(limit maxPathLength)", Layer.of().file(longName, "x").tar());
        refused("longer than 255 bytes", Layer.of().file("y".repeat(300), "x").tar());
    }

    // 19
    @Test
    void symlinkedParentFromEarlierLayerToEtc() {
        refused("is a symlink (to \"/etc\")",
                Layer.of().symlink("etc2", "/etc").tar(),
                Layer.of().file("etc2/bulwark-pwned", "pwned").tar());
        refused("is a symlink",
                Layer.of().symlink("root", "/").tar(),
                Layer.of().file("root/etc/bulwark-pwned", "pwned").tar());
        refused("is a symlink",
                Layer.of().symlink("etc3", "/etc").tar(),
                Layer.of().hardlink("etc3/bulwark-pwned", "x").tar());
    }

    // 20
    @Test
    void corruptHeaders() {
        byte[] tar = Layer.of().file("ok", "x").tar();
        tar[0] = 'X'; // name changed, checksum not
        refused("checksum mismatch", tar);
        byte[] garbage = new byte[1024];
        java.util.Arrays.fill(garbage, (byte) 'A');
        refused("checksum", garbage);
        byte[] truncated = java.util.Arrays.copyOf(Layer.of().file("t", "x".repeat(2000)).tar(), 1000);
        refused("truncated", truncated);
    }

    // 21
    @Test
    void unsupportedTypesAndOptionsOff() {
        refused("tar type 'V' is not supported", Layer.of().raw(Layer.header("vol", 'V', 0), new byte[0]).tar());
        refused(UnpackOptions.defaults().withSymlinks(false), "symlinks are refused",
                Layer.of().symlink("l", "x").tar());
        refused(UnpackOptions.defaults().withHardlinks(false), "hard links are refused",
                Layer.of().file("x", "x").hardlink("l", "x").tar());
    }

    // 22: a target that is itself a symlink is refused before anything is read
    @Test
    void targetThatIsASymlink() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("target/t"), sentinel);
        ImageException e = assertThrows(ImageException.class, () -> new LayerUnpacker(link, UnpackOptions.defaults()));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
        Files.delete(link);
    }
}
