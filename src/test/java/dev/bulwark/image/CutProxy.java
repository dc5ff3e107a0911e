package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy in front of the registry (TLS passes through it untouched). It can cut one
 * connection once that connection has carried {@code cutAfter} bytes towards the client (a
 * download broken mid-blob), and can throttle what flows to the client. It counts those bytes.
 */
final class CutProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final long cutAfter;
    private final long bytesPerSecond;
    private final AtomicBoolean cut = new AtomicBoolean();
    private final AtomicLong toClient = new AtomicLong();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    CutProxy(int target, long cutAfter, long bytesPerSecond) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.target = target;
        this.cutAfter = cutAfter;
        this.bytesPerSecond = bytesPerSecond;
        this.acceptor = Thread.ofPlatform().daemon().name("proxy-accept").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    String host() {
        return "127.0.0.1:" + port();
    }

    long bytesToClient() {
        return toClient.get();
    }

    boolean didCut() {
        return cut.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket c = server.accept();
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", target));
                sockets.add(c);
                sockets.add(s);
                Thread.ofPlatform().daemon().start(() -> pump(c, s, false));
                Thread.ofPlatform().daemon().start(() -> pump(s, c, true));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to, boolean down) {
        byte[] buf = new byte[16 << 10];
        long mine = 0;
        long start = System.nanoTime();
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                if (down && cutAfter > 0 && mine + n > cutAfter && cut.compareAndSet(false, true)) {
                    int part = (int) (cutAfter - mine);
                    out.write(buf, 0, part);
                    out.flush();
                    toClient.addAndGet(part);
                    from.close();
                    to.close();
                    return;
                }
                out.write(buf, 0, n);
                if (down) {
                    mine += n;
                    toClient.addAndGet(n);
                    if (bytesPerSecond > 0) {
                        long due = start + mine * 1_000_000_000L / bytesPerSecond;
                        long wait = due - System.nanoTime();
                        if (wait > 0) {
                            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                        }
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            // one side closed; close the other below
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
        acceptor.join(5000);
    }
}
