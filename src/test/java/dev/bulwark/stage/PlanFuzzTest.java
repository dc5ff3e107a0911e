package dev.bulwark.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short libFuzzer run of the stage's plan reader (clang-14 with ASan and UBSan), seeded with
 * real plans from the encoder. Any crash, leak or sanitizer report fails the build.
 */
class PlanFuzzTest {
    @Test
    void planReaderSurvivesFuzzing(@TempDir Path tmp) throws Exception {
        Path c = TestEnv.sourceDir().resolve("src/main/c");
        Path out = tmp.resolve("native");
        Process make = new ProcessBuilder("make", "-C", c.toString(), "OUT=" + out, "fuzz").redirectErrorStream(true).start();
        String log = new String(make.getInputStream().readAllBytes());
        assertEquals(0, make.waitFor(), "building the fuzz target (needs clang-14 and libfuzzer-14-dev):\n" + log);

        Path corpus = Files.createDirectories(tmp.resolve("corpus"));
        List<Op> all = PlanFormatTest.everyOp();
        Files.write(corpus.resolve("every-op"), PlanEncoder.encode(all));
        Files.write(corpus.resolve("minimal"), PlanEncoder.encode(List.of(new Op.Clone(0), new Op.Exec("", List.of("x"), List.of()))));
        Files.write(corpus.resolve("init-heavy"), PlanEncoder.encode(all.subList(16, all.size())));

        int seconds = Integer.getInteger("bulwark.fuzz.seconds", 20);
        Process fuzz = new ProcessBuilder(out.resolve("plan-fuzz").toString(), "-max_total_time=" + seconds,
                "-max_len=4096", "-print_final_stats=1", corpus.toString())
                .redirectErrorStream(true).start();
        String fuzzLog = new String(fuzz.getInputStream().readAllBytes());
        int code = fuzz.waitFor();
        String stats = fuzzLog.lines().filter(l -> l.startsWith("stat::number_of_executed_units")).findFirst().orElse("");
        System.out.println("plan reader fuzz: " + stats + " in " + seconds + " s");
        assertEquals(0, code, fuzzLog.length() > 4000 ? fuzzLog.substring(fuzzLog.length() - 4000) : fuzzLog);
        assertTrue(Long.parseLong(stats.replaceAll("\\D", "")) > 1000, "the fuzzer barely ran: " + stats);
    }
}
