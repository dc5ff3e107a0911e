// Helper of agent-bench.sh, run as a single-file program on Bulwark's jar:
//   java -cp target/bulwark.jar bench/AgentBenchTool.java config IN OUT ROOTFS SOCKET|- ARG...
//       writes IN's config as a system container: root.path = ROOTFS, process.args = ARG..., a user
//       namespace (0 -> 700000, 65536 IDs), every capability the caller has, a tmpfs at /tmp, and
//       a profile that allows everything but traps what system mode's does (SystemMode.NOTIFY:
//       the mount family, sysinfo, sched_getaffinity, setns and unshare; SCMP_ACT_NOTIFY) to the
//       agent on SOCKET, with its "trap-ns=on"; "-" for the same container without the profile.
import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.runtime.Capabilities;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class AgentBenchTool {
    public static void main(String[] a) throws Exception {
        if (!a[0].equals("config")) {
            throw new IllegalArgumentException("unknown command " + a[0]);
        }
        JsonObject c = (JsonObject) Json.parse(Files.readString(Path.of(a[1])));
        long bnd = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("CapBnd:"))
                .map(l -> Long.parseUnsignedLong(l.substring(7).trim(), 16)).findFirst().orElseThrow();
        List<String> caps = Capabilities.NAMES.stream().filter(n -> (bnd >> Capabilities.number(n) & 1) != 0).toList();
        JsonValue capSet = JsonBuilder.strings(caps);
        Map<String, JsonValue> process = new LinkedHashMap<>(((JsonObject) c.members().get("process")).members());
        process.put("args", JsonBuilder.strings(Arrays.asList(a).subList(5, a.length)));
        process.put("capabilities", JsonBuilder.object().put("bounding", capSet).put("effective", capSet).put("permitted", capSet).build());
        Map<String, JsonValue> linux = new LinkedHashMap<>(((JsonObject) c.members().get("linux")).members());
        List<JsonValue> ns = new ArrayList<>(((JsonArray) linux.get("namespaces")).elements());
        ns.add(JsonBuilder.object().put("type", "user").build());
        linux.put("namespaces", new JsonArray(ns));
        JsonValue map = new JsonArray(List.of(JsonBuilder.object().put("containerID", 0).put("hostID", 700000).put("size", 65536).build()));
        linux.put("uidMappings", map);
        linux.put("gidMappings", map);
        if (a[4].equals("-")) {
            linux.remove("seccomp");
        } else {
            linux.put("seccomp", JsonBuilder.object().put("defaultAction", "SCMP_ACT_ALLOW").put("listenerPath", a[4])
                    .put("listenerMetadata", "trap-ns=on")
                    .put("syscalls", new JsonArray(List.of(JsonBuilder.object()
                            .put("names", JsonBuilder.strings(List.of("mount", "umount2", "move_mount", "open_tree", "mount_setattr",
                                    "fspick", "fsopen", "sysinfo", "sched_getaffinity", "setns", "unshare")))
                            .put("action", "SCMP_ACT_NOTIFY").build())))
                    .build());
        }
        List<JsonValue> mounts = new ArrayList<>(((JsonArray) c.members().get("mounts")).elements());
        mounts.add(JsonBuilder.object().put("destination", "/tmp").put("type", "tmpfs").put("source", "tmpfs")
                .put("options", JsonBuilder.strings(List.of("nosuid", "nodev"))).build());
        Map<String, JsonValue> top = new LinkedHashMap<>(c.members());
        top.put("process", new JsonObject(process));
        top.put("linux", new JsonObject(linux));
        top.put("mounts", new JsonArray(mounts));
        top.put("root", JsonBuilder.object().put("path", a[3]).put("readonly", true).build());
        Files.writeString(Path.of(a[2]), Json.writePretty(new JsonObject(top)));
    }
}
