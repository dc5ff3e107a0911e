package dev.bulwark.cli;

import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Descriptor;
import dev.bulwark.image.Images;
import dev.bulwark.image.Platform;
import dev.bulwark.image.Progress;
import dev.bulwark.image.Puller;
import dev.bulwark.image.Pusher;
import dev.bulwark.image.Reference;
import dev.bulwark.image.TrustPolicy;
import dev.bulwark.image.RegistryClient;
import dev.bulwark.image.Sizes;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * bulwark pull and push: the registry side of the image store. The resolved digest goes to
 * stdout ({@code NAME DIGEST}); progress (on a terminal, or with --progress) and a one-line
 * summary go to stderr.
 */
public final class RegistryCommands {
    private RegistryCommands() {}

    private static final Set<String> VALUED = Set.of("store", "platform", "ca", "creds", "authfile", "certs-dir", "policy");
    private static final Set<String> BOOL = Set.of("progress");

    private static RegistryClient.Config config(Args a) {
        RegistryClient.Config c = RegistryClient.Config.defaults();
        if (a.has("ca")) {
            c = c.withCa(dev.bulwark.runtime.Invocation.current().resolve(a.get("ca", "")));
        }
        if (a.has("creds")) {
            c = c.withCreds(a.get("creds", ""));
        }
        Optional<String> authfile = Optional.ofNullable(a.get("authfile", dev.bulwark.runtime.Invocation.current().getenv("REGISTRY_AUTH_FILE").orElse(null)));
        if (authfile.isPresent() && !authfile.get().isEmpty()) {
            c = c.withAuthfile(dev.bulwark.runtime.Invocation.current().resolve(authfile.get()));
        }
        if (a.has("certs-dir")) {
            c = c.withCertsDir(dev.bulwark.runtime.Invocation.current().resolve(a.get("certs-dir", "")));
        }
        return c;
    }

    private static ContentStore store(Args a) {
        return ContentStore.open(dev.bulwark.runtime.Invocation.current().resolve(a.get("store", ContentStore.DEFAULT_ROOT.toString())));
    }

    /** bulwark pull [--store DIR] [--platform OS/ARCH[/VARIANT]] [--ca F] [--creds U:P] [--authfile F] [--progress] REF. */
    public static int pull(Globals g, List<String> argv) {
        Args a = Args.parse(argv, VALUED, BOOL);
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark pull [--store DIR] [--platform OS/ARCH[/VARIANT]] [--ca FILE] "
                    + "[--creds USER:PASS] [--authfile FILE] [--policy FILE] [--progress] REF");
        }
        Reference ref = Reference.parse(a.positional().get(0));
        Platform p = a.has("platform") ? Platform.parse(a.get("platform", "")) : Platform.host();
        long t0 = System.nanoTime();
        TrustPolicy policy = a.has("policy") ? TrustPolicy.load(dev.bulwark.runtime.Invocation.current().resolve(a.get("policy", ""))) : TrustPolicy.loadDefault();
        Puller.Pulled r = new Puller(store(a), config(a), p, Progress.onStderr(a.flag("progress")), policy).pull(ref);
        System.out.println(r.name() + " " + r.resolved());
        String through = r.resolved().equals(r.manifest().digest()) ? ""
                : ", " + r.manifest().platform() + " manifest " + r.manifest().digest();
        System.err.printf(Locale.ROOT, "pulled %s (%s%s): %d blobs fetched (%s%s), %d already present, in %.1f s%n",
                r.name(), r.resolved(), through, r.fetched(), Sizes.human(r.bytes()),
                r.resumed() > 0 ? ", resumed " + r.resumed() + "x" : "", r.present(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** bulwark push [--store DIR] [--ca F] [--creds U:P] [--authfile F] [--progress] REF [DEST]. */
    public static int push(Globals g, List<String> argv) {
        Args a = Args.parse(argv, VALUED, BOOL);
        if (a.positional().isEmpty() || a.positional().size() > 2) {
            throw new CliException("usage: bulwark push [--store DIR] [--ca FILE] [--creds USER:PASS] [--authfile FILE] "
                    + "[--progress] REF [DEST]");
        }
        ContentStore s = store(a);
        Map.Entry<String, Descriptor> e = new Images(s, Platform.host()).resolve(a.positional().get(0));
        String destText = a.positional().size() == 2 ? a.positional().get(1) : e.getKey();
        Reference dest = Reference.parse(destText);
        long t0 = System.nanoTime();
        Pusher.Pushed r = new Pusher(s, config(a), Progress.onStderr(a.flag("progress"))).push(e.getValue(), dest);
        System.out.println(dest + " " + r.digest());
        System.err.printf(Locale.ROOT, "pushed %s (%s): %d blobs sent (%s), %d already there, in %.1f s%n",
                dest, r.digest(), r.sent(), Sizes.human(r.bytes()), r.existed(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

}
