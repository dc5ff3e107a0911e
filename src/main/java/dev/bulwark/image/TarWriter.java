package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes ustar archives, with a pax extended header when a name, link name or number does not
 * fit ustar or when there are xattrs. Used to export OCI layout tarballs (and by tests to build
 * layers).
 */
public final class TarWriter implements AutoCloseable {
    private static final int BLOCK = 512;
    private final OutputStream out;

    public TarWriter(OutputStream out) {
        this.out = out;
    }

    /** Adds an entry; for files, data must supply exactly entry.size() bytes. */
    public void add(TarEntry e, InputStream data) throws IOException {
        Map<String, byte[]> pax = new TreeMap<>();
        byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
        byte[] link = e.linkName().getBytes(StandardCharsets.UTF_8);
        if (name.length > 100 || !ascii(name)) {
            pax.put("path", name);
        }
        if (link.length > 100 || !ascii(link)) {
            pax.put("linkpath", link);
        }
        if (e.size() > 077777777777L) {
            pax.put("size", Long.toString(e.size()).getBytes(StandardCharsets.US_ASCII));
        }
        if (e.uid() > 07777777) {
            pax.put("uid", Long.toString(e.uid()).getBytes(StandardCharsets.US_ASCII));
        }
        if (e.gid() > 07777777) {
            pax.put("gid", Long.toString(e.gid()).getBytes(StandardCharsets.US_ASCII));
        }
        for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
            pax.put("SCHILY.xattr." + x.getKey(), x.getValue());
        }
        if (!pax.isEmpty()) {
            byte[] body = paxBody(pax);
            writeHeader(truncate("PaxHeaders/" + e.name()), 'x', "", 0644, 0, 0, body.length, e.mtime(), 0, 0);
            out.write(body);
            pad(body.length);
        }
        char type = switch (e.type()) {
            case FILE -> '0';
            case HARDLINK -> '1';
            case SYMLINK -> '2';
            case CHAR -> '3';
            case BLOCK -> '4';
            case DIR -> '5';
            case FIFO -> '6';
        };
        long size = e.type() == TarEntry.Type.FILE ? e.size() : 0;
        writeHeader(truncate(e.name()), type, truncate(e.linkName()), e.mode(), Math.min(e.uid(), 07777777),
                Math.min(e.gid(), 07777777), Math.min(size, 077777777777L), e.mtime(), e.devMajor(), e.devMinor());
        if (size > 0) {
            long copied = data.transferTo(new OutputStream() {
                long left = size;

                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    if (len > left) {
                        throw new IOException("tar entry " + e.name() + ": more data than its size " + size);
                    }
                    out.write(b, off, len);
                    left -= len;
                }
            });
            if (copied != size) {
                throw new IOException("tar entry " + e.name() + ": " + copied + " bytes of data, size says " + size);
            }
            pad(size);
        }
    }

    public void add(TarEntry e, byte[] data) throws IOException {
        add(new TarEntry(e.name(), e.type(), e.linkName(), e.mode(), e.uid(), e.gid(), data.length, e.mtime(),
                e.devMajor(), e.devMinor(), e.xattrs()), new java.io.ByteArrayInputStream(data));
    }

    /** Writes the two zero blocks that end an archive; does not close the stream. */
    public void finish() throws IOException {
        out.write(new byte[2 * BLOCK]);
    }

    @Override
    public void close() throws IOException {
        finish();
        out.flush();
    }

    private static boolean ascii(byte[] b) {
        for (byte x : b) {
            if (x < 0x20 || x >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    private static String truncate(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= 100 && ascii(b)) {
            return s;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && sb.length() < 99; i++) {
            char c = s.charAt(i);
            sb.append(c >= 0x20 && c < 0x7f ? c : '_');
        }
        return sb.toString();
    }

    static byte[] paxBody(Map<String, byte[]> pax) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (Map.Entry<String, byte[]> e : pax.entrySet()) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            int rest = 1 + k.length + 1 + e.getValue().length + 1;
            int len = rest + 1;
            while (Integer.toString(len).length() + rest != len) {
                len++;
            }
            b.writeBytes((len + " ").getBytes(StandardCharsets.US_ASCII));
            b.writeBytes(k);
            b.write('=');
            b.writeBytes(e.getValue());
            b.write('\n');
        }
        return b.toByteArray();
    }

    private void writeHeader(String name, char type, String link, int mode, long uid, long gid, long size,
            long mtime, int major, int minor) throws IOException {
        byte[] h = new byte[BLOCK];
        put(h, 0, 100, name.getBytes(StandardCharsets.US_ASCII));
        octal(h, 100, 8, mode & 07777);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        octal(h, 124, 12, size);
        octal(h, 136, 12, Math.max(0, Math.min(mtime, 077777777777L)));
        h[156] = (byte) type;
        put(h, 157, 100, link.getBytes(StandardCharsets.US_ASCII));
        put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
        put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        octal(h, 329, 8, major);
        octal(h, 337, 8, minor);
        writeRaw(h);
    }

    /** Writes a 512-byte header, filling in its checksum; for tests that build odd archives. */
    void writeRaw(byte[] h) throws IOException {
        checksum(h);
        out.write(h);
    }

    static void checksum(byte[] h) {
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        String c = String.format("%06o", sum);
        put(h, 148, 6, c.getBytes(StandardCharsets.US_ASCII));
        h[154] = 0;
        h[155] = ' ';
    }

    private void pad(long size) throws IOException {
        int p = (int) ((BLOCK - size % BLOCK) % BLOCK);
        if (p > 0) {
            out.write(new byte[p]);
        }
    }

    private static void put(byte[] h, int off, int len, byte[] v) {
        System.arraycopy(v, 0, h, off, Math.min(len, v.length));
    }

    private static void octal(byte[] h, int off, int len, long v) {
        String s = Long.toOctalString(v);
        String padded = "0".repeat(Math.max(0, len - 1 - s.length())) + s;
        put(h, off, len - 1, padded.getBytes(StandardCharsets.US_ASCII));
        h[off + len - 1] = 0;
    }
}
