package dev.bulwark.cgroup;

import java.util.ArrayList;
import java.util.List;

/**
 * The v1 devices controller's rules (security/device_cgroup.c) as a model for tests: a default
 * behaviour and a list of exceptions, changed by lines written to devices.allow and devices.deny.
 */
final class KernelDevicesV1 {
    private record Ex(char type, long major, long minor, int access) {}

    private boolean defaultAllow = true; // a new root cgroup allows everything
    private final List<Ex> exceptions = new ArrayList<>();

    void write(String file, String line) {
        boolean allowFile = file.equals("devices.allow");
        if (line.startsWith("a")) {
            defaultAllow = allowFile;
            exceptions.clear();
            return;
        }
        String[] f = line.split(" ");
        String[] mm = f[1].split(":");
        Ex ex = new Ex(f[0].charAt(0), mm[0].equals("*") ? -1 : Long.parseLong(mm[0]),
                mm[1].equals("*") ? -1 : Long.parseLong(mm[1]), access(f[2]));
        boolean add = allowFile != defaultAllow;
        for (int i = 0; i < exceptions.size(); i++) {
            Ex e = exceptions.get(i);
            if (e.type() == ex.type() && e.major() == ex.major() && e.minor() == ex.minor()) {
                int acc = add ? e.access() | ex.access() : e.access() & ~ex.access();
                if (acc == 0) {
                    exceptions.remove(i);
                } else {
                    exceptions.set(i, new Ex(e.type(), e.major(), e.minor(), acc));
                }
                return;
            }
        }
        if (add) {
            exceptions.add(ex);
        }
    }

    /** devcgroup_check_permission for one device node access. */
    boolean permits(char type, long major, long minor, int access) {
        if (defaultAllow) {
            // match_exception_partial: any named bit of a matching deny exception refuses
            for (Ex e : exceptions) {
                if (e.type() == type && (e.major() < 0 || e.major() == major) && (e.minor() < 0 || e.minor() == minor)
                        && (access & e.access()) != 0) {
                    return false;
                }
            }
            return true;
        }
        for (Ex e : exceptions) {
            if (e.type() == type && (e.major() < 0 || e.major() == major) && (e.minor() < 0 || e.minor() == minor)
                    && (access & ~e.access()) == 0) {
                return true;
            }
        }
        return false;
    }

    private static int access(String s) {
        int m = 0;
        for (char c : s.toCharArray()) {
            m |= c == 'r' ? DeviceRules.ACC_READ : c == 'w' ? DeviceRules.ACC_WRITE : DeviceRules.ACC_MKNOD;
        }
        return m;
    }
}
