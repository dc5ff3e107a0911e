package dev.bulwark.image;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Run in a child JVM by StoreTest and killed with SIGKILL at some moment:
 * "big" writes one endless blob; "loop" stores and names images until killed;
 * "tag N PREFIX" names N images and exits.
 */
public final class StoreCrashChild {
    private StoreCrashChild() {}

    public static void main(String[] args) throws Exception {
        ContentStore s = ContentStore.open(Path.of(args[0]));
        System.out.println("open");
        System.out.flush();
        switch (args[1]) {
            case "big" -> s.put(endless(), new Digest("0".repeat(64)), 8L << 30);
            case "loop" -> {
                for (int i = 0; ; i++) {
                    StoreTest.image(s, "crash/loop:" + (i % 5), new Random(i), 1 + i % 3, 1 << 20 + (i % 4));
                    System.out.println(i);
                    System.out.flush();
                }
            }
            case "tag" -> {
                int n = Integer.parseInt(args[2]);
                for (int i = 0; i < n; i++) {
                    StoreTest.image(s, args[3] + ":" + i, new Random(i), 1, 1000);
                }
            }
            default -> throw new IllegalArgumentException(args[1]);
        }
        System.out.println(List.of("done"));
    }

    private static InputStream endless() {
        return new InputStream() {
            final Random r = new Random(7);

            @Override
            public int read() {
                return r.nextInt(256);
            }

            @Override
            public int read(byte[] b, int off, int len) {
                for (int i = off; i < off + len; i++) {
                    b[i] = (byte) (i * 31);
                }
                return len;
            }
        };
    }
}
