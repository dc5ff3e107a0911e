package dev.bulwark.engines;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.testing.Busybox;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * A one-layer busybox image as a `docker save` archive (manifest.json, config, layer.tar), built
 * from the host's busybox-static: `docker load` and `ctr images import` both read this format,
 * so no engine pulls anything from the network.
 */
final class EngineImage {
    private EngineImage() {}

    /** Builds the archive under {@code dir} and returns its path. */
    static Path dockerArchive(Path dir, String repoTag) throws IOException, InterruptedException {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Busybox.rootfs(rootfs);
        Path out = Files.createDirectories(dir.resolve("archive"));
        Path layerTmp = dir.resolve("layer.tar");
        // Numeric owner root and a fixed mtime: the layer's digest depends on nothing but busybox.
        Cmd.check(List.of("tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0",
                "-C", rootfs.toString(), "-cf", layerTmp.toString(), "."));
        String layer = sha256(layerTmp);
        Files.createDirectories(out.resolve(layer));
        Files.move(layerTmp, out.resolve(layer).resolve("layer.tar"));
        byte[] config = Json.write(JsonBuilder.object()
                .put("architecture", "amd64")
                .put("os", "linux")
                .put("config", JsonBuilder.object()
                        .put("Env", JsonBuilder.strings(List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")))
                        .put("Cmd", JsonBuilder.strings(List.of("sh"))))
                .put("rootfs", JsonBuilder.object().put("type", "layers")
                        .put("diff_ids", JsonBuilder.strings(List.of("sha256:" + layer))))
                .build()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String configName = sha256(config) + ".json";
        Files.write(out.resolve(configName), config);
        Files.writeString(out.resolve("manifest.json"), Json.write(JsonBuilder.array(List.of(JsonBuilder.object()
                .put("Config", configName)
                .put("RepoTags", JsonBuilder.strings(List.of(repoTag)))
                .put("Layers", JsonBuilder.strings(List.of(layer + "/layer.tar")))
                .build()))));
        Path archive = dir.resolve("image.tar");
        Cmd.check(List.of("tar", "--numeric-owner", "--owner=0", "--group=0", "-C", out.toString(), "-cf",
                archive.toString(), "."));
        return archive;
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String sha256(byte[] data) {
        return HexFormat.of().formatHex(digest().digest(data));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
