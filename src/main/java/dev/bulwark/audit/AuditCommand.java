package dev.bulwark.audit;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.json.JsonValue;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import java.io.Console;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code bulwark audit}: where this host's kernel stands against KSPP's recommendations, whether
 * it has what Bulwark's features need, and what in a container's config opens a door.
 *
 * <p>Exit status: 0, or 1 when {@code --fail-on} finds a failure at or above its severity, or 2
 * when the audit could not run (bad arguments, an input that cannot be read).
 */
public final class AuditCommand {
    static final int EXIT_OK = 0;
    static final int EXIT_FINDINGS = 1;
    static final int EXIT_ERROR = 2;

    private static final String USAGE = """
            usage: bulwark audit [OPTIONS]              audit this host: kernel config, command line, sysctls, runtime readiness
                   bulwark audit [OPTIONS] --bundle DIR audit the container config DIR/config.json
                   bulwark audit [OPTIONS] ID           audit a container Bulwark runs (its state under --root)

            options:
              --config FILE     kernel config to check (default /proc/config.gz, else /boot/config-$(uname -r)); may be gzipped
              --cmdline FILE    kernel command line to check (default /proc/cmdline)
              --sysctl FILE     sysctls as "key = value" lines, as sysctl -a prints (default /proc/sys)
              --bundle DIR      check DIR/config.json
              --host            with --bundle or ID, check the host as well
              --format text|json
              --fail-on high|medium|low
                                exit 1 when a check at or above this severity fails (default: never)
              --all             list passing and skipped host checks too (JSON always has every check)
              --no-color        no colours, even on a terminal
              --host-root DIR   read /proc, /sys and /boot under DIR (an offline copy; used by tests)

            exit status: 0 ok, 1 --fail-on matched, 2 the audit could not run
            """;

    private AuditCommand() {}

    /**
     * @param stateRoot the global --root (state directories of containers, one per ID)
     * @param args      the arguments after `audit`
     */
    public static int run(Path stateRoot, List<String> args) {
        return run(stateRoot, args, System.out, System.err, colourTerminal());
    }

    /**
     * Colour only on a terminal. Since JDK 22 System.console() is non-null even when output is
     * redirected, so isTerminal() decides; NO_COLOR (no-color.org) and TERM=dumb turn it off.
     */
    static boolean colourTerminal() {
        Console c = System.console();
        String term = System.getenv("TERM");
        return c != null && c.isTerminal() && term != null && !term.equals("dumb") && System.getenv("NO_COLOR") == null;
    }

    /** Parsed arguments. Paths are as given; empty Optionals mean the live host's defaults. */
    record Options(
            Optional<Path> config, Optional<Path> cmdline, Optional<Path> sysctl, Optional<Path> bundle,
            Optional<String> id, boolean host, boolean json, Optional<Severity> failOn, boolean all, boolean noColor,
            Optional<Path> hostRoot, boolean help) {}

    static final class UsageException extends RuntimeException {
        UsageException(String m) {
            super(m);
        }
    }

