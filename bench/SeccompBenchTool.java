// Helper of seccomp-bench.sh, run as a single-file program on Bulwark's jar:
//   java -cp target/bulwark.jar bench/SeccompBenchTool.java config IN OUT ROOTFS filter|nofilter ARG...
//       writes IN's config with root.path = ROOTFS, process.args = ARG..., and without
//       linux.seccomp for nofilter
//   java -cp target/bulwark.jar bench/SeccompBenchTool.java program CONFIG
//       prints the instruction count of Bulwark's program for CONFIG's linux.seccomp, then the
//       same profile as directives for src/test/c/seccomp/scmp_export.c (libseccomp's program)
import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.seccomp.SeccompCompiler;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

public class SeccompBenchTool {
    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "config" -> config(Path.of(a[1]), Path.of(a[2]), a[3], a[4].equals("filter"), Arrays.asList(a).subList(5, a.length));
            case "program" -> program(Path.of(a[1]));
            default -> throw new IllegalArgumentException("unknown command " + a[0]);
        }
    }

    private static void config(Path in, Path out, String rootfs, boolean filter, List<String> args) throws Exception {
        JsonObject c = (JsonObject) Json.parse(Files.readString(in));
        Map<String, JsonValue> process = new LinkedHashMap<>(((JsonObject) c.members().get("process")).members());
        process.put("args", JsonBuilder.strings(args));
        Map<String, JsonValue> linux = new LinkedHashMap<>(((JsonObject) c.members().get("linux")).members());
        if (!filter) {
            linux.remove("seccomp");
        }
        Map<String, JsonValue> top = new LinkedHashMap<>(c.members());
        top.put("process", new JsonObject(process));
        top.put("linux", new JsonObject(linux));
        top.put("root", JsonBuilder.object().put("path", rootfs).put("readonly", true).build());
        Files.writeString(out, Json.writePretty(new JsonObject(top)));
    }

    private static void program(Path config) throws Exception {
        Spec.Seccomp s = SpecReader.parse(Files.readString(config)).linux().flatMap(Spec.Linux::seccomp).orElseThrow();
        System.out.println(SeccompCompiler.compile(s).instructionCount());
        // scmp_export's input: runc's filter attributes, then one rule line per name
        System.out.println("default " + s.defaultAction() + " " + errno(s.defaultErrnoRet()));
        System.out.println("badarch SCMP_ACT_KILL_PROCESS");
        for (String arch : s.architectures()) {
            System.out.println("arch " + arch);
        }
        for (Spec.SeccompSyscall r : s.syscalls()) {
            for (String name : r.names()) {
                StringBuilder sb = new StringBuilder("rule " + r.action() + " " + errno(r.errnoRet()) + " " + name + " " + r.args().size());
                for (Spec.SeccompArg x : r.args()) {
                    sb.append(' ').append(x.index()).append(' ').append(x.op()).append(' ')
                            .append(Long.toUnsignedString(x.value())).append(' ').append(Long.toUnsignedString(x.valueTwo()));
                }
                System.out.println(sb);
            }
        }
    }

    private static String errno(Optional<Integer> e) {
        return e.map(String::valueOf).orElse("-");
    }
}
