package dev.bulwark.image;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Real images (gzip layers, configs with diff_ids) built in tests, and archives made from them. */
final class TestImages {
    private TestImages() {}

    static byte[] config(Platform p, List<byte[]> tarLayers) {
        StringBuilder ids = new StringBuilder();
        for (byte[] t : tarLayers) {
            ids.append(ids.isEmpty() ? "" : ",").append('"').append(Digest.of(t)).append('"');
        }
        return ("{\"architecture\":\"" + p.architecture() + "\",\"os\":\"" + p.os() + "\","
                + "\"config\":{\"Env\":[\"PATH=/usr/bin:/bin\"],\"Cmd\":[\"/bin/sh\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + ids + "]}}").getBytes(StandardCharsets.UTF_8);
    }

    /** Stores a manifest with gzip layers made from the given tars; returns its descriptor (not named). */
    static Descriptor store(ContentStore s, Platform p, List<byte[]> tarLayers) {
        List<Descriptor> ls = new ArrayList<>();
        for (byte[] t : tarLayers) {
            byte[] gz = Layer.gzip(t);
            ls.add(new Descriptor(MediaTypes.OCI_LAYER_GZIP, s.put(gz), gz.length));
        }
        byte[] c = config(p, tarLayers);
        byte[] m = new Manifest(MediaTypes.OCI_MANIFEST, new Descriptor(MediaTypes.OCI_CONFIG, s.put(c), c.length), ls).toJson();
        return new Descriptor(MediaTypes.OCI_MANIFEST, s.put(m), m.length);
    }

    static List<byte[]> twoLayers() {
        return List.of(
                Layer.of().dir("etc").file("etc/os-release", "ID=test\n").file("bin/tool", "#!/bin/sh\necho hi\n", 0755)
                        .symlink("usr/bin", "../bin").file("gone", "soon").tar(),
                Layer.of().file("etc/motd", "hello\n").file(".wh.gone", "").tar());
    }

    /**
     * A `docker save` archive in the layout before Docker 25: one directory per layer with
     * layer.tar (the second image's shared layer is a symlink to the first's, as docker writes
     * it), the config as HEX.json, and manifest.json and repositories last.
     */
    static void dockerSave(Path out, String repoTag, List<byte[]> tarLayers, boolean gzip) throws IOException {
        Layer archive = Layer.of();
        List<String> layerPaths = new ArrayList<>();
        String first = null;
        for (int i = 0; i < tarLayers.size(); i++) {
            byte[] t = tarLayers.get(i);
            String id = Digest.of((i + ":" + Digest.of(t)).getBytes(StandardCharsets.UTF_8)).hex();
            archive.dir(id + "/");
            archive.file(id + "/VERSION", "1.0");
            archive.file(id + "/json", "{\"id\":\"" + id + "\"}");
            if (i > 0 && java.util.Arrays.equals(t, tarLayers.get(0))) {
                archive.symlink(id + "/layer.tar", "../" + first + "/layer.tar");
            } else {
                archive.add(TarEntry.file(id + "/layer.tar", 0644, 0), t);
            }
            if (first == null) {
                first = id;
            }
            layerPaths.add("\"" + id + "/layer.tar\"");
        }
        byte[] config = config(Platform.host(), tarLayers);
        String configName = Digest.of(config).hex() + ".json";
        archive.add(TarEntry.file(configName, 0644, 0), config);
        archive.file("manifest.json", "[{\"Config\":\"" + configName + "\",\"RepoTags\":[\"" + repoTag + "\"],\"Layers\":["
                + String.join(",", layerPaths) + "]}]");
        archive.file("repositories", "{}");
        byte[] tar = archive.tar();
        Files.write(out, gzip ? Layer.gzip(tar) : tar);
    }

    static byte[] gunzip(byte[] gz) throws IOException {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readAllBytes();
        }
    }
}
