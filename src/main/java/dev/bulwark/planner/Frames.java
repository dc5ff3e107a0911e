package dev.bulwark.planner;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The planner protocol's framing, shared by the planner and its tests; the client's side is
 * src/main/c/client.c, and the format is documented in docs/planner.md. A frame is a type byte,
 * a big-endian u32 payload length, then the payload. Strings in payloads are a u32 length and
 * UTF-8 bytes; a string list is a u32 count and that many strings.
 */
public final class Frames {
    private Frames() {}

    public static final String MAGIC = "bulwark-planner/1";
    /** No frame may be larger: a request is a command line and an environment. */
    public static final int MAX_FRAME = 1 << 20;

    /** client → planner: the call. */
    public static final byte REQUEST = 'Q';
    /** client → planner: the stage's exit status. */
    public static final byte STAGE_STATUS = 'S';
    /** planner → client: bytes for stdout / stderr. */
    public static final byte STDOUT = 'O';
    public static final byte STDERR = 'E';
    /** planner → client: the call's exit status; the last frame. */
    public static final byte EXIT = 'X';
    /** planner → client: the planner is alive (every second while a call is open and no stage runs). */
    public static final byte HEARTBEAT = 'K';
    /** planner → client: run the stage (then send STAGE_STATUS). */
    public static final byte STAGE = 'G';
    /** planner → client: run this call on the direct path (a command the planner does not serve). */
    public static final byte DIRECT = 'D';
    /** planner → client: refused (another build, another namespace, not root); the client runs the call on the direct path. */
    public static final byte REFUSED = 'R';

    public record Frame(byte type, byte[] payload) {}

    public static Frame read(DataInputStream in) throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("the peer closed the connection");
        }
        int len = in.readInt();
        if (len < 0 || len > MAX_FRAME) {
            throw new IOException("frame of " + Integer.toUnsignedString(len) + " bytes (at most " + MAX_FRAME + ")");
        }
        byte[] b = new byte[len];
        in.readFully(b);
        return new Frame((byte) type, b);
    }

    public static void write(DataOutputStream out, byte type, byte[] payload) throws IOException {
        out.writeByte(type);
        out.writeInt(payload.length);
        out.write(payload);
        out.flush();
    }

    /** Builds a payload. */
    public static final class Payload {
        private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        public Payload u32(long v) {
            try {
                out.writeInt((int) v);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        public Payload u8(int v) {
            try {
                out.writeByte(v);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        public Payload string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u32(b.length);
            try {
                out.write(b);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        public Payload strings(List<String> l) {
            u32(l.size());
            l.forEach(this::string);
            return this;
        }

        public byte[] bytes() {
            return bytes.toByteArray();
        }
    }

    /** Reads a payload; every read checks the bytes are there. */
    public static final class Reader {
        private final byte[] b;
        private int pos;

        public Reader(byte[] b) {
            this.b = b;
        }

        public long u32() throws IOException {
            need(4);
            long v = ((b[pos] & 0xffL) << 24) | ((b[pos + 1] & 0xffL) << 16) | ((b[pos + 2] & 0xffL) << 8) | (b[pos + 3] & 0xffL);
            pos += 4;
            return v;
        }

        public int u8() throws IOException {
            need(1);
            return b[pos++] & 0xff;
        }

        public String string() throws IOException {
            long n = u32();
            need(n);
            String s = new String(b, pos, (int) n, StandardCharsets.UTF_8);
            pos += (int) n;
            return s;
        }

        public List<String> strings() throws IOException {
            long n = u32();
            if (n > b.length - pos) {
                throw new IOException("a list of " + n + " strings in " + (b.length - pos) + " bytes");
            }
            List<String> out = new ArrayList<>((int) n);
            for (long i = 0; i < n; i++) {
                out.add(string());
            }
            return out;
        }

        public void end() throws IOException {
            if (pos != b.length) {
                throw new IOException((b.length - pos) + " bytes after the end of the message");
            }
        }

        private void need(long n) throws IOException {
            if (n > b.length - pos) {
                throw new IOException("message cut short: " + n + " bytes wanted, " + (b.length - pos) + " left");
            }
        }
    }
}
