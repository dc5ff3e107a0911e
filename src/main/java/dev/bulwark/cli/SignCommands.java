package dev.bulwark.cli;

import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Descriptor;
import dev.bulwark.image.Digest;
import dev.bulwark.image.Images;
import dev.bulwark.image.Keys;
import dev.bulwark.image.Platform;
import dev.bulwark.image.Reference;
import dev.bulwark.image.Signatures;
import dev.bulwark.image.TrustPolicy;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Signatures and trust policy: {@code sign}, {@code verify}, {@code key generate},
 * {@code policy check}. Images are named as in the store (--store DIR, default /var/lib/bulwark).
 */
public final class SignCommands {
    private SignCommands() {}

    private static ContentStore store(Args a) {
        return ContentStore.open(dev.bulwark.runtime.Invocation.current().resolve(a.get("store", ContentStore.DEFAULT_ROOT.toString())));
    }

    private record Resolved(Reference image, Digest digest) {}

    private static Resolved resolve(Images images, String ref) {
        Map.Entry<String, Descriptor> e = images.resolve(ref);
        return new Resolved(Reference.parse(e.getKey()), e.getValue().digest());
    }

    /** bulwark sign [--store DIR] --key FILE.key REF: signs the image's digest; prints the artifact's name. */
    public static int sign(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("store", "key"), Set.of());
        if (a.positional().size() != 1 || !a.has("key")) {
            throw new CliException("usage: bulwark sign [--store DIR] --key FILE.key REF");
        }
        var key = Keys.readPrivate(dev.bulwark.runtime.Invocation.current().resolve(a.get("key", "")));
        ContentStore s = store(a);
        Resolved r = resolve(new Images(s, Platform.host()), a.positional().get(0));
        Signatures.sign(s, r.image(), r.digest(), key);
        System.out.println(Signatures.artifactName(r.image(), r.digest()));
        return 0;
    }

    /**
     * bulwark verify [--store DIR] --key FILE.pub [--key ...] REF: exit 0 and the signer's key
     * fingerprint when a signature in the store verifies; an error naming each signature's
     * problem otherwise.
     */
    public static int verify(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("store", "key"), Set.of());
        if (a.positional().size() != 1 || !a.has("key")) {
            throw new CliException("usage: bulwark verify [--store DIR] --key FILE.pub [--key FILE.pub ...] REF");
        }
        List<PublicKey> keys = new ArrayList<>();
        List<String> files = a.all("key");
        for (String f : files) {
            keys.add(Keys.readPublic(dev.bulwark.runtime.Invocation.current().resolve(f)));
        }
        ContentStore s = store(a);
        Resolved r = resolve(new Images(s, Platform.host()), a.positional().get(0));
        Signatures.Verification v = Signatures.verify(Signatures.inStore(s).signatures(r.image(), r.digest()),
                r.digest(), r.image(), keys);
        String file = files.get(keys.indexOf(v.key()));
        System.out.println("verified " + r.image().name() + "@" + r.digest() + ": signed by key " + v.fingerprint()
                + " (" + file + ")");
        return 0;
    }

    /** bulwark key generate PREFIX: writes PREFIX.key (mode 0600) and PREFIX.pub, ECDSA P-256 in PEM. */
    public static int key(Globals g, List<String> argv) {
        if (argv.size() != 2 || !argv.get(0).equals("generate") || argv.get(1).startsWith("-")) {
            throw new CliException("usage: bulwark key generate PREFIX (writes PREFIX.key and PREFIX.pub)");
        }
        KeyPair pair = Keys.generate();
        List<Path> written = Keys.write(pair, dev.bulwark.runtime.Invocation.current().resolve(argv.get(1)));
        System.out.println("wrote " + written.get(0) + " and " + written.get(1) + ": key "
                + Keys.fingerprint(pair.getPublic()));
        return 0;
    }

    /**
     * bulwark policy check [--policy FILE] [--store DIR] REF: the decision of the trust policy
     * (default /etc/bulwark/policy.json; none there means accept) for an image in the store.
     */
    public static int policy(Globals g, List<String> argv) {
        if (argv.isEmpty() || !argv.get(0).equals("check")) {
            throw new CliException("usage: bulwark policy check [--policy FILE] [--store DIR] REF");
        }
        Args a = Args.parse(argv.subList(1, argv.size()), Set.of("store", "policy"), Set.of());
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark policy check [--policy FILE] [--store DIR] REF");
        }
        TrustPolicy p = a.has("policy") ? TrustPolicy.load(dev.bulwark.runtime.Invocation.current().resolve(a.get("policy", ""))) : TrustPolicy.loadDefault();
        TrustPolicy.Decision d = p.checkStored(new Images(store(a), Platform.host()), a.positional().get(0));
        System.out.println(d.describe());
        return 0;
    }
}
