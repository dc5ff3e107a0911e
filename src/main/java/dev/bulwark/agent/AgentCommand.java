package dev.bulwark.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** `bulwark agent [--socket PATH]` and `bulwark agent --install-unit [PATH]`. */
public final class AgentCommand {
    private AgentCommand() {}

    static final Path DEFAULT_UNIT = Path.of("/etc/systemd/system/bulwark-agent.service");

    public static int run(List<String> args) throws IOException {
        Path socket = AgentLauncher.DEFAULT_SOCKET;
        Path unit = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--socket") && i + 1 < args.size()) {
                socket = Path.of(args.get(++i)).toAbsolutePath();
            } else if (a.startsWith("--socket=")) {
                socket = Path.of(a.substring(9)).toAbsolutePath();
            } else if (a.equals("--install-unit")) {
                unit = i + 1 < args.size() && !args.get(i + 1).startsWith("--") ? Path.of(args.get(++i)) : DEFAULT_UNIT;
            } else {
                throw new AgentException("agent: unknown argument \"" + a + "\" (expected --socket PATH or --install-unit [PATH])");
            }
        }
        if (unit != null) {
            Files.createDirectories(unit.toAbsolutePath().getParent());
            Files.writeString(unit, unit(socket));
            String name = unit.getFileName().toString();
            System.out.println("wrote " + unit + "; enable it with: systemctl daemon-reload && systemctl enable --now " + name);
            return 0;
        }
        new Agent(socket, Agent.helperBinary()).serve();
        return 0;
    }

    static String unit(Path socket) {
        StringBuilder exec = new StringBuilder();
        for (String c : AgentLauncher.command(socket)) {
            exec.append(exec.isEmpty() ? "" : " ").append(c.contains(" ") ? "\"" + c + "\"" : c);
        }
        return """
                [Unit]
                Description=Bulwark agent: immutable mountpoints of system containers (seccomp notify)
                After=local-fs.target

                [Service]
                Type=simple
                ExecStart=%s
                Restart=always
                RestartSec=1

                [Install]
                WantedBy=multi-user.target
                """.formatted(exec);
    }
}
