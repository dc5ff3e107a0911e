package dev.bulwark.cgroup;

import java.nio.file.Path;

/**
 * A cgroup v2 device filter for the native stage to load and attach. Cgroup v2 has no
 * devices.allow file: access to device nodes is decided by an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup.
 *
 * <p>The stage loads {@link #instructions} with {@code bpf(BPF_PROG_LOAD)} (prog_type
 * {@link #PROG_TYPE}, license {@link #LICENSE}, insn_cnt = instructions.length / 8) and attaches
 * it with {@code bpf(BPF_PROG_ATTACH)} to an O_DIRECTORY fd of {@link #cgroupDir} with
 * attach_type {@link #ATTACH_TYPE} and flags {@link #ATTACH_FLAGS}. On an update it attaches the new
 * program first and then detaches the one it attached before, so there is no moment with no filter.
 *
 * @param cgroupDir    the container's cgroup2 directory
 * @param instructions struct bpf_insn[] in little-endian byte order, 8 bytes per instruction
 */
public record DeviceProgram(Path cgroupDir, byte[] instructions) {
    /** BPF_PROG_TYPE_CGROUP_DEVICE. */
    public static final int PROG_TYPE = 15;
    /** BPF_CGROUP_DEVICE. */
    public static final int ATTACH_TYPE = 6;
    /** BPF_F_ALLOW_MULTI: programs of the parent cgroups keep running too (the kernel ANDs them). */
    public static final int ATTACH_FLAGS = 2;
    /** The program calls no helpers, so any license string is accepted; this is the project's. */
    public static final String LICENSE = "Apache-2.0";

    public DeviceProgram {
        instructions = instructions.clone();
        if (instructions.length == 0 || instructions.length % 8 != 0) {
            throw new IllegalArgumentException("a BPF program is a non-empty multiple of 8 bytes, got " + instructions.length);
        }
    }

    @Override
    public byte[] instructions() {
        return instructions.clone();
    }

    public int instructionCount() {
        return instructions.length / 8;
    }
}
