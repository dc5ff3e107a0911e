package dev.bulwark.image;

import io.airlift.compress.zstd.ZstdInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The zstd decoder for tar+zstd layers (aircompressor's pure-Java one; the JDK has none). Kept
 * in its own class so that the dependency's classes are loaded, and its jar opened, only when a
 * zstd layer is met: the verifier of {@link LayerUnpacker} sees only this method's
 * {@code InputStream} return type, never {@code ZstdInputStream}.
 */
final class ZstdLayer {
    private ZstdLayer() {}

    /**
     * A decoding stream over a zstd layer. The decoder reports corrupt input as unchecked
     * exceptions; they become IOExceptions here, so the unpacker names the layer in its error.
     * The decompression-bomb limits are the unpacker's, counted on what this returns.
     */
    static InputStream open(InputStream compressed) {
        return new FilterInputStream(new ZstdInputStream(compressed)) {
            @Override
            public int read() throws IOException {
                try {
                    return super.read();
                } catch (RuntimeException e) {
                    throw corrupt(e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return super.read(b, off, len);
                } catch (RuntimeException e) {
                    throw corrupt(e);
                }
            }
        };
    }

    private static IOException corrupt(RuntimeException e) {
        return new IOException("corrupt zstd data: " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
    }
}
