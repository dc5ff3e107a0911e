package dev.bulwark.cli;

import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * `bulwark exec [--process FILE | flags] ID [ARGS...]`, as runc takes it: either a whole
 * process.json, or the container's own process with args, env, cwd, user and capabilities changed
 * by flags.
 */
final class ExecCommand {
    private static final Set<String> VALUED = Set.of("process", "p", "pid-file", "console-socket", "env", "e", "cwd",
            "user", "u", "cap", "c", "additional-gids", "g", "preserve-fds", "apparmor", "process-label", "cgroup");
    private static final Set<String> BOOL = Set.of("detach", "d", "tty", "t", "no-new-privs", "ignore-paused");

    private ExecCommand() {}

    static int run(Globals g, List<String> argv) throws IOException {
        Args a = Args.parse(argv, VALUED, BOOL);
        if (a.positional().isEmpty()) {
            throw new CliException("usage: bulwark exec [--process FILE] [--detach] [--pid-file F] ID [ARGS...]");
        }
        if (!a.get("preserve-fds", "0").equals("0")) {
            throw new CliException("exec --preserve-fds is not supported in this version");
        }
        for (String f : List.of("cgroup")) {
            if (a.has(f)) {
                throw new CliException("exec --" + f + " is not supported by Bulwark");
            }
        }
        String id = a.positional().get(0);
        List<String> args = a.positional().subList(1, a.positional().size());
        Spec.Process process;
        String file = a.get("process", a.get("p", null));
        if (file != null) {
            if (!args.isEmpty()) {
                throw new CliException("exec: give either --process or a command, not both");
            }
            process = SpecReader.readProcess(Files.readString(dev.bulwark.runtime.Invocation.current().resolve(file)));
        } else {
            if (args.isEmpty()) {
                throw new CliException("exec: no command given (and no --process)");
            }
            Spec.Process base = Lifecycle.readConfig(Lifecycle.load(g.root(), id).bundle()).process()
                    .orElseThrow(() -> new CliException("the container's config has no process to start from"));
            process = override(base, a, args);
        }
        boolean detach = a.flag("detach") || a.flag("d");
        Optional<Path> pidFile = a.has("pid-file") ? Optional.of(dev.bulwark.runtime.Invocation.current().resolve(a.get("pid-file", ""))) : Optional.empty();
        return Lifecycle.exec(g.root(), id, process, detach, pidFile, LifecycleCommands.consoleSocket(a), g.system());
    }

    private static Spec.Process override(Spec.Process base, Args a, List<String> args) {
        List<String> env = new ArrayList<>(base.env());
        for (String e : a.all("env").isEmpty() ? a.all("e") : a.all("env")) {
            String key = e.contains("=") ? e.substring(0, e.indexOf('=') + 1) : e + "=";
            env.removeIf(x -> x.startsWith(key));
            env.add(e);
        }
        Spec.User user = base.user();
        String u = a.get("user", a.get("u", null));
        if (u != null) {
            String[] parts = u.split(":", 2);
            try {
                long uid = Long.parseLong(parts[0]);
                long gid = parts.length > 1 ? Long.parseLong(parts[1]) : user.gid();
                user = new Spec.User(uid, gid, user.umask(), user.additionalGids(), "");
            } catch (NumberFormatException e) {
                throw new CliException("--user takes UID[:GID] as numbers, not \"" + u + "\"");
            }
        }
        List<String> extraGids = a.all("additional-gids").isEmpty() ? a.all("g") : a.all("additional-gids");
        if (!extraGids.isEmpty()) {
            List<Long> gids = new ArrayList<>(user.additionalGids());
            for (String s : extraGids) {
                try {
                    gids.add(Long.parseLong(s));
                } catch (NumberFormatException e) {
                    throw new CliException("--additional-gids takes numbers, not \"" + s + "\"");
                }
            }
            user = new Spec.User(user.uid(), user.gid(), user.umask(), gids, "");
        }
        Optional<Spec.Capabilities> caps = base.capabilities();
        List<String> add = a.all("cap").isEmpty() ? a.all("c") : a.all("cap");
        if (!add.isEmpty()) {
            Spec.Capabilities c = caps.orElse(new Spec.Capabilities(List.of(), List.of(), List.of(), List.of(), List.of()));
            caps = Optional.of(new Spec.Capabilities(plus(c.bounding(), add), plus(c.effective(), add), c.inheritable(),
                    plus(c.permitted(), add), c.ambient()));
        }
        return new Spec.Process(a.flag("tty") || a.flag("t"), user, List.copyOf(args), List.copyOf(env), a.get("cwd", base.cwd()), caps,
                base.rlimits(), base.noNewPrivileges() || a.flag("no-new-privs"), a.get("apparmor", base.apparmorProfile()), Optional.empty(),
                a.get("process-label", base.selinuxLabel()));
    }

    private static List<String> plus(List<String> set, List<String> add) {
        LinkedHashSet<String> out = new LinkedHashSet<>(set);
        out.addAll(add);
        return List.copyOf(out);
    }
}
