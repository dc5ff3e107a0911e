package dev.bulwark.planner;

import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The planner's systemd units: a socket unit listening on this build's socket, and a service it
 * activates with the listening socket as stdin. The client finds the socket where it always
 * looks, so with the units installed the first call of a boot is served warm.
 */
final class SystemdUnit {
    private SystemdUnit() {}

    static void write(Path dir, Path socket) throws IOException {
        Path client = Stage.nativeFile("bulwark");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("bulwark-planner.socket"), """
                [Unit]
                Description=Bulwark planner socket (build-specific path; reinstall after an upgrade)

                [Socket]
                ListenStream=%s
                SocketMode=0600
                DirectoryMode=0700
                Accept=no

                [Install]
                WantedBy=sockets.target
                """.formatted(socket), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("bulwark-planner.service"), """
                [Unit]
                Description=Bulwark planner: the warm Java side of the bulwark client
                Requires=bulwark-planner.socket

                [Service]
                ExecStart=%s __planner-exec --socket %s --inherited
                StandardInput=socket
                StandardOutput=journal
                StandardError=journal
                KillMode=process
                """.formatted(client, socket), StandardCharsets.UTF_8);
        System.out.println("wrote " + dir.resolve("bulwark-planner.socket") + " and " + dir.resolve("bulwark-planner.service"));
    }
}
