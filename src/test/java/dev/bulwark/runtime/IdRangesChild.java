package dev.bulwark.runtime;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run in a child JVM by IdRangesTest: "hold STATE-DIR POOL-DIR ID" claims a range as create does
 * (state directory, claim, record), prints its index, and then either keeps the claim's lock
 * ("hold": until killed) or closes it and exits ("take").
 */
public final class IdRangesChild {
    private IdRangesChild() {}

    public static void main(String[] args) throws Exception {
        Path states = Path.of(args[1]);
        IdRanges.Config c = new IdRanges.Config(Path.of(args[2]), Path.of(args[2]).resolveSibling("subuid"),
                Path.of(args[2]).resolveSibling("subgid"), false);
        Path state = Files.createDirectories(states.resolve(args[3]));
        IdRanges.Claim claim = IdRanges.allocate(c, args[3], state);
        if (args[0].equals("hold-unrecorded")) {
            System.out.println(claim.range().index());
            System.out.flush();
            Thread.sleep(600_000);
        }
        claim.record(state);
        System.out.println(claim.range().index());
        System.out.flush();
        if (args[0].equals("hold")) {
            Thread.sleep(600_000);
        }
        claim.close();
    }
}
