package dev.bulwark.audit;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The audit's result and its two renderings: a table for people and JSON for scripts.
 *
 * @param title  what was audited ("kernel 6.18.44, x86_64")
 * @param inputs what was read, by kind ("kernel config" to "/proc/config.gz")
 * @param notes  inputs that were missing and why
 */
record Report(String title, Map<String, String> inputs, List<String> notes, List<Finding> findings) {
    private static final String RESET = "\033[0m";
    private static final String BOLD_RED = "\033[1;31m";
    private static final String RED = "\033[31m";
    private static final String GREEN = "\033[32m";
    private static final String YELLOW = "\033[33m";
    private static final String MAGENTA = "\033[35m";
    private static final String CYAN = "\033[36m";
    private static final String DIM = "\033[2m";

    Report {
        inputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        notes = List.copyOf(notes);
        findings = List.copyOf(findings);
    }

    /** True when a failure at or above the threshold exists. */
    boolean failsAt(Severity threshold) {
        return findings.stream().anyMatch(f -> f.failsAt(threshold));
    }

    Map<Status, Integer> counts(List<Finding> fs) {
        Map<Status, Integer> m = new EnumMap<>(Status.class);
        for (Status s : Status.values()) {
            m.put(s, 0);
        }
        fs.forEach(f -> m.merge(f.status(), 1, Integer::sum));
        return m;
    }

    private static int failures(List<Finding> fs, Severity s) {
        return (int) fs.stream().filter(f -> f.status() == Status.FAIL && f.severity() == s).count();
    }

    private static String summary(Map<Status, Integer> c, List<Finding> fs) {
        StringBuilder sb = new StringBuilder();
        sb.append(fs.size()).append(fs.size() == 1 ? " check: " : " checks: ");
        sb.append(c.get(Status.PASS)).append(" pass, ").append(c.get(Status.FAIL)).append(" fail");
        if (c.get(Status.FAIL) > 0) {
            sb.append(" (").append(failures(fs, Severity.HIGH)).append(" high, ")
                    .append(failures(fs, Severity.MEDIUM)).append(" medium, ")
                    .append(failures(fs, Severity.LOW)).append(" low)");
        }
        if (c.get(Status.CONFLICT) > 0) {
            sb.append(", ").append(c.get(Status.CONFLICT)).append(" conflict");
        }
        if (c.get(Status.SKIP) > 0) {
            sb.append(", ").append(c.get(Status.SKIP)).append(" skipped");
        }
        return sb.toString();
    }

    /**
     * @param color ANSI colours
     * @param all   also list passing and skipped checks; otherwise only failures and conflicts
     */
    String text(boolean color, boolean all) {
        StringBuilder sb = new StringBuilder();
        sb.append(paint(color, "\033[1m", "bulwark audit: " + title)).append('\n');
        int w = inputs.keySet().stream().mapToInt(String::length).max().orElse(0);
        inputs.forEach((k, v) -> sb.append("  ").append(pad(k, w)).append("  ").append(v).append('\n'));
        for (String n : notes) {
            sb.append("  ").append(paint(color, YELLOW, "note: " + n)).append('\n');
        }
        // Failures first, the most severe on top; then conflicts; then (with --all) the rest in rule order.
        Comparator<Finding> order = Comparator.comparingInt((Finding f) -> switch (f.status()) {
            case FAIL -> 0;
            case CONFLICT -> 1;
            case PASS -> 2;
            case SKIP -> 3;
        }).thenComparing(f -> f.status() == Status.FAIL ? f.severity().ordinal() : 0);
        for (Section section : Section.values()) {
            List<Finding> fs = findings.stream().filter(f -> f.section() == section).toList();
            if (fs.isEmpty()) {
                continue;
            }
            sb.append('\n').append(paint(color, "\033[1m", section.title().toUpperCase(java.util.Locale.ROOT)))
                    .append("  ").append(summary(counts(fs), fs)).append('\n');
            List<Finding> shown = new ArrayList<>(fs.stream()
                    .filter(f -> all || f.status() == Status.FAIL || f.status() == Status.CONFLICT
                            || section == Section.RUNTIME || section == Section.CONTAINER)
                    .toList());
            shown.sort(order);
            int idw = Math.min(44, shown.stream().mapToInt(f -> f.id().length()).max().orElse(0));
            for (Finding f : shown) {
                row(sb, f, idw, color);
            }
        }
        sb.append('\n').append(summary(counts(findings), findings));
        boolean hidden = !all && findings.stream().anyMatch(f -> (f.status() == Status.PASS || f.status() == Status.SKIP)
                && f.section() != Section.RUNTIME && f.section() != Section.CONTAINER);
        if (hidden) {
            sb.append(" (passing and skipped host checks hidden; --all lists them)");
        }
        return sb.append('\n').toString();
    }

