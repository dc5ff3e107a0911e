package dev.bulwark.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The spec parser: a good spec read field by field, and each malformed one refused with its YAML path. */
class SystemSpecTest {
    static final String D = "@sha256:" + "ab".repeat(32);
    static final String K = "bulwark/kernel:6.1" + D;
    static final String I = "test/probe:1" + D;

    static final String GOOD = """
            kernel:
              image: %s
              cmdline: console=ttyS0 quiet
            init:
              - %s
            onboot:
              - name: net
                image: %s
                command: [/bin/sh, -c, "ip addr add 10.0.2.15/24 dev eth0"]
                capabilities: [NET_ADMIN]
                net: host
            services:
              - name: web
                image: %s
                env: [PORT=8080]
                binds: ["/etc/web:/etc/web:ro"]
                readonly: true
                pid: new
                resources:
                  pids: 64
                  memory: 32m
            files:
              - path: /etc/web/index.html
                contents: "hello\\n"
                mode: "0644"
              - path: var/empty
                directory: true
            """.formatted(K, I, I, I);

    @Test
    void readsAGoodSpec() {
        SystemSpec s = SystemSpec.parse(GOOD, "good.yml", false);
        assertEquals(K, s.kernel().image());
        assertEquals("console=ttyS0 quiet", s.kernel().cmdline());
        assertEquals(List.of(I), s.init());
        SystemSpec.Container net = s.onboot().get(0);
        assertEquals("net", net.name());
        assertEquals(Optional.of(List.of("/bin/sh", "-c", "ip addr add 10.0.2.15/24 dev eth0")), net.command());
        assertEquals(Optional.of(List.of("CAP_NET_ADMIN")), net.capabilities());
        assertEquals("host", net.net());
        assertEquals("new", net.pid());
        assertEquals(SystemSpec.DEFAULT_PIDS, net.pids());
        SystemSpec.Container web = s.services().get(0);
        assertEquals(List.of("PORT=8080"), web.env());
        assertEquals(List.of("/etc/web:/etc/web:ro"), web.binds());
        assertEquals(64, web.pids());
        assertEquals(32L << 20, web.memory());
        assertTrue(web.capabilities().isEmpty(), "no capabilities key: Docker's default set");
        assertEquals("etc/web/index.html", s.files().get(0).path());
        assertEquals("hello\n", s.files().get(0).contents());
        assertTrue(s.files().get(1).directory());
        assertEquals(List.of(K, I, I, I), s.images());
    }

    @Test
    void cmdlineDefaultsToTheSerialConsole() {
        SystemSpec s = SystemSpec.parse("kernel: {image: " + K + "}\n", "k.yml", false);
        assertEquals("console=ttyS0", s.kernel().cmdline());
        assertEquals(List.of(), s.services());
    }

    @Test
    void tagsAreReadWhenTheyAreToBeResolved() {
        SystemSpec s = SystemSpec.parse("kernel: {image: bulwark/kernel:6.1}\n", "k.yml", true);
        assertEquals("bulwark/kernel:6.1", s.kernel().image());
    }

    private static String svc(String extra) {
        return "kernel: {image: " + K + "}\nservices:\n  - name: s\n    image: " + I + "\n" + extra;
    }

    private static Arguments bad(String yaml, String expected) {
        return Arguments.of(yaml, expected);
    }

