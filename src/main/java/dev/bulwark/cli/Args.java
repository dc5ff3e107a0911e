package dev.bulwark.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small flag parser in runc's (urfave/cli) style: {@code --flag value}, {@code --flag=value},
 * single dash accepted as well, boolean flags without a value, and flags after the first
 * positional argument are positional ({@code bulwark run --bundle b id}).
 */
public final class Args {
    private final Map<String, List<String>> values = new HashMap<>();
    private final List<String> positional = new ArrayList<>();

    private Args() {}

    /**
     * @param valued flag names (without dashes) that take a value
     * @param bool   flag names that do not
     */
    public static Args parse(List<String> argv, Set<String> valued, Set<String> bool) {
        Args a = new Args();
        int i = 0;
        while (i < argv.size()) {
            String s = argv.get(i);
            if (s.equals("--")) {
                a.positional.addAll(argv.subList(i + 1, argv.size()));
                break;
            }
            if (!s.startsWith("-") || s.equals("-")) {
                a.positional.addAll(argv.subList(i, argv.size()));
                break;
            }
            String name = s.startsWith("--") ? s.substring(2) : s.substring(1);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (valued.contains(name)) {
                if (value == null) {
                    if (i + 1 >= argv.size()) {
                        throw new CliException("flag --" + name + " needs a value");
                    }
                    value = argv.get(++i);
                }
            } else if (bool.contains(name)) {
                if (value == null) {
                    value = "true";
                } else if (!value.equals("true") && !value.equals("false")) {
                    throw new CliException("flag --" + name + " takes true or false, not \"" + value + "\"");
                }
            } else {
                throw new CliException("unknown flag " + s);
            }
            a.values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            i++;
        }
        return a;
    }

    public String get(String name, String dflt) {
        List<String> v = values.get(name);
        return v == null ? dflt : v.get(v.size() - 1);
    }

    public List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    public boolean flag(String name) {
        return "true".equals(get(name, "false"));
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public List<String> positional() {
        return positional;
    }
}
