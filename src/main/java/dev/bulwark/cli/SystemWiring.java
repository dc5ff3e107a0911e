package dev.bulwark.cli;

import dev.bulwark.runtime.SystemMode;

/**
 * How the CLI makes sure the agent runs before a system container is created. Until the agent's
 * launcher is wired in here (dev.bulwark.agent.AgentLauncher::ensureRunning), the socket must
 * already be there; either way creation fails closed without it.
 */
final class SystemWiring {
    private SystemWiring() {}

    static SystemMode.AgentStarter agentStarter() {
        return SystemMode.AgentStarter.PRESENT;
    }
}
