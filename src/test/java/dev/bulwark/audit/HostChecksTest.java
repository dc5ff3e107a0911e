package dev.bulwark.audit;

import static dev.bulwark.audit.Fixtures.byId;
import static dev.bulwark.audit.Fixtures.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The rule set against the hardened, distribution-default and weak fixtures. */
class HostChecksTest {
    private static final List<Rule> RULES = RuleSet.builtin();

    private static Map<String, Finding> run(HostFacts facts) {
        return byId(HostChecks.check(RULES, facts));
    }

    @Test
    void hardenedHostFailsNothing() {
        List<Finding> fs = HostChecks.check(RULES, Fixtures.facts("hardened"));
        List<String> failed = fs.stream().filter(f -> f.status() == Status.FAIL).map(Finding::id).toList();
        assertEquals(List.of(), failed);
        Map<String, Finding> m = byId(fs);
        assertEquals(Status.PASS, status(m, "kconfig.STRICT_KERNEL_RWX"));
        assertEquals(Status.PASS, status(m, "kconfig.LSM#landlock"));
        assertEquals(Status.PASS, status(m, "cmdline.mitigations"), "mitigations=auto,nosmt is not off");
        assertEquals(Status.PASS, status(m, "cmdline.init_on_alloc"));
        assertEquals(Status.PASS, status(m, "sysctl.kernel.yama.ptrace_scope"));
        // 6.9 renamed the x86 mitigations to CONFIG_MITIGATION_*: the old names pass through the new.
        assertEquals(Status.PASS, status(m, "kconfig.RETPOLINE"));
        assertTrue(m.get("kconfig.RETPOLINE").actual().contains("CONFIG_MITIGATION_RETPOLINE=y"), m.get("kconfig.RETPOLINE").actual());
        // Conflicts with containers: reported, not failed.
        assertEquals(Status.CONFLICT, status(m, "kconfig.USER_NS"));
        assertEquals(Status.CONFLICT, status(m, "sysctl.user.max_user_namespaces"));
        assertEquals(Status.CONFLICT, status(m, "sysctl.net.ipv4.ip_forward"));
        assertTrue(m.get("sysctl.user.max_user_namespaces").note().startsWith("conflicts with containers: "));
        // Not applicable here.
        assertEquals(Status.SKIP, status(m, "kconfig.CFI_CLANG"), "GCC-built kernel");
        assertEquals(Status.SKIP, status(m, "kconfig.DEBUG_LIST"), "removed in 6.6");
        assertEquals(Status.SKIP, status(m, "kconfig.ARM64_BTI"), "x86_64");
        assertEquals(Status.SKIP, status(m, "sysctl.kernel.unprivileged_userns_clone"), "not in the file");
        assertEquals("not in hardened.sysctl", m.get("sysctl.kernel.unprivileged_userns_clone").note());
    }

    @Test
    void distributionDefaults() {
        Map<String, Finding> m = run(Fixtures.facts("distro"));
        for (String id : List.of("kconfig.STRICT_KERNEL_RWX", "kconfig.RANDOMIZE_BASE", "kconfig.SECCOMP_FILTER",
                "kconfig.SECURITY_LANDLOCK", "kconfig.RETPOLINE", "kconfig.CPU_MITIGATIONS", "kconfig.STRICT_DEVMEM",
                "cmdline.mitigations", "cmdline.nokaslr", "sysctl.kernel.randomize_va_space",
                "sysctl.fs.protected_symlinks", "sysctl.kernel.perf_event_paranoid")) {
            assertEquals(Status.PASS, status(m, id), id);
        }
        for (String id : List.of("kconfig.SLAB_MERGE_DEFAULT", "kconfig.MODULE_SIG_FORCE", "kconfig.PROC_KCORE",
                "kconfig.KEXEC", "kconfig.DEBUG_FS", "kconfig.LEGACY_VSYSCALL_NONE", "kconfig.DEBUG_LIST",
                "kconfig.MAGIC_SYSRQ_DEFAULT_ENABLE", "cmdline.slab_nomerge", "cmdline.init_on_alloc",
                "cmdline.module.sig_enforce", "sysctl.kernel.kptr_restrict", "sysctl.kernel.yama.ptrace_scope",
                "sysctl.fs.protected_fifos")) {
            assertEquals(Status.FAIL, status(m, id), id);
        }
        assertEquals(Severity.MEDIUM, m.get("kconfig.SLAB_MERGE_DEFAULT").severity());
        assertEquals("y", m.get("kconfig.SLAB_MERGE_DEFAULT").actual());
        // 6.1 predates these options.
        assertEquals(Status.SKIP, status(m, "kconfig.LEGACY_TIOCSTI"));
        assertEquals(Status.SKIP, status(m, "kconfig.RANDOM_KMALLOC_CACHES"));
        assertEquals(Status.SKIP, status(m, "kconfig.LIST_HARDENED"));
        assertEquals("needs kernel 6.6 or later (this is 6.1)", m.get("kconfig.LIST_HARDENED").note());
        assertEquals(Status.CONFLICT, status(m, "sysctl.kernel.unprivileged_userns_clone"));
        assertEquals(Status.CONFLICT, status(m, "kconfig.USER_NS"));
    }

