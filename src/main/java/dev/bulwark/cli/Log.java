package dev.bulwark.cli;

import dev.bulwark.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * Writes runc-style log lines to --log. containerd reads the last line with "level":"error"
 * from a JSON log and shows its msg, so errors must say what failed and why.
 */
public final class Log {
    private final String file;
    private final boolean json;
    private final boolean debug;

    public Log(Globals g) {
        this.file = g.log();
        this.json = "json".equals(g.logFormat());
        this.debug = g.debug();
    }

    public void error(String msg) {
        write("error", msg);
    }

    public void warn(String msg) {
        write("warning", msg);
        if (file == null) {
            System.err.println("bulwark: warning: " + msg);
        }
    }

    public void debug(String msg) {
        if (debug) {
            write("debug", msg);
        }
    }

    private void write(String level, String msg) {
        if (file == null || file.isEmpty()) {
            return;
        }
        String time = Instant.now().toString();
        String line;
        if (json) {
            StringBuilder sb = new StringBuilder("{\"level\":");
            Json.quote(sb, level);
            sb.append(",\"msg\":");
            Json.quote(sb, msg);
            sb.append(",\"time\":");
            Json.quote(sb, time);
            line = sb.append("}\n").toString();
        } else {
            line = "time=\"" + time + "\" level=" + level + " msg=\"" + msg.replace("\"", "\\\"") + "\"\n";
        }
        try {
            Files.writeString(dev.bulwark.runtime.Invocation.current().resolve(file), line, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException e) {
            System.err.println("bulwark: cannot write log " + file + ": " + e.getMessage());
        }
    }
}
