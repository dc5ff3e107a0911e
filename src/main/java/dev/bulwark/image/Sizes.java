package dev.bulwark.image;

import java.util.Locale;

/** Sizes as people write and read them: "64m", "1g" in flags; "5.58MB" in output (as Docker prints). */
public final class Sizes {
    private Sizes() {}

    /** Decimal units, three significant digits: 512B, 5.58MB, 48.6MB, 301MB. */
    public static String human(long bytes) {
        if (bytes < 1000) {
            return bytes + "B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, units[u]);
    }

    /**
     * A positive size: digits, optionally with k, m or g (binary: KiB, MiB, GiB; either case, an
     * optional trailing b), as Docker's --memory takes it. {@code what} names the flag in the error.
     */
    public static long parse(String what, String v) {
        String s = v.toLowerCase(Locale.ROOT);
        if (s.endsWith("b")) {
            s = s.substring(0, s.length() - 1);
        }
        long mult = 1;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'k' -> mult = 1L << 10;
                case 'm' -> mult = 1L << 20;
                case 'g' -> mult = 1L << 30;
                default -> mult = 1;
            }
        }
        String digits = mult == 1 ? s : s.substring(0, s.length() - 1);
        try {
            long n = Long.parseLong(digits);
            if (n <= 0 || n > Long.MAX_VALUE / mult) {
                throw new NumberFormatException();
            }
            return n * mult;
        } catch (NumberFormatException e) {
            throw new ImageException(what + " \"" + v + "\": expected a positive size such as 64m or 1g");
        }
    }
}
