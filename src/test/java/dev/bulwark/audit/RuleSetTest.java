package dev.bulwark.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.audit.Rule.Kind;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class RuleSetTest {

    @Test
    void builtinRulesCoverConfigCmdlineAndSysctls() {
        List<Rule> rules = RuleSet.builtin();
        Map<Kind, Long> byKind = rules.stream().collect(Collectors.groupingBy(Rule::kind, Collectors.counting()));
        assertTrue(rules.size() >= 150, "at least 150 checks, found " + rules.size());
        assertTrue(byKind.get(Kind.KCONFIG) >= 100, "kconfig rules: " + byKind);
        assertTrue(byKind.get(Kind.CMDLINE) >= 30, "cmdline rules: " + byKind);
        assertTrue(byKind.get(Kind.SYSCTL) >= 30, "sysctl rules: " + byKind);
        for (Rule r : rules) {
            assertFalse(r.reason().isBlank(), r.id());
            assertFalse(r.source().isBlank(), r.id());
            assertTrue(r.severity() != null && !r.category().isBlank(), r.id());
        }
        // Conflicts with containers are flagged in the data, not hard-coded.
        assertTrue(rules.stream().anyMatch(r -> r.key().equals("user.max_user_namespaces") && !r.conflict().isEmpty()));
        assertTrue(rules.stream().anyMatch(r -> r.key().equals("CONFIG_USER_NS") && !r.conflict().isEmpty()));
    }

    @Test
    void parsesOptions() {
        List<Rule> rules = RuleSet.parse("t.rules", """
                # comment
                kconfig.FOO#a | y | high | self-protection | KSPP | Why. | arch=x86_64,arm64 | since=5.13 | until=6.6 | alt=kconfig:BAR=unset | when=kconfig:CC_IS_GCC=y
                cmdline.init_on_alloc | 1,on | medium | self-protection | KSPP | Why. | alt=kconfig:INIT_ON_ALLOC_DEFAULT_ON=y
                sysctl.user.max_user_namespaces | 0 | low | attack-surface | KSPP | Why. | conflict=containers need it
                """);
        Rule foo = rules.get(0);
        assertEquals("kconfig.FOO#a", foo.id());
        assertEquals("CONFIG_FOO", foo.key());
        assertEquals(java.util.Set.of("x86_64", "arm64"), foo.arches());
        assertEquals(Optional.of(KernelVersion.of(5, 13)), foo.since());
        assertEquals(Optional.of(KernelVersion.of(6, 6)), foo.until());
        assertEquals("CONFIG_BAR", foo.alts().get(0).key());
        assertEquals("CONFIG_CC_IS_GCC", foo.when().get(0).key());
        assertEquals("init_on_alloc", rules.get(1).key());
        assertEquals(new Expect.OneOf(List.of("1", "on")), rules.get(1).expect());
        assertEquals("containers need it", rules.get(2).conflict());
    }

    @Test
    void malformedRulesNameFileAndLine() {
        AuditException e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "# header\n\nkconfig.FOO | y | high | self-protection | KSPP\n"));
        assertTrue(e.getMessage().startsWith("t.rules:3: expected \"id | expect"), e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "kconfig.FOO | y | severe | self-protection | KSPP | Why.\n"));
        assertEquals("t.rules:1: severity must be high, medium or low, not \"severe\"", e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "foo.BAR | y | high | self-protection | KSPP | Why.\n"));
        assertTrue(e.getMessage().startsWith("t.rules:1: rule id must be"), e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "kconfig.FOO | >=lots | high | self-protection | KSPP | Why.\n"));
        assertTrue(e.getMessage().startsWith("t.rules:1: expected a number after >="), e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "kconfig.FOO | y | high | self-protection | KSPP | Why. | since=soon\n"));
        assertTrue(e.getMessage().startsWith("t.rules:1: expected a kernel version"), e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "kconfig.FOO | y | high | self-protection | KSPP | Why. | alt=BAR=y\n"));
        assertTrue(e.getMessage().startsWith("t.rules:1: alt and when must be"), e.getMessage());
        e = assertThrows(AuditException.class, () -> RuleSet.parse("t.rules",
                "kconfig.FOO | y | high | self-protection | KSPP | Why.\nkconfig.FOO | y | high | self-protection | KSPP | Why.\n"));
        assertEquals("t.rules:2: duplicate rule id kconfig.FOO", e.getMessage());
    }

    @Test
    void expectations() {
        assertTrue(Expect.parse("!off", "x").test(Optional.empty()));
        assertTrue(Expect.parse("!off", "x").test(Optional.of("auto,nosmt")));
        assertFalse(Expect.parse("!off", "x").test(Optional.of("off")));
        assertTrue(Expect.parse(">=65536", "x").test(Optional.of("65536")));
        assertFalse(Expect.parse(">=65536", "x").test(Optional.of("4096")));
        assertFalse(Expect.parse(">=1", "x").test(Optional.of("yes")));
        assertTrue(Expect.parse("<=0x10", "x").test(Optional.of("16")));
        assertTrue(Expect.parse("~landlock", "x").test(Optional.of("lockdown,yama,landlock")));
        assertFalse(Expect.parse("~landlock", "x").test(Optional.of("lockdown,yama")));
        assertTrue(Expect.parse("unset", "x").test(Optional.empty()));
        assertFalse(Expect.parse("unset", "x").test(Optional.of("y")));
        assertTrue(Expect.parse("present", "x").test(Optional.of("")));
        assertFalse(Expect.parse("y,m", "x").test(Optional.empty()));
        assertTrue(Expect.parse("y,m", "x").test(Optional.of("m")));
    }
}
