package dev.bulwark.seccomp;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Syscall numbers per architecture, from the generated resource syscalls.tsv (see
 * src/test/c/seccomp/syscall_table.c). A name with "-" in a column exists elsewhere but not on that
 * architecture.
 */
final class SyscallTable {
    static final int ABSENT = -1;
    private static final String RESOURCE = "/dev/bulwark/seccomp/syscalls.tsv";
    private static final Map<String, int[]> NUMBERS = load();

    private SyscallTable() {}

    /** Whether any architecture (known to libseccomp) has this syscall. */
    static boolean known(String name) {
        return NUMBERS.containsKey(name);
    }

    /** The number of name on arch, or ABSENT. */
    static int number(String name, Arch arch) {
        int[] n = NUMBERS.get(name);
        return n == null ? ABSENT : n[arch.column];
    }

    static Set<String> names() {
        return Collections.unmodifiableSet(NUMBERS.keySet());
    }

    private static Map<String, int[]> load() {
        Map<String, int[]> m = new HashMap<>(1024);
        try (InputStream in = SyscallTable.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new SeccompException("", "the syscall table " + RESOURCE + " is missing from the classpath");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            int columns = Arch.values().length;
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isEmpty() || line.charAt(0) == '#') {
                    continue;
                }
                String[] f = line.split("\t");
                if (f.length != columns + 1) {
                    throw new SeccompException("", RESOURCE + ": malformed line \"" + line + "\"");
                }
                int[] n = new int[columns];
                for (int i = 0; i < columns; i++) {
                    n[i] = f[i + 1].equals("-") ? ABSENT : Integer.parseInt(f[i + 1]);
                }
                m.put(f[0], n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
        return m;
    }
}
