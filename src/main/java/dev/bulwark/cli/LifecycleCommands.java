package dev.bulwark.cli;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.runtime.Namespaces;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** runc's container commands: create, start, state, kill, delete, list, pause, resume, ps, features. */
final class LifecycleCommands {
    private LifecycleCommands() {}

    private static String id(Args a, String usage) {
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark " + usage);
        }
        return a.positional().get(0);
    }

    static int create(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("bundle", "b", "pid-file", "console-socket", "preserve-fds"),
                Set.of("no-pivot", "no-new-keyring"));
        String id = id(a, "create [--bundle DIR] [--pid-file FILE] ID");
        Path bundle = dev.bulwark.runtime.Invocation.current().resolve(a.get("bundle", a.get("b", ".")));
        Optional<Path> pidFile = a.has("pid-file") ? Optional.of(dev.bulwark.runtime.Invocation.current().resolve(a.get("pid-file", ""))) : Optional.empty();
        Lifecycle.create(g.root(), id, bundle, pidFile, preserveFds(a), a.flag("no-pivot"), consoleSocket(a),
                !a.flag("no-new-keyring"), g.system());
        return 0;
    }

    static Optional<Path> consoleSocket(Args a) {
        return a.has("console-socket") ? Optional.of(dev.bulwark.runtime.Invocation.current().resolve(a.get("console-socket", ""))) : Optional.empty();
    }

    static int preserveFds(Args a) {
        try {
            int n = Integer.parseInt(a.get("preserve-fds", "0"));
            if (n < 0 || n > 1024) {
                throw new CliException("--preserve-fds must be between 0 and 1024");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new CliException("--preserve-fds takes a number, not \"" + a.get("preserve-fds", "") + "\"");
        }
    }

    static int start(Globals g, List<String> argv) {
        Lifecycle.start(g.root(), id(Args.parse(argv, Set.of(), Set.of()), "start ID"));
        return 0;
    }

    static int state(Globals g, List<String> argv) {
        String id = id(Args.parse(argv, Set.of(), Set.of()), "state ID");
        System.out.print(Json.writePretty(Lifecycle.load(g.root(), id).toJson()));
        return 0;
    }

    static int kill(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of(), Set.of("all", "a"));
        if (a.positional().isEmpty() || a.positional().size() > 2) {
            throw new CliException("usage: bulwark kill [--all] ID [SIGNAL]");
        }
        int sig = a.positional().size() == 2 ? Signals.parse(a.positional().get(1)) : 15;
        Lifecycle.kill(g.root(), a.positional().get(0), sig, a.flag("all") || a.flag("a"));
        return 0;
    }

    static int delete(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of(), Set.of("force", "f"));
        Lifecycle.delete(g.root(), id(a, "delete [--force] ID"), a.flag("force") || a.flag("f"));
        return 0;
    }

    static int pause(Globals g, List<String> argv) {
        Lifecycle.pause(g.root(), id(Args.parse(argv, Set.of(), Set.of()), "pause ID"), true);
        return 0;
    }

    static int resume(Globals g, List<String> argv) {
        Lifecycle.pause(g.root(), id(Args.parse(argv, Set.of(), Set.of()), "resume ID"), false);
        return 0;
    }

    static int list(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("format", "f"), Set.of("quiet", "q"));
        List<Lifecycle.State> all = Lifecycle.list(g.root());
        String format = a.get("format", a.get("f", "table"));
        if (a.flag("quiet") || a.flag("q")) {
            all.forEach(s -> System.out.println(s.id()));
        } else if (format.equals("json")) {
            List<JsonValue> out = new ArrayList<>();
            all.forEach(s -> out.add(s.toJson()));
            System.out.println(Json.write(JsonBuilder.array(out)));
        } else if (format.equals("table")) {
            System.out.printf("%-20s %-8s %-10s %-40s %s%n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
            for (Lifecycle.State s : all) {
                System.out.printf("%-20s %-8d %-10s %-40s %s%n", s.id(), s.status().equals("stopped") ? 0 : s.pid(),
                        s.status(), s.bundle(), s.created());
            }
        } else {
            throw new CliException("--format must be table or json, not \"" + format + "\"");
        }
        return 0;
    }

    /**
     * `ps [--format table|json] ID [PS_ARGS...]`: json is the array of PIDs in the container's
     * cgroup (what containerd's shim reads); table runs the host's ps (default -ef) and keeps its
     * header and the lines of those PIDs, as runc does.
     */
    static int ps(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("format", "f"), Set.of());
        if (a.positional().isEmpty()) {
            throw new CliException("usage: bulwark ps [--format table|json] ID [PS_ARGS...]");
        }
        String id = a.positional().get(0);
        String format = a.get("format", a.get("f", "table"));
        List<Long> pids = Lifecycle.processes(g.root(), id);
        if (format.equals("json")) {
            if (a.positional().size() > 1) {
                throw new CliException("ps --format json takes no ps arguments");
            }
            List<JsonValue> out = new ArrayList<>();
            pids.forEach(p -> out.add(JsonBuilder.number(p)));
            System.out.println(Json.write(JsonBuilder.array(out)));
            return 0;
        }
        if (!format.equals("table")) {
            throw new CliException("--format must be table or json, not \"" + format + "\"");
        }
        List<String> cmd = new ArrayList<>(List.of("ps"));
        cmd.addAll(a.positional().size() > 1 ? a.positional().subList(1, a.positional().size()) : List.of("-ef"));
        String out;
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new CliException(String.join(" ", cmd) + " exited with status " + p.exitValue());
            }
        } catch (java.io.IOException e) {
            throw new CliException("run " + String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted while running " + String.join(" ", cmd));
        }
        List<String> lines = out.lines().toList();
        if (lines.isEmpty()) {
            throw new CliException(String.join(" ", cmd) + " printed nothing");
        }
        int column = List.of(lines.get(0).trim().split("\\s+")).indexOf("PID");
        if (column < 0) {
            throw new CliException(String.join(" ", cmd) + " printed no PID column");
        }
        System.out.println(lines.get(0));
        Set<String> wanted = new java.util.HashSet<>();
        pids.forEach(p -> wanted.add(Long.toString(p)));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.trim().split("\\s+");
            if (f.length > column && wanted.contains(f[column])) {
                System.out.println(line);
            }
        }
        return 0;
    }

    /** `features`: what this runtime supports, in the runtime-spec's features.json form. */
    static int features(Globals g, List<String> argv) {
        List<String> ns = new ArrayList<>();
        for (String t : List.of("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts")) {
            if (Namespaces.FLAGS.containsKey(t)) {
                ns.add(t);
            }
        }
        JsonValue v = JsonBuilder.object()
                .put("ociVersionMin", "1.0.0")
                .put("ociVersionMax", Main.SPEC_VERSION)
                .put("hooks", JsonBuilder.strings(List.of()))
                .put("mountOptions", JsonBuilder.strings(List.of("async", "atime", "bind", "defaults", "dev", "diratime",
                        "dirsync", "exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
                        "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
                        "nosymfollow", "private", "rbind", "rdev", "relatime", "rexec", "rnodev", "rnoexec", "rnosuid",
                        "ro", "rprivate", "rro", "rrw", "rshared", "rslave", "rsuid", "runbindable", "rw", "shared",
                        "silent", "slave", "strictatime", "suid", "sync", "unbindable")))
                .put("linux", JsonBuilder.object()
                        .put("namespaces", JsonBuilder.strings(ns))
                        .put("capabilities", JsonBuilder.strings(dev.bulwark.runtime.Capabilities.NAMES))
                        .put("cgroup", JsonBuilder.object().put("v1", true).put("v2", true).put("systemd", false)
                                .put("systemdUser", false))
                        .put("seccomp", JsonBuilder.object().put("enabled", true)
                                .put("actions", JsonBuilder.strings(List.of("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",
                                        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                        "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP")))
                                .put("operators", JsonBuilder.strings(List.of("SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                        "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE")))
                                .put("archs", JsonBuilder.strings(List.of("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
                                        "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64")))
                                .put("supportedFlags", JsonBuilder.strings(List.of("SECCOMP_FILTER_FLAG_LOG",
                                        "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC",
                                        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))))
                        .put("apparmor", JsonBuilder.object().put("enabled", false))
                        .put("selinux", JsonBuilder.object().put("enabled", false))
                        .put("mountExtensions", JsonBuilder.object().put("idmap", JsonBuilder.object().put("enabled", false))))
                .put("annotations", JsonBuilder.object().put("dev.bulwark.version", Main.VERSION))
                .build();
        System.out.print(Json.writePretty(v));
        return 0;
    }

    /** Signal names and numbers as kill(1) and runc accept them: KILL, SIGKILL, 9. */
    static final class Signals {
        private static final Map<String, Integer> NUMBERS = Map.ofEntries(
                Map.entry("HUP", 1), Map.entry("INT", 2), Map.entry("QUIT", 3), Map.entry("ILL", 4), Map.entry("TRAP", 5),
                Map.entry("ABRT", 6), Map.entry("IOT", 6), Map.entry("BUS", 7), Map.entry("FPE", 8), Map.entry("KILL", 9),
                Map.entry("USR1", 10), Map.entry("SEGV", 11), Map.entry("USR2", 12), Map.entry("PIPE", 13),
                Map.entry("ALRM", 14), Map.entry("TERM", 15), Map.entry("STKFLT", 16), Map.entry("CHLD", 17),
                Map.entry("CONT", 18), Map.entry("STOP", 19), Map.entry("TSTP", 20), Map.entry("TTIN", 21),
                Map.entry("TTOU", 22), Map.entry("URG", 23), Map.entry("XCPU", 24), Map.entry("XFSZ", 25),
                Map.entry("VTALRM", 26), Map.entry("PROF", 27), Map.entry("WINCH", 28), Map.entry("IO", 29),
                Map.entry("PWR", 30), Map.entry("SYS", 31));

        private Signals() {}

        static int parse(String s) {
            try {
                int n = Integer.parseInt(s);
                if (n >= 1 && n <= 64) {
                    return n;
                }
            } catch (NumberFormatException e) {
                String name = s.toUpperCase();
                Integer n = NUMBERS.get(name.startsWith("SIG") ? name.substring(3) : name);
                if (n != null) {
                    return n;
                }
            }
            throw new CliException("unknown signal \"" + s + "\"");
        }
    }
}