    static Options parse(List<String> args) {
        Map<String, String> v = new LinkedHashMap<>();
        Set<String> flags = new LinkedHashSet<>();
        List<String> positional = new ArrayList<>();
        Set<String> valued = Set.of("config", "cmdline", "sysctl", "bundle", "b", "format", "fail-on", "host-root");
        Set<String> bool = Set.of("host", "all", "no-color", "help", "h");
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                positional.addAll(args.subList(i + 1, args.size()));
                break;
            }
            if (!a.startsWith("-") || a.equals("-")) {
                positional.add(a);
                continue;
            }
            String name = a.startsWith("--") ? a.substring(2) : a.substring(1);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (valued.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.size()) {
                        throw new UsageException("flag --" + name + " needs a value");
                    }
                    value = args.get(++i);
                }
                v.put(name.equals("b") ? "bundle" : name, value);
            } else if (bool.contains(name)) {
                if (value != null) {
                    throw new UsageException("flag --" + name + " takes no value");
                }
                flags.add(name);
            } else {
                throw new UsageException("unknown flag " + a);
            }
        }
        String format = v.getOrDefault("format", "text");
        if (!format.equals("text") && !format.equals("json")) {
            throw new UsageException("--format must be text or json, not \"" + format + "\"");
        }
        Optional<Severity> failOn = Optional.ofNullable(v.get("fail-on")).map(s -> switch (s) {
            case "high" -> Severity.HIGH;
            case "medium" -> Severity.MEDIUM;
            case "low" -> Severity.LOW;
            default -> throw new UsageException("--fail-on must be high, medium or low, not \"" + s + "\"");
        });
        if (positional.size() > 1) {
            throw new UsageException("expected at most one container ID, found " + positional.size() + ": " + positional);
        }
        Optional<String> id = positional.stream().findFirst();
        if (id.isPresent() && v.containsKey("bundle")) {
            throw new UsageException("give either --bundle DIR or a container ID, not both");
        }
        if (id.isPresent() && (id.get().isEmpty() || id.get().contains("/") || id.get().equals(".") || id.get().equals(".."))) {
            throw new UsageException("invalid container ID \"" + id.get() + "\"");
        }
        return new Options(
                Optional.ofNullable(v.get("config")).map(Path::of),
                Optional.ofNullable(v.get("cmdline")).map(Path::of),
                Optional.ofNullable(v.get("sysctl")).map(Path::of),
                Optional.ofNullable(v.get("bundle")).map(Path::of),
                id,
                flags.contains("host"),
                format.equals("json"),
                failOn,
                flags.contains("all"),
                flags.contains("no-color"),
                Optional.ofNullable(v.get("host-root")).map(Path::of),
                flags.contains("help") || flags.contains("h"));
    }

    static int run(Path stateRoot, List<String> args, PrintStream out, PrintStream err, boolean terminal) {
        Options o;
        try {
            o = parse(args);
        } catch (UsageException e) {
            err.println("bulwark audit: " + e.getMessage() + " (see bulwark audit --help)");
            return EXIT_ERROR;
        }
        if (o.help()) {
            out.print(USAGE);
            return EXIT_OK;
        }
        Report report;
        try {
            report = audit(stateRoot, o, o.hostRoot().map(Host::new).orElse(Host.LIVE));
        } catch (AuditException e) {
            err.println("bulwark audit: " + e.getMessage());
            return EXIT_ERROR;
        }
        out.print(o.json() ? report.json() : report.text(terminal && !o.noColor(), o.all()));
        out.flush();
        return o.failOn().map(report::failsAt).orElse(false) ? EXIT_FINDINGS : EXIT_OK;
    }

    static Report audit(Path stateRoot, Options o, Host host) {
        boolean container = o.bundle().isPresent() || o.id().isPresent();
        Map<String, String> inputs = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        List<Finding> findings = new ArrayList<>();
        String title;
        if (!container || o.host()) {
            List<Rule> rules = RuleSet.builtin();
            HostFacts facts = facts(o, host, rules, inputs, notes);
            findings.addAll(HostChecks.check(rules, facts));
            findings.addAll(Readiness.check(host, facts, List.of(stateRoot.toString(), "/var/lib", "/")));
            title = facts.running().map(v -> "kernel " + host.release().orElse(v.toString())).orElse("kernel unknown")
                    + ", " + facts.arch();
        } else {
            title = "";
        }
        if (container) {
            Path bundle = o.bundle().orElseGet(() -> bundleOf(stateRoot, o.id().get()));
            Path configJson = bundle.resolve("config.json");
            inputs.put("container", o.id().map(id -> id + " (" + configJson + ")").orElse(configJson.toString()));
            findings.addAll(ContainerChecks.check(readSpec(configJson)));
            String what = "container " + o.id().orElse(bundle.toString());
            title = title.isEmpty() ? what : title + "; " + what;
        }
        return new Report(title, inputs, notes, findings);
    }

    static HostFacts facts(Options o, Host host, List<Rule> rules, Map<String, String> inputs, List<String> notes) {
        Optional<String> release = host.release();
        Optional<KernelVersion> running = release.flatMap(KernelVersion::parse);

        Optional<KernelConfig> config;
        if (o.config().isPresent()) {
            config = Optional.of(KernelConfig.parse(o.config().get().toString(), readInput(o.config().get(), true)));
        } else {
            List<String> candidates = new ArrayList<>(List.of("/proc/config.gz"));
            release.ifPresent(r -> candidates.add("/boot/config-" + r));
            config = Optional.empty();
            for (String c : candidates) {
                if (host.exists(c)) {
                    config = Optional.of(KernelConfig.parse(c, readInput(host.path(c), true)));
                    break;
                }
            }
            if (config.isEmpty()) {
                notes.add("no kernel config at " + String.join(" or ", candidates)
                        + " (give one with --config); kernel config checks skipped");
            }
        }
        config.ifPresent(c -> inputs.put("kernel config", c.origin()));

        Optional<Cmdline> cmdline;
        if (o.cmdline().isPresent()) {
            cmdline = Optional.of(Cmdline.parse(o.cmdline().get().toString(), readInput(o.cmdline().get(), false)));
        } else if (host.exists("/proc/cmdline")) {
            cmdline = Optional.of(Cmdline.parse("/proc/cmdline", readInput(host.path("/proc/cmdline"), false)));
        } else {
            cmdline = Optional.empty();
            notes.add("no /proc/cmdline (give one with --cmdline); command line checks skipped");
        }
        cmdline.ifPresent(c -> inputs.put("command line", c.origin()));

        Optional<Sysctls> sysctls;
        if (o.sysctl().isPresent()) {
            sysctls = Optional.of(Sysctls.parse(o.sysctl().get().toString(), readInput(o.sysctl().get(), false)));
        } else if (host.exists("/proc/sys")) {
            Set<String> keys = new LinkedHashSet<>();
            for (Rule r : rules) {
                if (r.kind() == Rule.Kind.SYSCTL) {
                    keys.add(r.key());
                }
                r.alts().stream().filter(a -> a.kind() == Rule.Kind.SYSCTL).forEach(a -> keys.add(a.key()));
            }
            sysctls = Optional.of(Sysctls.fromProc(host, keys));
        } else {
            sysctls = Optional.empty();
            notes.add("no /proc/sys (give a file with --sysctl); sysctl checks skipped");
        }
        sysctls.ifPresent(s -> inputs.put("sysctls", s.origin()));

        if (running.isEmpty()) {
            notes.add("running kernel version unknown (no /proc/sys/kernel/osrelease)");
        }
        Optional<KernelVersion> version = config.flatMap(KernelConfig::version).or(() -> running);
        String arch = config.flatMap(KernelConfig::arch).orElse(HostFacts.archOf(System.getProperty("os.arch")));
        return new HostFacts(config, cmdline, sysctls, version, running, arch, notes);
    }

    private static String readInput(Path p, boolean maybeGzip) {
        try {
            if (maybeGzip) {
                return Host.readMaybeGzip(p);
            }
            // Strict decoding, so a binary file is reported as such rather than parsed as text.
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Host.bytes(p))).toString();
        } catch (NoSuchFileException e) {
            throw new AuditException(p + ": no such file");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new AuditException(p + ": not UTF-8 text; is this the right file?");
        } catch (IOException e) {
            throw new AuditException(p + ": " + e.getMessage(), e);
        }
    }

    /** The bundle of a container Bulwark runs: the "bundle" member of its state.json, as runc's state has. */
    static Path bundleOf(Path stateRoot, String id) {
        Path state = stateRoot.resolve(id).resolve("state.json");
        if (!Files.exists(state)) {
            throw new AuditException("container \"" + id + "\" does not exist: no " + state);
        }
        JsonValue v;
        try {
            v = Json.parse(readInput(state, false));
        } catch (JsonException e) {
            throw new AuditException(state + ": not valid JSON: " + e.getMessage());
        }
        if (v instanceof JsonValue.JsonObject obj && obj.members().get("bundle") instanceof JsonValue.JsonString s
                && !s.value().isEmpty()) {
            return Path.of(s.value());
        }
        throw new AuditException(state + ": bundle: expected a string naming the bundle directory");
    }

    static Spec readSpec(Path configJson) {
        String text = readInput(configJson, false);
        try {
            return SpecReader.parse(text);
        } catch (SpecException e) {
            throw new AuditException(configJson + ": " + e.getMessage().replace("config.json is not valid JSON", "not valid JSON"));
        }
    }
}
