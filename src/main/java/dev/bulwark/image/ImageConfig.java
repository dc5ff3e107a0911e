package dev.bulwark.image;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What `bulwark run IMAGE` takes from an image config's {@code config} object (OCI image-spec
 * config.md; Docker's keys are the same). Absent fields are empty.
 */
public record ImageConfig(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user,
        String stopSignal) {
    public ImageConfig {
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        env = List.copyOf(env);
    }

    public static ImageConfig parse(byte[] json, String source) {
        Doc d = Doc.parse(json, source);
        Optional<Doc> c = d.opt("config");
        if (c.isEmpty()) {
            return new ImageConfig(List.of(), List.of(), List.of(), "", "", "");
        }
        Doc cfg = c.get();
        return new ImageConfig(strings(cfg, "Entrypoint"), strings(cfg, "Cmd"), strings(cfg, "Env"),
                cfg.string("WorkingDir", ""), cfg.string("User", ""), cfg.string("StopSignal", ""));
    }

    private static List<String> strings(Doc d, String key) {
        List<String> out = new ArrayList<>();
        for (Doc e : d.array(key)) {
            out.add(e.string());
        }
        return out;
    }
}