    private static void row(StringBuilder sb, Finding f, int idw, boolean color) {
        String statusColor = switch (f.status()) {
            case PASS -> GREEN;
            case FAIL -> RED;
            case CONFLICT -> MAGENTA;
            case SKIP -> DIM;
        };
        String sevColor = switch (f.severity()) {
            case HIGH -> BOLD_RED;
            case MEDIUM -> YELLOW;
            case LOW -> CYAN;
        };
        boolean failing = f.status() == Status.FAIL;
        sb.append("  ").append(paint(color, statusColor, pad(f.status().name(), 9)))
                .append(failing ? paint(color, sevColor, pad(f.severity().label(), 7)) : pad("", 7))
                .append(pad(f.id(), idw)).append("  ").append(f.actual());
        if (f.status() != Status.PASS && f.status() != Status.SKIP) {
            sb.append("  (want ").append(f.expected()).append(')');
        }
        sb.append('\n');
        String indent = " ".repeat(2 + 9 + 7);
        if (f.status() == Status.FAIL || f.status() == Status.CONFLICT) {
            sb.append(indent).append(paint(color, DIM, f.reason() + " [" + f.source() + "]")).append('\n');
        }
        if (!f.note().isEmpty()) {
            sb.append(indent).append(paint(color, f.status() == Status.CONFLICT ? MAGENTA : DIM, f.note())).append('\n');
        }
    }

    private static String pad(String s, int w) {
        return s.length() >= w ? s : s + " ".repeat(w - s.length());
    }

    private static String paint(boolean color, String code, String s) {
        return color ? code + s + RESET : s;
    }

    String json() {
        JsonBuilder in = JsonBuilder.object();
        inputs.forEach(in::put);
        Map<Status, Integer> c = counts(findings);
        JsonBuilder summary = JsonBuilder.object()
                .put("total", findings.size())
                .put("pass", c.get(Status.PASS))
                .put("fail", c.get(Status.FAIL))
                .put("conflict", c.get(Status.CONFLICT))
                .put("skip", c.get(Status.SKIP))
                .put("failHigh", failures(findings, Severity.HIGH))
                .put("failMedium", failures(findings, Severity.MEDIUM))
                .put("failLow", failures(findings, Severity.LOW));
        List<JsonValue> fs = new ArrayList<>();
        for (Finding f : findings) {
            JsonBuilder b = JsonBuilder.object()
                    .put("id", f.id())
                    .put("section", f.section().key())
                    .put("category", f.category())
                    .put("status", f.status().label())
                    .put("severity", f.severity().label())
                    .put("expected", f.expected())
                    .put("actual", f.actual())
                    .put("reason", f.reason())
                    .put("source", f.source());
            if (!f.note().isEmpty()) {
                b.put("note", f.note());
            }
            fs.add(b.build());
        }
        return Json.writePretty(JsonBuilder.object()
                .put("title", title)
                .put("inputs", in)
                .put("notes", JsonBuilder.strings(notes))
                .put("summary", summary)
                .put("findings", JsonBuilder.array(fs))
                .build());
    }
}
