package dev.bulwark.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Builds layer tarballs in tests, including malformed ones. */
final class Layer {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarWriter tar = new TarWriter(bytes);

    static Layer of() {
        return new Layer();
    }

    Layer add(TarEntry e, byte[] data) {
        try {
            tar.add(e, data);
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return this;
    }

    Layer file(String name, String content) {
        return file(name, content, 0644);
    }

    Layer file(String name, String content, int mode) {
        return add(TarEntry.file(name, mode, 0), content.getBytes(StandardCharsets.UTF_8));
    }

    Layer dir(String name) {
        return add(TarEntry.dir(name, 0755), new byte[0]);
    }

    Layer dir(String name, int mode) {
        return add(TarEntry.dir(name, mode), new byte[0]);
    }

    Layer symlink(String name, String target) {
        return add(TarEntry.symlink(name, target), new byte[0]);
    }

    Layer hardlink(String name, String target) {
        return add(TarEntry.hardlink(name, target), new byte[0]);
    }

    Layer device(String name, TarEntry.Type type, int major, int minor) {
        return add(TarEntry.file(name, 0666, 0).withDevice(type, major, minor), new byte[0]);
    }

    Layer pax(String name, Map<String, String> records, byte[] data) {
        java.util.Map<String, byte[]> m = new java.util.TreeMap<>();
        records.forEach((k, v) -> m.put(k, v.getBytes(StandardCharsets.UTF_8)));
        byte[] body = TarWriter.paxBody(m);
        raw(header("PaxHeaders/x", 'x', body.length), body);
        return raw(header(name, '0', data.length), data);
    }

    /** A GNU long-name ('L') header followed by a file with a truncated ustar name. */
    Layer gnuLongName(String name, String content) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.UTF_8);
        raw(header("././@LongLink", 'L', n.length), n);
        byte[] c = content.getBytes(StandardCharsets.UTF_8);
        return raw(header(name.substring(0, 99), '0', c.length), c);
    }

    /** A header as written by hand: name, type and size; data padded to 512. */
    Layer raw(byte[] header, byte[] data) {
        try {
            tar.writeRaw(header);
            bytes.write(data);
            int pad = (512 - data.length % 512) % 512;
            bytes.write(new byte[pad]);
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return this;
    }

    static byte[] header(String name, char type, long size) {
        byte[] h = new byte[512];
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(n, 0, h, 0, Math.min(100, n.length));
        put(h, 100, "0000644\0");
        put(h, 108, "0000000\0");
        put(h, 116, "0000000\0");
        if (size > 077777777777L) {
            h[124] = (byte) 0x80; // GNU base-256
            for (int i = 0; i < 8; i++) {
                h[135 - i] = (byte) (size >>> (8 * i));
            }
        } else {
            put(h, 124, String.format("%011o", size) + "\0");
        }
        put(h, 136, "00000000000\0");
        h[156] = (byte) type;
        put(h, 257, "ustar\0");
        put(h, 263, "00");
        TarWriter.checksum(h);
        return h;
    }

    static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, off, b.length);
    }

    byte[] tar() {
        try {
            tar.close();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return bytes.toByteArray();
    }

    byte[] tgz() {
        return gzip(tar());
    }

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return out.toByteArray();
    }

    /** data compressed by the zstd command-line tool (Debian's zstd), as image builders make it. */
    static byte[] zstd(byte[] data) {
        return zstd(out -> out.write(data));
    }

    interface Writer {
        void write(java.io.OutputStream out) throws IOException;
    }

    /** What writer produces, streamed through `zstd -q -c`, so large (bomb) inputs never sit in memory. */
    static byte[] zstd(Writer writer) {
        try {
            Process p = new ProcessBuilder("zstd", "-q", "-c").redirectError(ProcessBuilder.Redirect.INHERIT).start();
            var feed = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try (java.io.OutputStream in = p.getOutputStream()) {
                    writer.write(in);
                } catch (IOException x) {
                    throw new UncheckedIOException(x);
                }
            });
            byte[] out = p.getInputStream().readAllBytes();
            feed.join();
            if (p.waitFor() != 0) {
                throw new IOException("zstd exited with " + p.exitValue() + " (is Debian's zstd installed?)");
            }
            return out;
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        } catch (InterruptedException x) {
            throw new IllegalStateException(x);
        }
    }
}
