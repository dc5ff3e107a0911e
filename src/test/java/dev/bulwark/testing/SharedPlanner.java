package dev.bulwark.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * The suite's own planner, for a run of the container tests with every runtime call through the
 * static client (-Dbulwark.test.planner=true; pom.xml's second test execution). Started on first
 * use, stopped by its PID when the test JVM exits; a call it cannot serve takes the direct path,
 * as for users.
 */
public final class SharedPlanner {
    private SharedPlanner() {}

    private static TestPlanner planner;

    public static boolean enabled() {
        return Boolean.getBoolean("bulwark.test.planner");
    }

    /** `env BULWARK_...=... client args...`: env execs the client, so the process is the client's. */
    static synchronized List<String> cli(String... args) {
        if (planner == null) {
            try {
                planner = TestPlanner.start();
            } catch (Exception e) {
                throw new AssertionError("cannot start the suite's planner", e);
            }
            TestPlanner p = planner;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    // kept for a failed run: what the planner served, refused or dropped, and its call count
                    java.nio.file.Files.writeString(java.nio.file.Path.of("target", "shared-planner.log"), p.stop());
                } catch (Exception | AssertionError e) {
                    System.err.println("the suite's planner: " + e);
                } finally {
                    try {
                        p.close();
                    } catch (java.io.IOException e) {
                        System.err.println("the suite's planner: " + e);
                    }
                }
            }));
        }
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/env"));
        planner.client().environment().forEach((k, v) -> {
            if (k.startsWith("BULWARK_") && !k.equals("BULWARK_CLIENT_DEBUG")) {
                cmd.add(k + "=" + v);
            }
        });
        cmd.add("LC_ALL=C.UTF-8");
        cmd.addAll(planner.client(args).command());
        return cmd;
    }
}
