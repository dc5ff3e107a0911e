package dev.bulwark.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The `bulwark` command: runc's global flags, then a subcommand. */
public final class Main {
    public static final String VERSION = "0.1.0";
    public static final String SPEC_VERSION = "1.2.0";

    private static final Set<String> GLOBAL_VALUED = Set.of("root", "log", "log-format", "criu", "rootless",
            "agent-socket", "system-config");
    private static final Set<String> GLOBAL_BOOL = Set.of("debug", "systemd-cgroup", "version", "v", "help", "h",
            "system", "allow-immutable-unmounts");

    private Main() {}

    static Map<String, Command> commands() {
        Map<String, Command> c = new LinkedHashMap<>();
        c.put("run", RunCommand::run);
        c.put("create", LifecycleCommands::create);
        c.put("start", LifecycleCommands::start);
        c.put("state", LifecycleCommands::state);
        c.put("kill", LifecycleCommands::kill);
        c.put("delete", LifecycleCommands::delete);
        c.put("list", LifecycleCommands::list);
        c.put("pause", LifecycleCommands::pause);
        c.put("resume", LifecycleCommands::resume);
        c.put("ps", LifecycleCommands::ps);
        c.put("features", LifecycleCommands::features);
        c.put("exec", ExecCommand::run);
        c.put("update", UpdateCommands::update);
        c.put("events", UpdateCommands::events);
        c.put("spec", SpecCommand::run);
        c.put("demo", DemoCommand::run);
        c.put("audit", (g, a) -> dev.bulwark.audit.AuditCommand.run(g.root(), a));
        c.put("images", ImageCommands::images);
        c.put("inspect", ImageCommands::inspect);
        c.put("rmi", ImageCommands::rmi);
        c.put("import", ImageCommands::importImage);
        c.put("export", ImageCommands::export);
        c.put("unpack", ImageCommands::unpack);
        c.put("sign", SignCommands::sign);
        c.put("verify", SignCommands::verify);
        c.put("key", SignCommands::key);
        c.put("policy", SignCommands::policy);
        c.put("pull", RegistryCommands::pull);
        c.put("push", RegistryCommands::push);
        c.put("build", (g, a) -> BuildCommand.run(g, a)); // YAML: loaded only for this command
        c.put("__train", TrainCommand::run);
        c.put("__resume", ResumeCommand::run);
        c.put("agent", (g, a) -> dev.bulwark.agent.AgentCommand.run(a)); // FFM: loaded only for this command
        c.put("__planner", (g, a) -> dev.bulwark.planner.PlannerCommand.run(a)); // FFM too
        return c;
    }

    /**
     * Where the command is in argv (after the global flags), or -1 if there is none or the
     * global flags do not parse.
     */
    public static int commandIndex(List<String> argv) {
        try {
            Args a = Args.parse(argv, GLOBAL_VALUED, GLOBAL_BOOL);
            return a.positional().isEmpty() ? -1 : argv.size() - a.positional().size();
        } catch (CliException e) {
            return -1;
        }
    }

    public static void main(String[] argv) {
        System.exit(execute(Arrays.asList(argv)));
    }

