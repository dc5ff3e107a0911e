package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ID range allocator: pool, claim, free, reclaim of leaked slots, concurrent creates in separate processes. */
class IdRangesTest {
    @TempDir
    Path tmp;

    private IdRanges.Config config(int ranges, boolean share) throws Exception {
        Files.writeString(tmp.resolve("subuid"), "someone:100000:65536\nbulwark:3000000:" + (ranges * 65536L) + "\n");
        Files.writeString(tmp.resolve("subgid"), "bulwark:3000000:" + (ranges * 65536L) + "\n");
        return new IdRanges.Config(tmp.resolve("pool"), tmp.resolve("subuid"), tmp.resolve("subgid"), share);
    }

    private Path state(String id) throws Exception {
        return Files.createDirectories(tmp.resolve("states").resolve(id));
    }

    private IdRanges.Range claim(IdRanges.Config c, String id) throws Exception {
        Path s = state(id);
        try (IdRanges.Claim claim = IdRanges.allocate(c, id, s)) {
            claim.record(s);
            return claim.range();
        }
    }

    @Test
    void thePoolIsTheBulwarkLineAndBothFilesMustAgree() throws Exception {
        IdRanges.Config c = config(4, false);
        assertEquals(new IdRanges.Pool(3000000, 4 * 65536L, c.subuid() + " and " + c.subgid()), IdRanges.pool(c));
        Files.writeString(c.subgid(), "bulwark:3000000:65536\n");
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> IdRanges.pool(c));
        assertTrue(e.getMessage().contains("must give the same range"), e.getMessage());
        IdRanges.Config none = new IdRanges.Config(tmp.resolve("p"), tmp.resolve("absent1"), tmp.resolve("absent2"), false);
        assertEquals(IdRanges.DEFAULT_POOL, IdRanges.pool(none));
        Files.writeString(c.subuid(), "bulwark:0:65536\n");
        Files.writeString(c.subgid(), "bulwark:0:65536\n");
        assertTrue(assertThrows(RuntimeFailure.class, () -> IdRanges.pool(c)).getMessage().contains("must start above 0"));
    }

    @Test
    void rangesAreExclusiveFreedOnReleaseAndExhaustionIsAClearError() throws Exception {
        IdRanges.Config c = config(3, false);
        Set<Long> starts = new HashSet<>();
        for (String id : List.of("a", "b", "c")) {
            IdRanges.Range r = claim(c, id);
            assertEquals(3000000 + r.index() * 65536L, r.start());
            starts.add(r.start());
        }
        assertEquals(3, starts.size(), "three containers, three different ranges");
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> claim(c, "d"));
        assertTrue(e.getMessage().contains("no free ID range: all 3 ranges"), e.getMessage());
        Path b = tmp.resolve("states/b");
        long bStart = IdRanges.recordedStart(b).orElseThrow();
        IdRanges.release("b", b);
        assertEquals(bStart, claim(c, "d").start(), "the range b freed goes to the next container");
        assertEquals(3, IdRanges.used(c).size());
    }

    @Test
    void leakedSlotsAreReclaimed() throws Exception {
        IdRanges.Config c = config(2, false);
        IdRanges.Range a = claim(c, "a");
        IdRanges.Range b = claim(c, "b");
        // a's state directory is gone (deleted without freeing, or a create killed half-way)
        TestEnv.deleteTree(tmp.resolve("states/a"));
        // b's directory now records another slot: its claim on this one is stale
        Files.writeString(tmp.resolve("states/b").resolve(IdRanges.RECORD), "/nowhere/7\n1\n");
        Set<Integer> got = new HashSet<>(List.of(claim(c, "x").index(), claim(c, "y").index()));
        assertEquals(Set.of(a.index(), b.index()), got);
    }

    @Test
    void shareReusesARangeWhenConfigured() throws Exception {
        IdRanges.Config c = config(1, true);
        IdRanges.Range a = claim(c, "a");
        IdRanges.Range b = claim(c, "b");
        assertEquals(a.start(), b.start());
        IdRanges.release("a", tmp.resolve("states/a"));
        assertTrue(Files.readString(a.slot()).contains("\tb") || Files.readString(a.slot()).contains(tmp.resolve("states/b").toString()),
                "b keeps its share after a is freed");
    }

    private Process child(String mode, String id) throws Exception {
        Path classes = TestEnv.classesDir();
        return new ProcessBuilder(TestEnv.java().toString(), "-XX:+UseSerialGC", "-Xshare:auto", "-cp",
                classes + ":" + classes.resolveSibling("test-classes"), IdRangesChild.class.getName(), mode,
                tmp.resolve("states").toString(), tmp.resolve("pool").toString(), id).redirectErrorStream(true).start();
    }

    private static String firstLine(Process p) throws Exception {
        return new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
    }

    /** 12 processes claim at once from a pool of 12: every one gets a range, no two the same. */
    @Test
    void concurrentCreatesInSeparateProcessesNeverShareARange() throws Exception {
        config(12, false);
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            ps.add(child("take", "c" + i));
        }
        Set<String> got = new HashSet<>();
        for (Process p : ps) {
            String line = firstLine(p);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), line);
            got.add(line);
        }
        assertEquals(12, got.size(), got.toString());
    }

    /**
     * kill -9 while the claim is locked and not yet recorded: the range comes back. Killed after
     * recording (a half-created container), it stays taken until that container is deleted.
     */
    @Test
    void aCreateKilledAtAnyMomentLeaksNothingAndLosesNothing() throws Exception {
        IdRanges.Config c = config(2, false);
        Process unrecorded = child("hold-unrecorded", "k1");
        String k1 = firstLine(unrecorded);
        // while it lives and holds the lock, its range is not given away
        IdRanges.Range other = claim(c, "live");
        assertNotEquals(k1, Integer.toString(other.index()));
        assertThrows(RuntimeFailure.class, () -> claim(c, "none-left"));
        unrecorded.destroyForcibly().waitFor();
        assertEquals(Integer.parseInt(k1), claim(c, "after-kill").index(), "the killed create's range is reclaimed");

        IdRanges.release("after-kill", tmp.resolve("states/after-kill"));
        Process recorded = child("hold", "k2");
        String k2 = firstLine(recorded);
        recorded.destroyForcibly().waitFor();
        assertThrows(RuntimeFailure.class, () -> claim(c, "blocked"),
                "a container whose state recorded the range keeps it until it is deleted");
        IdRanges.release("k2", tmp.resolve("states/k2"));
        assertEquals(Integer.parseInt(k2), claim(c, "later").index());
    }
}
