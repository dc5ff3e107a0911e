package dev.bulwark.stage;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Writes a plan in the binary format of src/main/c/plan.h (version 1, little-endian). */
public final class PlanEncoder {
    public static final int VERSION = 1;
    private static final byte[] MAGIC = {'B', 'W', 'P', 'L', 'A', 'N', 0, 1};

    private final ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
    private final ByteArrayOutputStream payload = new ByteArrayOutputStream(256);

    private PlanEncoder() {}

    public static byte[] encode(List<Op> ops) {
        int phase = Op.SETUP;
        for (Op op : ops) {
            if (op.phase() < phase) {
                throw new IllegalArgumentException("plan op " + op + " is out of phase order");
            }
            phase = op.phase();
        }
        PlanEncoder e = new PlanEncoder();
        e.out.writeBytes(MAGIC);
        u32(e.out, VERSION);
        u32(e.out, ops.size());
        for (Op op : ops) {
            e.payload.reset();
            e.fields(op);
            u16(e.out, op.code());
            u16(e.out, 0);
            u32(e.out, e.payload.size());
            e.out.writeBytes(e.payload.toByteArray());
        }
        return e.out.toByteArray();
    }

    private void fields(Op op) {
        ByteArrayOutputStream p = payload;
        switch (op) {
            case Op.ErrorFile o -> str(p, o.path());
            case Op.PidFile o -> str(p, o.path());
            case Op.ControlFifo o -> str(p, o.path());
            case Op.ExecFifo o -> str(p, o.path());
            case Op.ConsoleSocket o -> str(p, o.path());
            case Op.Console o -> {
                u32(p, o.rows());
                u32(p, o.cols());
                u32(p, o.bindDevConsole() ? 1 : 0);
            }
            case Op.OpenRoot o -> { }
            case Op.SessionKeyring o -> str(p, o.name());
            case Op.Hook o -> {
                u32(p, o.kind());
                str(p, o.path());
                vec(p, o.args());
                vec(p, o.env());
                u32(p, o.timeout());
            }
            case Op.HookState o -> vec(p, o.parts());
            case Op.Hooks o -> { }
            case Op.Mode o -> {
                u32(p, o.mode());
                u32(p, o.flags());
            }
            case Op.PreserveFds o -> u32(p, o.count());
            case Op.CgroupJoin o -> str(p, o.procsFile());
            case Op.SeccompListener o -> {
                str(p, o.path());
                vec(p, o.messageParts());
            }
            case Op.CgroupDevices o -> {
                str(p, o.cgroupDir());
                u32(p, o.program().length);
                p.writeBytes(o.program());
                u32(p, o.progType());
                u32(p, o.attachType());
                u32(p, o.attachFlags());
                str(p, o.license());
            }
            case Op.OomScoreAdj o -> u32(p, o.value());
            case Op.Rlimit o -> {
                u32(p, o.resource());
                u64(p, o.soft());
                u64(p, o.hard());
            }
            case Op.Setns o -> {
                str(p, o.path());
                u32(p, o.nstype());
            }
            case Op.Timens o -> str(p, o.offsets());
            case Op.Clone o -> u64(p, o.flags());
            case Op.UidMap o -> str(p, o.content());
            case Op.GidMap o -> str(p, o.content());
            case Op.Setsid o -> { }
            case Op.BecomeRoot o -> { }
            case Op.Hostname o -> str(p, o.name());
            case Op.Domainname o -> str(p, o.name());
            case Op.LoopbackUp o -> { }
            case Op.Propagation o -> {
                str(p, o.path());
                u64(p, o.flags());
            }
            case Op.Rootfs o -> str(p, o.hostPath());
            case Op.RootfsTree o -> str(p, o.hostPath());
            case Op.BindTree o -> str(p, o.path());
            case Op.IdmapOverlay o -> {
                vec(p, o.lowers());
                str(p, o.upper());
                str(p, o.work());
                u32(p, (int) o.uid());
                u32(p, (int) o.gid());
            }
            case Op.IdmapTree o -> {
                str(p, o.source());
                u32(p, o.recursive() ? 1 : 0);
                u64(p, o.attrSet());
                u64(p, o.attrClr());
            }
            case Op.Mkpath o -> {
                str(p, o.path());
                u32(p, o.kind());
                u32(p, o.mode());
            }
            case Op.Mount o -> {
                str(p, o.source());
                str(p, o.path());
                str(p, o.fstype());
                u64(p, o.flags());
                str(p, o.data());
                u32(p, o.copyUp() ? 1 : 0);
            }
            case Op.Bind o -> {
                str(p, o.source());
                str(p, o.path());
                u32(p, o.recursive() ? 1 : 0);
                u64(p, o.attrSet());
                u64(p, o.attrClr());
            }
            case Op.Setattr o -> {
                str(p, o.path());
                u32(p, o.recursive() ? 1 : 0);
                u64(p, o.attrSet());
                u64(p, o.attrClr());
                u64(p, o.propagation());
            }
            case Op.Mknod o -> {
                str(p, o.path());
                u32(p, o.mode());
                u64(p, o.dev());
                u32(p, (int) o.uid());
                u32(p, (int) o.gid());
            }
            case Op.Symlink o -> {
                str(p, o.target());
                str(p, o.path());
            }
            case Op.PivotRoot o -> u32(p, o.noPivot() ? 1 : 0);
            case Op.Mask o -> str(p, o.path());
            case Op.Readonly o -> str(p, o.path());
            case Op.Chroot o -> str(p, o.path());
            case Op.ProcAttr o -> {
                str(p, o.attr());
                str(p, o.value());
            }
            case Op.Write o -> {
                str(p, o.path());
                str(p, o.content());
            }
            case Op.Chdir o -> str(p, o.path());
            case Op.Umask o -> u32(p, o.mask());
            case Op.NoNewPrivs o -> { }
            case Op.CapsBounding o -> {
                u64(p, o.keep());
                u32(p, o.lastCap());
            }
            case Op.SetUser o -> {
                u32(p, (int) o.uid());
                u32(p, (int) o.gid());
                u32(p, o.additionalGids().size());
                for (long g : o.additionalGids()) {
                    str(p, Long.toString(g));
                }
            }
            case Op.Caps o -> {
                u64(p, o.effective());
                u64(p, o.permitted());
                u64(p, o.inheritable());
                u64(p, o.ambient());
            }
            case Op.Seccomp o -> {
                u32(p, o.flags());
                u32(p, o.filter().length);
                p.writeBytes(o.filter());
                u32(p, o.listener() ? 1 : 0);
            }
            case Op.Personality o -> u32(p, o.persona());
            case Op.Exec o -> {
                str(p, o.path());
                vec(p, o.argv());
                vec(p, o.envp());
            }
            case Op.WaitFifo o -> str(p, o.hostPath());
            case Op.LandlockRuleset o -> u64(p, o.handledAccessFs());
            case Op.LandlockRule o -> {
                str(p, o.path());
                u64(p, o.dirAccess());
                u64(p, o.fileAccess());
            }
            case Op.LandlockRestrict o -> {
                u64(p, o.fifoAccess());
                u64(p, o.stdioRead());
                u64(p, o.stdioWrite());
            }
        }
    }

    private static void vec(ByteArrayOutputStream p, List<String> v) {
        u32(p, v.size());
        for (String s : v) {
            str(p, s);
        }
    }

    private static void str(ByteArrayOutputStream p, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (byte x : b) {
            if (x == 0) {
                throw new IllegalArgumentException("a NUL byte in a plan string: \"" + s.replace("\0", "\\0") + "\"");
            }
        }
        u32(p, b.length);
        p.writeBytes(b);
    }

    private static void u16(ByteArrayOutputStream p, int v) {
        p.write(v);
        p.write(v >>> 8);
    }

    private static void u32(ByteArrayOutputStream p, int v) {
        p.write(v);
        p.write(v >>> 8);
        p.write(v >>> 16);
        p.write(v >>> 24);
    }

    private static void u64(ByteArrayOutputStream p, long v) {
        u32(p, (int) v);
        u32(p, (int) (v >>> 32));
    }
}