    public static int execute(List<String> argv) {
        Globals globals = new Globals(Globals.DEFAULT_ROOT, null, "text", false, false);
        Log log = new Log(globals);
        try {
            Args a = Args.parse(argv, GLOBAL_VALUED, GLOBAL_BOOL);
            globals = new Globals(
                    dev.bulwark.runtime.Invocation.current().resolve(a.get("root", Globals.DEFAULT_ROOT.toString())),
                    a.get("log", null),
                    a.get("log-format", "text"),
                    a.flag("debug"),
                    a.flag("systemd-cgroup"),
                    systemOptions(a));
            log = new Log(globals);
            dev.bulwark.runtime.Warnings.sink(log::warn);
            if (!globals.logFormat().equals("text") && !globals.logFormat().equals("json")) {
                throw new CliException("--log-format must be text or json, not \"" + globals.logFormat() + "\"");
            }
            if (globals.systemdCgroup()) {
                throw new CliException("--systemd-cgroup is not supported: Bulwark manages cgroupfs directly");
            }
            if (a.has("rootless") && !a.get("rootless", "").equals("false")) {
                throw new CliException("--rootless is not supported yet; run as root");
            }
            if (a.flag("version") || a.flag("v")) {
                System.out.println("bulwark version " + VERSION);
                System.out.println("spec: " + SPEC_VERSION);
                return 0;
            }
            List<String> rest = a.positional();
            if (rest.isEmpty() || a.flag("help") || a.flag("h")) {
                usage();
                return rest.isEmpty() && !a.flag("help") && !a.flag("h") ? 1 : 0;
            }
            Command cmd = commands().get(rest.get(0));
            if (cmd == null) {
                throw new CliException("unknown command \"" + rest.get(0) + "\" (see bulwark --help)");
            }
            return cmd.run(globals, rest.subList(1, rest.size()));
        } catch (Exception e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            log.error(msg);
            System.err.println("bulwark: " + msg);
            if (globals.debug()) {
                e.printStackTrace();
            }
            return 1;
        } finally {
            dev.bulwark.runtime.Warnings.sink(null);
        }
    }

    private static dev.bulwark.runtime.SystemMode.Options systemOptions(Args a) {
        Path config = dev.bulwark.runtime.Invocation.current().resolve(a.get("system-config", dev.bulwark.runtime.SystemMode.DEFAULT_CONFIG.toString()));
        boolean explicit = a.has("system-config");
        // Read lazily: only creating a container with its own range needs the allocator's
        // settings, not state, start, kill or delete.
        return new dev.bulwark.runtime.SystemMode.Options(a.flag("system"),
                a.has("allow-immutable-unmounts") ? java.util.Optional.of(a.flag("allow-immutable-unmounts"))
                        : java.util.Optional.empty(),
                dev.bulwark.runtime.Invocation.current().resolve(a.get("agent-socket", dev.bulwark.runtime.SystemMode.DEFAULT_AGENT_SOCKET.toString())),
                () -> dev.bulwark.runtime.SystemMode.readConfig(config, explicit),
                SystemWiring.agentStarter());
    }

    private static void usage() {
        System.out.println("""
                usage: bulwark [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--system]
                               [--allow-immutable-unmounts=false] [--agent-socket PATH] [--system-config FILE] COMMAND [ARGS]

                commands:
                  run [--detach] --bundle DIR ID   run a container (foreground: returns its exit status)
                  run [--rm] [-it] [-e K=V] [-v SRC:DST[:ro]] [-u USER] [-w DIR] [--read-only] [--system] IMAGE [CMD...]
                                        run a stored image (the OCI form is meant when a runc flag is given, or
                                        one argument that is not a stored image names a container and ./config.json exists)
                  create --bundle DIR [--pid-file F] ID, start ID, state ID, kill [--all] ID [SIG],
                  delete [--force] ID, list, ps ID, pause ID, resume ID, exec ID CMD, update ID,
                  events [--stats] ID, features   the runc lifecycle
                  spec                  write a hardened config.json into the current directory
                  demo                  run the embedded default image and show its isolation beside the host's
                  audit                 check this host's kernel and a container config for weaknesses
                  images, inspect REF, rmi REF..., import FILE|DIR [--name REF], export REF DIR|FILE.tar,
                  unpack REF DIR        the verified image store (--store DIR, default /var/lib/bulwark)
                  sign --key K REF, verify --key K.pub REF, key generate PREFIX,
                  policy check [--policy FILE] REF   cosign-format signatures and the trust policy
                  pull REF, push REF [DEST]   to and from a registry over HTTPS (--ca, --creds, --authfile, --platform)
                  build [--store DIR] [--policy FILE] [--format initramfs|tar] [--resolve] [--fail-on SEV] [-o DIR] SPEC.yml
                                        a kernel + initramfs (or a rootfs tar) from one YAML file, every image verified
                  agent [--socket S] [--install-unit [F]]   the immutable-mount supervisor of system containers
                """);
    }
}
