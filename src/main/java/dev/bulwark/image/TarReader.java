package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A streaming tar reader for the formats image layers use: ustar, pax (extended headers with
 * long names, sizes, ids, times and SCHILY.xattr.* attributes) and GNU (long names 'L' and
 * long link names 'K', base-256 numbers). Checksums are verified. Sparse files (GNU 'S' and
 * the pax GNU.sparse.* keys), multi-volume and other rare types are refused: a sparse entry can
 * claim a size far beyond its data, and no image builder writes one.
 */
public final class TarReader {
    private static final int BLOCK = 512;
    /** Extended headers and long names are metadata; nothing honest needs more. */
    private static final int MAX_META = 1 << 20;

    private final InputStream in;
    private final String source;
    private final byte[] header = new byte[BLOCK];
    private long offset;
    private long remaining;
    private long padding;
    private boolean ended;

    public TarReader(InputStream in, String source) {
        this.in = in;
        this.source = source;
    }

    /** Bytes consumed from the stream so far. */
    public long offset() {
        return offset;
    }

    /** The next entry, or empty at the end of the archive. The previous entry's unread data is skipped. */
    public Optional<TarEntry> next() throws IOException {
        if (ended) {
            return Optional.empty();
        }
        skip(remaining + padding);
        remaining = 0;
        padding = 0;
        Map<String, byte[]> pax = new HashMap<>();
        String longName = null;
        String longLink = null;
        while (true) {
            long at = offset;
            int n = in.readNBytes(header, 0, BLOCK);
            offset += n;
            if (n == 0) {
                // EOF on a block boundary without the end-of-archive blocks: accepted, as GNU tar
                // and Go do; the layer's digest already vouches for its completeness.
                ended = true;
                return Optional.empty();
            }
            if (n < BLOCK) {
                throw error(at, "truncated header (" + n + " of 512 bytes)");
            }
            if (allZero(header)) {
                ended = true;
                return Optional.empty();
            }
            checkChecksum(at);
            char type = (char) (header[156] & 0xff);
            long size = number(124, 12, "size", at);
            switch (type) {
                case 'x' -> {
                    parsePax(readMeta(size, at, "pax header"), pax, at);
                    continue;
                }
                case 'g' -> {
                    // Global headers carry archive comments (git archive); nothing in them
                    // applies to a layer, and honouring a global path would be absurd.
                    readMeta(size, at, "pax global header");
                    continue;
                }
                case 'L' -> {
                    longName = cString(readMeta(size, at, "GNU long name"), at, "GNU long name");
                    continue;
                }
                case 'K' -> {
                    longLink = cString(readMeta(size, at, "GNU long link name"), at, "GNU long link name");
                    continue;
                }
                case 'S' -> throw error(at, "GNU sparse entry \"" + field(0, 100, at) + "\": sparse files are refused");
                default -> { }
            }
            for (String k : pax.keySet()) {
                if (k.startsWith("GNU.sparse.")) {
                    throw error(at, "pax key " + k + ": sparse files are refused");
                }
            }
            TarEntry.Type t = switch (type) {
                case '0', '\0', '7' -> TarEntry.Type.FILE;
                case '1' -> TarEntry.Type.HARDLINK;
                case '2' -> TarEntry.Type.SYMLINK;
                case '3' -> TarEntry.Type.CHAR;
                case '4' -> TarEntry.Type.BLOCK;
                case '5' -> TarEntry.Type.DIR;
                case '6' -> TarEntry.Type.FIFO;
                default -> throw error(at, "entry \"" + field(0, 100, at) + "\": tar type '" + printable(type)
                        + "' is not supported");
            };
            boolean ustar = header[257] == 'u' && header[258] == 's' && header[259] == 't' && header[260] == 'a'
                    && header[261] == 'r' && header[262] == 0;
            String name;
            if (pax.containsKey("path")) {
                name = utf8(pax.get("path"), at, "pax path");
            } else if (longName != null) {
                name = longName;
            } else {
                name = field(0, 100, at);
                String prefix = ustar ? field(345, 155, at) : "";
                if (!prefix.isEmpty()) {
                    name = prefix + "/" + name;
                }
            }
            String link = pax.containsKey("linkpath") ? utf8(pax.get("linkpath"), at, "pax linkpath")
                    : longLink != null ? longLink : field(157, 100, at);
            if (t == TarEntry.Type.FILE && type != '7' && name.endsWith("/")) {
                t = TarEntry.Type.DIR; // pre-POSIX archives mark directories by the slash only
            }
            if (pax.containsKey("size")) {
                size = paxNumber(pax.get("size"), "size", at);
            }
            long uid = pax.containsKey("uid") ? paxNumber(pax.get("uid"), "uid", at) : number(108, 8, "uid", at);
            long gid = pax.containsKey("gid") ? paxNumber(pax.get("gid"), "gid", at) : number(116, 8, "gid", at);
            long mtime = pax.containsKey("mtime") ? paxTime(pax.get("mtime"), at) : number(136, 12, "mtime", at);
            int mode = (int) (number(100, 8, "mode", at) & 07777);
            int major = 0;
            int minor = 0;
            if (t == TarEntry.Type.CHAR || t == TarEntry.Type.BLOCK) {
                major = (int) Math.min(Integer.MAX_VALUE, number(329, 8, "devmajor", at));
                minor = (int) Math.min(Integer.MAX_VALUE, number(337, 8, "devminor", at));
            }
            Map<String, byte[]> xattrs = new HashMap<>();
            for (Map.Entry<String, byte[]> e : pax.entrySet()) {
                if (e.getKey().startsWith("SCHILY.xattr.")) {
                    xattrs.put(e.getKey().substring("SCHILY.xattr.".length()), e.getValue());
                }
            }
            // Only regular files carry data; for the others the size field is ignored, as Go does.
            long data = t == TarEntry.Type.FILE ? size : 0;
            if (t != TarEntry.Type.FILE) {
                size = 0;
            }
            remaining = data;
            padding = (BLOCK - data % BLOCK) % BLOCK;
            return Optional.of(new TarEntry(name, t, link, mode, uid, gid, size, mtime, major, minor, xattrs));
        }
    }