    static Stream<Arguments> malformed() {
        return Stream.of(
                bad("", "bad.yml: the spec is empty"),
                bad("- kernel\n", "bad.yml: expected a mapping, found a list"),
                bad("kernel: {image: " + K + "}\nkernal: {}\n", "bad.yml: kernal: unknown key (expected one of files, init, kernel, onboot, services)"),
                bad("onboot: []\n", "bad.yml: kernel: required"),
                bad("kernel: {image: " + K + ", append: x}\n", "bad.yml: kernel.append: unknown key (expected one of cmdline, image)"),
                bad("kernel: {cmdline: x}\n", "bad.yml: kernel.image: required"),
                bad("kernel: {image: bulwark/kernel:6.1}\n", "bad.yml: kernel.image: \"bulwark/kernel:6.1\" is not pinned by digest"),
                bad("kernel: {image: 42}\n", "bad.yml: kernel.image: expected a string, found a number"),
                bad("kernel: {image: " + K + "}\ninit: " + I + "\n", "bad.yml: init: expected a list, found a string"),
                bad("kernel: {image: " + K + "}\ninit: [busybox:latest]\n", "bad.yml: init[0]: \"busybox:latest\" is not pinned by digest"),
                bad("kernel: {image: " + K + "}\nservices:\n  - name: s\n", "bad.yml: services[0].image: required"),
                bad("kernel: {image: " + K + "}\nservices:\n  - image: " + I + "\n", "bad.yml: services[0].name: required"),
                bad(svc("    capabilities: [NET_ADMIN, CAP_FLY]\n"), "bad.yml: services[0].capabilities[1]: unknown capability \"CAP_FLY\""),
                bad(svc("    command: /bin/sh\n"), "bad.yml: services[0].command: expected a list, found a string"),
                bad(svc("    readonly: yes\n"), "bad.yml: services[0].readonly: expected true or false, found a string"),
                bad(svc("    net: none\n"), "bad.yml: services[0].net: \"none\" must be new or host"),
                bad(svc("    resources: {pids: -1}\n"), "bad.yml: services[0].resources.pids: must be positive, not -1"),
                bad(svc("    resources: {memory: lots}\n"), "bad.yml: services[0].resources.memory: \"lots\": expected a positive size"),
                bad(svc("    resources: {cpu: 1}\n"), "bad.yml: services[0].resources.cpu: unknown key (expected one of memory, pids)"),
                bad(svc("    env: [NOEQUALS]\n"), "bad.yml: services[0].env[0]: \"NOEQUALS\": expected NAME=VALUE"),
                bad(svc("    binds: [\"/etc:/etc:rx\"]\n"), "bad.yml: services[0].binds[0]: \"/etc:/etc:rx\": mode \"rx\" must be ro or rw"),
                bad(svc("    binds: [\"/etc/../root:/r\"]\n"), "bad.yml: services[0].binds[0]: \"/etc/../root:/r\": \"/etc/../root\" must be an absolute path without .."),
                bad(svc("    restart: always\n"), "bad.yml: services[0].restart: unknown key"),
                bad(svc("  - name: s\n    image: " + I + "\n"), "bad.yml: services[1].name: \"s\" is used by another container"),
                bad(svc("").replace("name: s", "name: Web"), "bad.yml: services[0].name: \"Web\" must be 1-63 of [a-z0-9_.-]"),
                bad("kernel: {image: " + K + "}\nfiles:\n  - path: ../etc/x\n    contents: x\n", "bad.yml: files[0].path: \"../etc/x\" must be a path in the root"),
                bad("kernel: {image: " + K + "}\nfiles:\n  - path: init\n    contents: x\n", "bad.yml: files[0].path: \"init\" belongs to the builder"),
                bad("kernel: {image: " + K + "}\nfiles:\n  - path: etc/x\n    mode: 644\n", "bad.yml: files[0].mode: expected an octal string such as \"0644\", found a number"),
                bad("kernel: {image: " + K + "}\nfiles:\n  - path: etc/x\n    contents: a\n    symlink: b\n", "bad.yml: files[0]: give one of contents, directory or symlink"),
                bad("kernel: {image: " + K + "}\nkernel: {image: " + K + "}\n", "bad.yml: not valid YAML"),
                bad("kernel: {image: " + K + "\n", "bad.yml: not valid YAML"),
                bad("kernel: {image: !!java.lang.Runtime " + K + "}\n", "bad.yml: not valid YAML"),
                bad("kernel: {image: \"" + K.replace("@sha256:", "@sha256:zz") + "\"}\n", "bad.yml: kernel.image:"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("malformed")
    void refusesAMalformedSpecNamingTheYamlPath(String yaml, String expected) {
        BuildException e = assertThrows(BuildException.class, () -> SystemSpec.parse(yaml, "bad.yml", false));
        assertTrue(e.getMessage().startsWith(expected), "expected a message starting with\n  " + expected + "\nfound\n  " + e.getMessage());
    }

    @Test
    void anAliasBombIsRefused() {
        StringBuilder y = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 12; i++) {
            y.append("a").append(i).append(": &a").append(i).append(" [");
            y.append(String.join(", ", java.util.Collections.nCopies(10, "*a" + (i - 1)))).append("]\n");
        }
        BuildException e = assertThrows(BuildException.class, () -> SystemSpec.parse(y.toString(), "bomb.yml", false));
        assertTrue(e.getMessage().startsWith("bomb.yml: not valid YAML"), e.getMessage());
    }
}
