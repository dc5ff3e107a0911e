package dev.bulwark.planner;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A client's call: who it is (build, namespaces, PID), where it runs (working directory,
 * environment, which of its stdio are terminals) and what it asks (argv without argv[0]).
 *
 * @param namespaces the client's mnt, pid and user namespaces as /proc/self/ns links read them
 *                   ("mnt:[4026531841]"): the planner serves only callers that see the same
 *                   mounts, PIDs and IDs as itself
 */
public record Request(String magic, String buildId, List<String> namespaces, long pid, int flags, String cwd,
        List<String> argv, Map<String, String> env) {
    public static final int STDIN_TTY = 1;
    public static final int STDOUT_TTY = 2;
    public static final int STDERR_TTY = 4;

    static Request parse(byte[] payload) throws IOException {
        Frames.Reader r = new Frames.Reader(payload);
        String magic = r.string();
        if (!magic.equals(Frames.MAGIC)) {
            throw new IOException("not a " + Frames.MAGIC + " client (it says \"" + magic + "\")");
        }
        String build = r.string();
        List<String> ns = List.of(r.string(), r.string(), r.string());
        long pid = r.u32();
        int flags = (int) r.u32();
        String cwd = r.string();
        List<String> argv = r.strings();
        Map<String, String> env = new LinkedHashMap<>();
        for (String e : r.strings()) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                env.putIfAbsent(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        r.end();
        return new Request(magic, build, ns, pid, flags, cwd, List.copyOf(argv), env);
    }

    /** The payload a client sends (the tests' client; the real one is C). */
    public byte[] encode() {
        Frames.Payload p = new Frames.Payload().string(magic).string(buildId);
        namespaces.forEach(p::string);
        p.u32(pid).u32(flags).string(cwd).strings(argv);
        p.strings(env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
        return p.bytes();
    }
}
