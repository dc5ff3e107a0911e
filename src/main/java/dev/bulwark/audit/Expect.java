package dev.bulwark.audit;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What a rule wants from one value. The value is absent when a config option is not set, a
 * command-line parameter is not given, or a sysctl is not there. See the header of kspp.rules
 * for the syntax.
 */
sealed interface Expect {

    boolean test(Optional<String> value);

    /** In words, for the EXPECTED column. */
    String describe();

    /** One of these values. */
    record OneOf(List<String> values) implements Expect {
        public boolean test(Optional<String> v) {
            return v.isPresent() && values.contains(v.get());
        }

        public String describe() {
            return String.join(" or ", values);
        }
    }

    /** Absent, or any value but these. */
    record NoneOf(List<String> values) implements Expect {
        public boolean test(Optional<String> v) {
            return v.isEmpty() || !values.contains(v.get());
        }

        public String describe() {
            return "not " + String.join(" or ", values);
        }
    }

    record Unset() implements Expect {
        public boolean test(Optional<String> v) {
            return v.isEmpty();
        }

        public String describe() {
            return "not set";
        }
    }

    record Present() implements Expect {
        public boolean test(Optional<String> v) {
            return v.isPresent();
        }

        public String describe() {
            return "present";
        }
    }

    record AtLeast(long bound) implements Expect {
        public boolean test(Optional<String> v) {
            return v.flatMap(Expect::number).map(n -> n >= bound).orElse(false);
        }

        public String describe() {
            return ">= " + bound;
        }
    }

    record AtMost(long bound) implements Expect {
        public boolean test(Optional<String> v) {
            return v.flatMap(Expect::number).map(n -> n <= bound).orElse(false);
        }

        public String describe() {
            return "<= " + bound;
        }
    }

    /** A comma- or space-separated list value (CONFIG_LSM, lsm=, efi=) that contains this word. */
    record Contains(String word) implements Expect {
        public boolean test(Optional<String> v) {
            return v.map(s -> Arrays.asList(s.split("[,\\s]+")).contains(word)).orElse(false);
        }

        public String describe() {
            return "contains " + word;
        }
    }

    static Optional<Long> number(String s) {
        try {
            return Optional.of(Long.decode(s.strip()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** @param where file and line, for the error message */
    static Expect parse(String text, String where) {
        String t = text.strip();
        if (t.isEmpty()) {
            throw new AuditException(where + ": empty expectation");
        }
        if (t.equals("unset")) {
            return new Unset();
        }
        if (t.equals("present")) {
            return new Present();
        }
        if (t.startsWith(">=") || t.startsWith("<=")) {
            long n = number(t.substring(2)).orElseThrow(() ->
                    new AuditException(where + ": expected a number after " + t.substring(0, 2) + ", found \"" + t + "\""));
            return t.startsWith(">=") ? new AtLeast(n) : new AtMost(n);
        }
        if (t.startsWith("~")) {
            String w = t.substring(1);
            if (w.isEmpty() || w.contains(",")) {
                throw new AuditException(where + ": ~ takes one word, found \"" + t + "\"");
            }
            return new Contains(w);
        }
        boolean negate = t.startsWith("!");
        List<String> values = Arrays.stream((negate ? t.substring(1) : t).split(",")).map(String::strip).toList();
        if (values.stream().anyMatch(String::isEmpty)) {
            throw new AuditException(where + ": empty alternative in \"" + t + "\"");
        }
        return negate ? new NoneOf(values) : new OneOf(values);
    }
}
