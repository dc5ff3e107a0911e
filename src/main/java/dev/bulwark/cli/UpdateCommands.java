package dev.bulwark.cli;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** `update` (new cgroup limits for a live container) and `events` (its statistics). */
final class UpdateCommands {
    private static final Set<String> VALUED = Set.of("resources", "r", "memory", "memory-reservation", "memory-swap",
            "kernel-memory", "kernel-memory-tcp", "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-runtime", "cpu-rt-period",
            "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight", "l3-cache-schema", "mem-bw-schema");

    private UpdateCommands() {}

    static int update(Globals g, List<String> argv) throws IOException {
        Args a = Args.parse(argv, VALUED, Set.of());
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark update [--resources FILE|-] [--memory N] [--pids-limit N] ... ID");
        }
        String file = a.get("resources", a.get("r", null));
        Spec.Resources r = file == null ? Spec.Resources.none()
                : SpecReader.readResources(file.equals("-")
                        ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : Files.readString(dev.bulwark.runtime.Invocation.current().resolve(file)));
        for (String f : List.of("kernel-memory", "kernel-memory-tcp", "l3-cache-schema", "mem-bw-schema", "cpu-rt-runtime", "cpu-rt-period")) {
            if (a.has(f)) {
                throw new CliException("update --" + f + " is not supported by Bulwark");
            }
        }
        Spec.Memory m = r.memory().orElse(Spec.Memory.none());
        if (a.has("memory") || a.has("memory-reservation") || a.has("memory-swap")) {
            m = new Spec.Memory(num(a, "memory").or(m::limit), num(a, "memory-reservation").or(m::reservation),
                    num(a, "memory-swap").or(m::swap), m.kernel(), m.kernelTCP(), m.swappiness(), m.disableOOMKiller(),
                    m.useHierarchy(), m.checkBeforeUpdate());
        }
        Spec.Cpu c = r.cpu().orElse(Spec.Cpu.none());
        if (a.has("cpu-shares") || a.has("cpu-quota") || a.has("cpu-period") || a.has("cpuset-cpus") || a.has("cpuset-mems")) {
            c = new Spec.Cpu(num(a, "cpu-shares").or(c::shares), num(a, "cpu-quota").or(c::quota), c.burst(),
                    num(a, "cpu-period").or(c::period), c.realtimeRuntime(), c.realtimePeriod(),
                    a.get("cpuset-cpus", c.cpus()), a.get("cpuset-mems", c.mems()), c.idle());
        }
        Optional<Spec.Pids> pids = num(a, "pids-limit").map(Spec.Pids::new).or(r::pids);
        Optional<Spec.BlockIO> blkio = r.blockIO();
        if (a.has("blkio-weight")) {
            int w = num(a, "blkio-weight").orElseThrow().intValue();
            blkio = Optional.of(new Spec.BlockIO(Optional.of(w), Optional.empty(), List.of(), List.of(), List.of(), List.of(), List.of()));
        }
        Spec.Resources merged = new Spec.Resources(r.devices(), m.equals(Spec.Memory.none()) ? r.memory() : Optional.of(m),
                c.equals(Spec.Cpu.none()) ? r.cpu() : Optional.of(c), pids, blkio, r.hugepageLimits(), r.network(), r.rdma(),
                r.unified(), r.raw());
        Lifecycle.update(g.root(), a.positional().get(0), merged);
        return 0;
    }

    private static Optional<Long> num(Args a, String flag) {
        if (!a.has(flag)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(a.get(flag, "")));
        } catch (NumberFormatException e) {
            throw new CliException("--" + flag + " takes a number, not \"" + a.get(flag, "") + "\"");
        }
    }

    /** events: with --stats one stats event and exit; without, one every --interval until the container stops. */
    static int events(Globals g, List<String> argv) throws InterruptedException {
        Args a = Args.parse(argv, Set.of("interval"), Set.of("stats"));
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark events [--stats] [--interval 5s] ID");
        }
        String id = a.positional().get(0);
        long intervalMs = interval(a.get("interval", "5s"));
        do {
            System.out.println(Json.write(JsonBuilder.object().put("type", "stats").put("id", id)
                    .put("data", Lifecycle.stats(g.root(), id)).build()));
            System.out.flush();
            if (a.flag("stats")) {
                return 0;
            }
            Thread.sleep(intervalMs);
        } while (!Lifecycle.load(g.root(), id).status().equals("stopped"));
        return 0;
    }

    private static long interval(String s) {
        try {
            if (s.endsWith("ms")) {
                return Long.parseLong(s.substring(0, s.length() - 2));
            }
            if (s.endsWith("s")) {
                return Long.parseLong(s.substring(0, s.length() - 1)) * 1000;
            }
            return Long.parseLong(s) * 1000;
        } catch (NumberFormatException e) {
            throw new CliException("--interval takes a duration such as 5s or 500ms, not \"" + s + "\"");
        }
    }
}