    @Test
    void weakHost() {
        Map<String, Finding> m = run(Fixtures.facts("weak"));
        for (String id : List.of("kconfig.STRICT_KERNEL_RWX", "kconfig.VMAP_STACK", "kconfig.RANDOMIZE_BASE",
                "kconfig.STACKPROTECTOR", "kconfig.HARDENED_USERCOPY", "kconfig.FORTIFY_SOURCE", "kconfig.SECURITY",
                "kconfig.SECCOMP", "kconfig.SECCOMP_FILTER", "kconfig.STRICT_DEVMEM", "kconfig.ACPI_CUSTOM_METHOD",
                "kconfig.PAGE_TABLE_ISOLATION", "kconfig.RETPOLINE", "kconfig.CPU_MITIGATIONS",
                "cmdline.mitigations", "cmdline.nokaslr", "cmdline.pti", "cmdline.nospectre_v2", "cmdline.spectre_v2",
                "cmdline.rodata", "sysctl.kernel.randomize_va_space", "sysctl.vm.mmap_min_addr#x86",
                "sysctl.fs.protected_symlinks", "sysctl.fs.protected_hardlinks")) {
            Finding f = m.get(id);
            assertEquals(Status.FAIL, f.status(), id);
            assertEquals(Severity.HIGH, f.severity(), id);
        }
        assertEquals(Status.FAIL, status(m, "kconfig.DEFAULT_MMAP_MIN_ADDR#x86"));
        assertEquals("4096", m.get("kconfig.DEFAULT_MMAP_MIN_ADDR#x86").actual());
        assertEquals(Status.FAIL, status(m, "cmdline.hardened_usercopy"));
        assertEquals(Status.FAIL, status(m, "cmdline.slab_merge"));
        assertEquals(Status.FAIL, status(m, "sysctl.kernel.perf_event_paranoid"));
        // "nopti" after "--" belongs to init.
        assertEquals(Status.PASS, status(m, "cmdline.nopti"));
        // KSPP-compliant, though it breaks containers: a pass with the conflict noted.
        assertEquals(Status.PASS, status(m, "sysctl.user.max_user_namespaces"));
        assertTrue(m.get("sysctl.user.max_user_namespaces").note().startsWith("conflicts with containers"));
        assertEquals(Status.PASS, status(m, "kconfig.USER_NS"));
        assertEquals(Status.SKIP, status(m, "sysctl.kernel.io_uring_disabled"));
    }

    @Test
    void commandLineOverridesTheConfigDefault() {
        HostFacts h = Fixtures.facts("hardened");
        HostFacts explicitOff = new HostFacts(h.config(), Optional.of(Cmdline.parse("c", "init_on_alloc=0")),
                h.sysctls(), h.version(), h.running(), h.arch(), List.of());
        assertEquals(Status.FAIL, status(run(explicitOff), "cmdline.init_on_alloc"));
        HostFacts absent = new HostFacts(h.config(), Optional.of(Cmdline.parse("c", "ro quiet")),
                h.sysctls(), h.version(), h.running(), h.arch(), List.of());
        Finding f = run(absent).get("cmdline.init_on_alloc");
        assertEquals(Status.PASS, f.status());
        assertEquals("not given; CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y", f.actual());
        HostFacts noConfig = new HostFacts(Optional.empty(), absent.cmdline(), h.sysctls(), h.version(), h.running(),
                h.arch(), List.of());
        Map<String, Finding> m = run(noConfig);
        assertEquals(Status.SKIP, status(m, "cmdline.init_on_alloc"));
        assertTrue(m.get("cmdline.init_on_alloc").note().startsWith("cannot tell: CONFIG_INIT_ON_ALLOC_DEFAULT_ON"));
        assertEquals(Status.SKIP, status(m, "kconfig.STRICT_KERNEL_RWX"));
        assertEquals(Status.PASS, status(m, "cmdline.mitigations"));
    }

    @Test
    void arm64RulesApplyOnlyToArm64() {
        KernelConfig c = KernelConfig.parse("arm.config", """
                # Linux/arm64 6.6.0 Kernel Configuration
                CONFIG_ARM64=y
                CONFIG_ARM64_BTI=y
                # CONFIG_ARM64_PTR_AUTH is not set
                CONFIG_DEFAULT_MMAP_MIN_ADDR=32768
                """);
        HostFacts f = new HostFacts(Optional.of(c), Optional.empty(), Optional.empty(), c.version(), c.version(),
                c.arch().orElseThrow(), List.of());
        Map<String, Finding> m = run(f);
        assertEquals("arm64", f.arch());
        assertEquals(Status.PASS, status(m, "kconfig.ARM64_BTI"));
        assertEquals(Status.FAIL, status(m, "kconfig.ARM64_PTR_AUTH"));
        assertEquals(Status.PASS, status(m, "kconfig.DEFAULT_MMAP_MIN_ADDR#arm64"));
        assertEquals(Status.SKIP, status(m, "kconfig.DEFAULT_MMAP_MIN_ADDR#x86"));
        assertEquals(Status.SKIP, status(m, "kconfig.RETPOLINE"));
        assertEquals("only on x86_64", m.get("kconfig.RETPOLINE").note());
    }
}
