package dev.bulwark.agent;

/** Every failure of the agent: names the call, path or container and what was expected. */
public class AgentException extends RuntimeException {
    public AgentException(String message) {
        super(message);
    }

    public AgentException(String message, Throwable cause) {
        super(message, cause);
    }
}
