package dev.bulwark.cli;

import dev.bulwark.runtime.SystemMode;

/**
 * How the CLI makes sure the agent runs before a system container is created: the agent's
 * launcher starts one when nothing answers on the socket (plain Java, no FFM on this path). The
 * runtime checks the socket again after it returns, so creation fails closed without it.
 */
final class SystemWiring {
    private SystemWiring() {}

    static SystemMode.AgentStarter agentStarter() {
        return socket -> dev.bulwark.agent.AgentLauncher.ensureRunning(socket);
    }
}
