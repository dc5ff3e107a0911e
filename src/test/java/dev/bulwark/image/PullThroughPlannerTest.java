package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestPlanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * `bulwark pull` through the static client and a warm planner, from a real registry (Debian's
 * docker-registry over TLS): the served pull stores what the direct path stores, and a planner
 * SIGKILLed at each step of a pull leaves the call finished by the client on the direct path, a
 * sound store with no unfinished write, and a next pull that works.
 */
@Timeout(300)
class PullThroughPlannerTest {
    private static final String SERVED = "takes the call";
    private static final String RERUN = "lost before the stage ran; running directly";

    @TempDir
    static Path shared;
    static TestPki pki;
    static TestRegistry registry;
    static String ref;
    static Descriptor manifest;

    @TempDir
    Path tmp;

    @BeforeAll
    static void up() throws Exception {
        pki = TestPki.create(shared.resolve("pki"));
        registry = TestRegistry.start(shared.resolve("registry"), pki, "");
        Path layout = shared.resolve("layout");
        ContentStore s = ContentStore.open(layout);
        Random r = new Random(11);
        // a layer big enough that a pull is still receiving it when the planner is killed
        manifest = TestImages.store(s, Platform.host(), List.of(RegistryTest.randomLayer(r, 8 << 20), RegistryTest.randomLayer(r, 4096)));
        s.tag("v1", manifest);
        registry.skopeoPush(pki, layout, "v1", "planner/pull:v1", false, "");
        ref = registry.host() + "/planner/pull:v1";
    }

    @AfterAll
    static void down() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    private record Result(int exit, String out, String err) {}

    private Result pull(ProcessBuilder pb) throws Exception {
        Path out = Files.createTempFile(tmp, "pull", ".out");
        Path err = Files.createTempFile(tmp, "pull", ".err");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the pull did not finish within 120 s: " + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private List<String> args(Path store) {
        return new ArrayList<>(List.of("pull", "--store", store.toString(), "--ca", pki.caCert.toString(), "--certs-dir",
                tmp.resolve("no-certs.d").toString(), ref));
    }

    private static void assertSound(Path store) throws Exception {
        ContentStore s = ContentStore.open(store);
        assertEquals(List.of(), s.verify(), "the store after the pull");
        try (Stream<Path> l = Files.list(store.resolve("ingest"))) {
            assertEquals(List.of(), l.toList(), "unfinished writes in ingest/");
        }
        assertEquals(manifest.digest(), s.resolve(ref).orElseThrow(() -> new AssertionError(ref + " is not named in the store")).digest());
        for (Descriptor layer : Manifest.parse(Files.readAllBytes(s.blobPath(manifest.digest())), "manifest").layers()) {
            assertTrue(s.has(layer.digest()), "layer " + layer.digest() + " stored");
        }
    }

    @Test
    void aServedPullStoresWhatTheDirectPathStores() throws Exception {
        try (TestPlanner planner = TestPlanner.start()) {
            Result served = pull(planner.client(args(tmp.resolve("served")).toArray(String[]::new)));
            assertEquals(0, served.exit(), served.err());
            assertTrue(served.err().contains(SERVED), served.err());
            Result direct = pull(TestPlanner.client(tmp.resolve("none.sock"), args(tmp.resolve("direct")).toArray(String[]::new)));
            assertEquals(0, direct.exit(), direct.err());
            assertEquals(direct.out(), served.out());
            assertTrue(served.out().contains(manifest.digest().toString()), served.out());
            assertSound(tmp.resolve("served"));
            assertSound(tmp.resolve("direct"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pull: manifest checked", "pull: blob arriving", "pull: blobs stored"})
    void aPlannerKilledDuringAPullLeavesThePullDoneAndTheStoreSound(String phase) throws Exception {
        Path store = tmp.resolve("store");
        try (TestPlanner planner = TestPlanner.start("--pause-at", phase)) {
            ProcessBuilder pb = planner.client(args(store).toArray(String[]::new));
            Path out = tmp.resolve("killed.out");
            Path err = tmp.resolve("killed.err");
            Process call = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(planner.awaitPause(60_000).isPresent(), "the pull never reached \"" + phase + "\": " + planner.log());
            if (phase.equals("pull: blob arriving")) {
                try (Stream<Path> l = Files.list(store.resolve("ingest"))) {
                    assertTrue(l.findAny().isPresent(), "a blob is being written when the planner is killed");
                }
            }
            planner.kill();
            assertTrue(call.waitFor(120, TimeUnit.SECONDS), "the pull did not finish after the planner was killed");
            String e = Files.readString(err);
            assertEquals(0, call.exitValue(), e);
            assertTrue(e.contains(RERUN), "the client ran the pull again directly: " + e);
            assertTrue(Files.readString(out).contains(manifest.digest().toString()), Files.readString(out));
        }
        assertSound(store);
        // the next call works, and finds everything there
        Result again = pull(TestPlanner.client(tmp.resolve("none.sock"), args(store).toArray(String[]::new)));
        assertEquals(0, again.exit(), again.err());
        assertSound(store);
    }
}
