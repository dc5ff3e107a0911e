package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS trust for one registry: the JDK's trust store (the system CAs) plus the CAs of
 * {@code --ca FILE} and of {@code CERTS_DIR/HOST:PORT/ca.crt}, as Docker's certs.d. A server
 * certificate is accepted when either set vouches for it; the host name is checked by both.
 */
final class RegistryTls {
    private RegistryTls() {}

    static SSLContext context(List<Path> caFiles) {
        try {
            List<X509ExtendedTrustManager> tms = new ArrayList<>();
            tms.add(managerFor(null));
            List<X509Certificate> extra = new ArrayList<>();
            for (Path f : caFiles) {
                extra.addAll(readPem(f));
            }
            if (!extra.isEmpty()) {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                for (int i = 0; i < extra.size(); i++) {
                    ks.setCertificateEntry("ca-" + i, extra.get(i));
                }
                tms.add(managerFor(ks));
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new AnyOf(tms)}, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new ImageException("TLS setup with CA files " + caFiles + ": " + e.getMessage(), e);
        }
    }

    private static X509ExtendedTrustManager managerFor(KeyStore ks) throws GeneralSecurityException {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(ks);
        for (TrustManager t : f.getTrustManagers()) {
            if (t instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("no X509 trust manager in " + f.getAlgorithm());
    }

    static List<X509Certificate> readPem(Path f) {
        try (InputStream in = Files.newInputStream(f)) {
            Collection<? extends Certificate> cs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : cs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new ImageException("CA file " + f + ": no certificate in it (expected PEM)");
            }
            return out;
        } catch (IOException e) {
            throw new ImageException("CA file " + f + ": " + e.getMessage(), e);
        } catch (CertificateException e) {
            throw new ImageException("CA file " + f + ": not a PEM certificate: " + e.getMessage(), e);
        }
    }

    /** Trusts a chain when one of the managers does; the last refusal is the one reported. */
    private static final class AnyOf extends X509ExtendedTrustManager {
        private final List<X509ExtendedTrustManager> all;

        AnyOf(List<X509ExtendedTrustManager> all) {
            this.all = List.copyOf(all);
        }

        @FunctionalInterface
        private interface Check {
            void run(X509ExtendedTrustManager t) throws CertificateException;
        }

        private void any(Check c) throws CertificateException {
            CertificateException last = null;
            for (X509ExtendedTrustManager t : all) {
                try {
                    c.run(t);
                    return;
                } catch (CertificateException e) {
                    last = e;
                }
            }
            throw last;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, SSLEngine engine) throws CertificateException {
            any(t -> t.checkServerTrusted(chain, auth, engine));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, Socket socket) throws CertificateException {
            any(t -> t.checkServerTrusted(chain, auth, socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            // Without the connection there is no host name to check: never used by the HTTP client.
            throw new CertificateException("server certificate check without a connection (no host name check) is refused");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, SSLEngine engine) throws CertificateException {
            throw new CertificateException("client certificates are not accepted here");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, Socket socket) throws CertificateException {
            throw new CertificateException("client certificates are not accepted here");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            throw new CertificateException("client certificates are not accepted here");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            List<X509Certificate> out = new ArrayList<>();
            for (X509ExtendedTrustManager t : all) {
                out.addAll(List.of(t.getAcceptedIssuers()));
            }
            return out.toArray(new X509Certificate[0]);
        }
    }
}
