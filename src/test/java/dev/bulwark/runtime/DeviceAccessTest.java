package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.cgroup.DeviceRules;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecReader;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The devices cgroup rules a container gets beside its config's (no root needed). */
class DeviceAccessTest {
    /** What dockerd 20.10 writes: deny all, allow five of the default nodes and the console, deny fuse. */
    private static final String DOCKER = """
            {"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},
            {"allow":false,"type":"c","major":10,"minor":229,"access":"rwm"}""";

    private static Spec spec(String rules) {
        return SpecReader.parse("""
                {"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}},
                 "linux":{"resources":{"devices":[%s]}}}""".formatted(rules));
    }

    private static List<String> allowed(Spec.Resources r) {
        return DeviceRules.of(r.devices()).v1Writes().stream()
                .filter(w -> w.file().equals("devices.allow")).map(DeviceRules.V1Write::line).toList();
    }

    @Test
    void dockersDenyAllGetsTheNodesTheRuntimeCreates() {
        List<String> allowed = allowed(DeviceAccess.resources(spec(DOCKER)));
        for (String line : List.of("c 1:7 rwm", "c 5:2 rwm", "c 136:* rwm", "c 1:3 rwm", "c 5:1 rwm")) {
            assertTrue(allowed.contains(line), line + " in " + allowed);
        }
        // Nodes the config already allows are not repeated.
        assertEquals(1, allowed.stream().filter(l -> l.equals("c 1:3 rwm")).count(), allowed.toString());
        assertFalse(allowed.contains("c 10:229 rwm"), allowed.toString());
    }

    @Test
    void aNodeTheConfigDeniesStaysDenied() {
        String rules = """
                {"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"access":"rwm"},
                {"allow":false,"type":"c","major":136,"minor":3,"access":"rw"}""";
        Spec.Resources r = DeviceAccess.resources(spec(rules));
        List<String> allowed = allowed(r);
        assertFalse(allowed.contains("c 1:7 rwm"), allowed.toString());
        assertFalse(allowed.contains("c 136:* rwm"), allowed.toString());
        assertTrue(allowed.contains("c 5:2 rwm"), allowed.toString());
    }

    @Test
    void noRulesMeansNoDevicesCgroup() {
        assertEquals(List.of(), DeviceAccess.resources(spec("")).devices());
    }
}