    /** The current entry's data; reading past it returns EOF. */
    public InputStream content() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (remaining <= 0) {
                    return -1;
                }
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) {
                    throw error(offset, "archive truncated inside an entry");
                }
                remaining -= n;
                offset += n;
                return n;
            }
        };
    }

    private void skip(long n) throws IOException {
        byte[] buf = new byte[8192];
        while (n > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n));
            if (r < 0) {
                throw error(offset, "archive truncated inside an entry");
            }
            n -= r;
            offset += r;
        }
    }

    private byte[] readMeta(long size, long at, String what) throws IOException {
        if (size > MAX_META) {
            throw error(at, what + " of " + size + " bytes (at most " + MAX_META + ")");
        }
        byte[] b = in.readNBytes((int) size);
        offset += b.length;
        if (b.length < size) {
            throw error(at, what + " truncated");
        }
        skip((BLOCK - size % BLOCK) % BLOCK);
        return b;
    }

    /** pax records: "LEN key=value\n", LEN counting the whole record. */
    private void parsePax(byte[] b, Map<String, byte[]> out, long at) {
        int i = 0;
        while (i < b.length) {
            int sp = i;
            while (sp < b.length && b[sp] != ' ') {
                sp++;
            }
            long len = 0;
            if (sp == i || sp - i > 9) {
                throw error(at, "pax header: bad record length at byte " + i);
            }
            for (int k = i; k < sp; k++) {
                if (b[k] < '0' || b[k] > '9') {
                    throw error(at, "pax header: bad record length at byte " + i);
                }
                len = len * 10 + (b[k] - '0');
            }
            int end = (int) (i + len);
            if (len < 5 || i + len > b.length || b[end - 1] != '\n') {
                throw error(at, "pax header: record at byte " + i + " has a wrong length");
            }
            int eq = sp + 1;
            while (eq < end && b[eq] != '=') {
                eq++;
            }
            if (eq >= end - 1) {
                throw error(at, "pax header: record at byte " + i + " has no '='");
            }
            String key = new String(b, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
            byte[] value = java.util.Arrays.copyOfRange(b, eq + 1, end - 1);
            out.put(key, value);
            i = end;
        }
    }

    private long paxNumber(byte[] v, String key, long at) {
        String s = new String(v, StandardCharsets.US_ASCII);
        try {
            long n = Long.parseLong(s);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw error(at, "pax " + key + " \"" + s + "\": expected a non-negative integer");
        }
    }

    private long paxTime(byte[] v, long at) {
        String s = new String(v, StandardCharsets.US_ASCII);
        int dot = s.indexOf('.');
        String whole = dot < 0 ? s : s.substring(0, dot);
        try {
            return Long.parseLong(whole.isEmpty() ? "0" : whole);
        } catch (NumberFormatException e) {
            throw error(at, "pax mtime \"" + s + "\": expected seconds");
        }
    }

    private void checkChecksum(long at) {
        long stored = number(148, 8, "checksum", at);
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = i >= 148 && i < 156 ? ' ' : header[i];
            unsigned += b & 0xff;
            signed += (byte) b;
        }
        if (stored != unsigned && stored != signed) {
            throw error(at, "header checksum mismatch (stored " + stored + ", computed " + unsigned
                    + "): not a tar archive, or a corrupt one");
        }
    }

    /** An octal number (with optional spaces and NULs) or a GNU base-256 one. */
    private long number(int off, int len, String fieldName, long at) {
        if ((header[off] & 0x80) != 0) {
            if ((header[off] & 0xff) == 0xff) {
                throw error(at, "field " + fieldName + ": negative base-256 number");
            }
            long v = header[off] & 0x7f;
            for (int i = off + 1; i < off + len; i++) {
                if ((v >>> 55) != 0) {
                    throw error(at, "field " + fieldName + ": base-256 number too large");
                }
                v = (v << 8) | (header[i] & 0xff);
            }
            return v;
        }
        int i = off;
        int end = off + len;
        while (i < end && (header[i] == ' ' || header[i] == 0)) {
            i++;
        }
        long v = 0;
        for (; i < end && header[i] != ' ' && header[i] != 0; i++) {
            int c = header[i];
            if (c < '0' || c > '7') {
                throw error(at, "field " + fieldName + ": not an octal number");
            }
            if ((v >>> 60) != 0) {
                throw error(at, "field " + fieldName + ": number too large");
            }
            v = (v << 3) | (c - '0');
        }
        for (; i < end; i++) {
            if (header[i] != ' ' && header[i] != 0) {
                throw error(at, "field " + fieldName + ": not an octal number");
            }
        }
        return v;
    }

    private String field(int off, int len, long at) {
        int end = off;
        while (end < off + len && header[end] != 0) {
            end++;
        }
        return utf8(java.util.Arrays.copyOfRange(header, off, end), at, "name field");
    }

    private String cString(byte[] b, long at, String what) {
        int end = b.length;
        while (end > 0 && b[end - 1] == 0) {
            end--;
        }
        return utf8(java.util.Arrays.copyOf(b, end), at, what);
    }

    private String utf8(byte[] b, long at, String what) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw error(at, what + " is not valid UTF-8");
        }
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c);
    }

    private ImageException error(long at, String problem) {
        return new ImageException(source + ": tar header at offset " + at + ": " + problem);
    }
}
