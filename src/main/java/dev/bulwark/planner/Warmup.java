package dev.bulwark.planner;

import dev.bulwark.json.Json;
import dev.bulwark.runtime.DefaultSpec;
import dev.bulwark.runtime.HostInfo;
import dev.bulwark.runtime.Planner;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.PlanEncoder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Compiles the hot code before the first call needs it, on a low-priority thread at start: the
 * per-container path (config parse, validation, Docker's seccomp profile compiled, the plan
 * encoded) and the crypto of pulls. A cold JVM runs TLS's AES-GCM and SHA-256 in Java code until
 * the optimising compiler has seen thousands of records (a pull measured 0.18x skopeo for that
 * reason); warmed here, a pull uses the CPU's AES and carry-less-multiply instructions from its
 * first byte. Nothing here touches the host: no state, no cgroup, no container.
 */
final class Warmup {
    private Warmup() {}

    static void start() {
        Thread t = Thread.ofPlatform().daemon().name("planner-warmup").unstarted(Warmup::run);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    static void run() {
        long t0 = System.nanoTime();
        try {
            // Checked against this host's / as the root: it exists everywhere and nothing is written.
            String config = Json.writePretty(DefaultSpec.build(List.of("/bin/true"), "/"));
            HostInfo host = HostInfo.read();
            Path bundle = Path.of("/");
            for (int i = 0; i < 200; i++) {
                Spec spec = SpecReader.parse(config);
                Planner.Checked checked = Planner.check(spec, bundle, host, Optional.empty());
                PlanEncoder.encode(Planner.plan(new Planner.Request(spec, bundle, Path.of("/nonexistent-bulwark-warmup/state"), Planner.Mode.CREATE, 0,
                        false, Planner.CgroupSetup.NONE), checked, host));
            }
            crypto();
            System.err.println("bulwark planner: warmed up in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        } catch (Exception | LinkageError e) {
            // Warming is an optimisation: a failure here costs speed, never a call.
            System.err.println("bulwark planner: warm-up stopped: " + e);
        }
    }

    /** AES-GCM in TLS-record-sized pieces and SHA-256, until both are compiled with their intrinsics. */
    private static void crypto() throws Exception {
        byte[] record = new byte[16 * 1024];
        byte[] key = new byte[16];
        SecretKeySpec k = new SecretKeySpec(key, "AES");
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < 3000; i++) {
            byte[] iv = new byte[12];
            iv[0] = (byte) i;
            iv[1] = (byte) (i >> 8);
            Cipher enc = Cipher.getInstance("AES/GCM/NoPadding");
            enc.init(Cipher.ENCRYPT_MODE, k, new GCMParameterSpec(128, iv));
            byte[] sealed = enc.doFinal(record);
            Cipher dec = Cipher.getInstance("AES/GCM/NoPadding");
            dec.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv));
            dec.doFinal(sealed);
            sha.update(record);
        }
        sha.digest();
    }
}
