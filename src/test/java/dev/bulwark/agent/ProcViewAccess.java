package dev.bulwark.agent;

import java.util.List;

/** ProcView's CPU list parser, for tests in other packages. */
public final class ProcViewAccess {
    private ProcViewAccess() {}

    public static List<Integer> parseList(String s) {
        return ProcView.parseList(s);
    }
}
