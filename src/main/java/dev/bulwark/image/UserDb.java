package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * An image's /etc/passwd and /etc/group, to turn {@code -u USER[:GROUP]} into numeric IDs as
 * Docker does. Read from the image's rootfs without following any symlink: /etc and the files
 * must be a real directory and regular files, so a hostile image cannot make the runtime read
 * the host's files (a {@code /etc/passwd -> /host/...} link is refused, not followed).
 */
public record UserDb(List<Passwd> users, List<Group> groups) {
    /** Larger files are refused: a name lookup has no business reading gigabytes. */
    static final long MAX_FILE = 4L << 20;

    public record Passwd(String name, long uid, long gid, String home) {}

    public record Group(String name, long gid, List<String> members) {}

    /** A resolved user: what process.user and HOME become. */
    public record User(long uid, long gid, List<Long> additionalGids, Optional<String> home) {}

    public UserDb {
        users = List.copyOf(users);
        groups = List.copyOf(groups);
    }

    public static UserDb empty() {
        return new UserDb(List.of(), List.of());
    }

    public static UserDb parse(String passwd, String group) {
        List<Passwd> us = new ArrayList<>();
        for (String line : passwd.split("\n")) {
            String[] f = line.split(":", -1);
            if (f.length >= 4 && !f[0].isEmpty() && !line.startsWith("#")) {
                OptionalId uid = OptionalId.of(f[2]);
                OptionalId gid = OptionalId.of(f[3]);
                if (uid.ok() && gid.ok()) {
                    us.add(new Passwd(f[0], uid.value(), gid.value(), f.length >= 6 ? f[5] : ""));
                }
            }
        }
        List<Group> gs = new ArrayList<>();
        for (String line : group.split("\n")) {
            String[] f = line.split(":", -1);
            if (f.length >= 3 && !f[0].isEmpty() && !line.startsWith("#")) {
                OptionalId gid = OptionalId.of(f[2]);
                if (gid.ok()) {
                    List<String> members = f.length >= 4 && !f[3].isEmpty() ? List.of(f[3].split(",")) : List.of();
                    gs.add(new Group(f[0], gid.value(), members));
                }
            }
        }
        return new UserDb(us, gs);
    }

    private record OptionalId(boolean ok, long value) {
        static OptionalId of(String s) {
            Optional<Long> v = number(s);
            return new OptionalId(v.isPresent(), v.orElse(-1L));
        }
    }

    /** A decimal ID in [0, 2^32-2], or empty. */
    static Optional<Long> number(String s) {
        if (s.isEmpty() || s.length() > 10 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Optional.empty();
        }
        long v = Long.parseLong(s);
        return v <= 0xfffffffeL ? Optional.of(v) : Optional.empty();
    }

    /** Reads rootfs/etc/passwd and rootfs/etc/group; a missing file is empty, a symlink anywhere is an error. */
    public static UserDb read(Path rootfs) {
        return parse(readConfined(rootfs, "passwd"), readConfined(rootfs, "group"));
    }

    private static String readConfined(Path rootfs, String name) {
        Path etc = rootfs.resolve("etc");
        Path file = etc.resolve(name);
        try {
            BasicFileAttributes d = Files.readAttributes(etc, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!d.isDirectory()) {
                throw new ImageException("image /etc is not a directory (a symlink is not followed): cannot resolve user names");
            }
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile()) {
                throw new ImageException("image /etc/" + name + " is not a regular file (a symlink is not followed): "
                        + "cannot resolve user names; use numeric -u UID[:GID]");
            }
            if (a.size() > MAX_FILE) {
                throw new ImageException("image /etc/" + name + " is larger than " + MAX_FILE + " bytes");
            }
            try (InputStream in = Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                return new String(in.readNBytes((int) MAX_FILE), StandardCharsets.UTF_8);
            }
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            throw new ImageException("read image /etc/" + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Docker's rules for {@code USER[:GROUP]} (the image's User or -u): a name must be in
     * passwd; a number need not be (then the group is 0); without GROUP the user's primary group
     * from passwd; supplementary groups are the groups that list the user by name.
     *
     * @param spec the value, "" meaning root
     * @param what how errors name it: "-u" or "image config User"
     */
    public User resolve(String spec, String what) {
        String u = spec;
        Optional<String> g = Optional.empty();
        int colon = spec.indexOf(':');
        if (colon >= 0) {
            u = spec.substring(0, colon);
            g = Optional.of(spec.substring(colon + 1));
            if (g.get().isEmpty()) {
                throw new ImageException(what + " \"" + spec + "\": empty group after ':'");
            }
        }
        if (u.isEmpty()) {
            if (colon >= 0) {
                throw new ImageException(what + " \"" + spec + "\": empty user before ':'");
            }
            u = "0";
        }
        Optional<Passwd> entry;
        long uid;
        Optional<Long> n = number(u);
        if (n.isPresent()) {
            uid = n.get();
            entry = users.stream().filter(p -> p.uid() == uid).findFirst();
        } else {
            String name = u;
            if (!validName(name)) {
                throw new ImageException(what + " \"" + spec + "\": \"" + name + "\" is neither a number nor a valid user name");
            }
            entry = users.stream().filter(p -> p.name().equals(name)).findFirst();
            if (entry.isEmpty()) {
                throw new ImageException(what + " \"" + spec + "\": no user \"" + name + "\" in the image's /etc/passwd");
            }
            uid = entry.get().uid();
        }
        long gid;
        if (g.isPresent()) {
            Optional<Long> gn = number(g.get());
            if (gn.isPresent()) {
                gid = gn.get();
            } else {
                String gname = g.get();
                if (!validName(gname)) {
                    throw new ImageException(what + " \"" + spec + "\": \"" + gname + "\" is neither a number nor a valid group name");
                }
                gid = groups.stream().filter(x -> x.name().equals(gname)).findFirst()
                        .orElseThrow(() -> new ImageException(what + " \"" + spec + "\": no group \"" + gname
                                + "\" in the image's /etc/group"))
                        .gid();
            }
        } else {
            gid = entry.map(Passwd::gid).orElse(0L);
        }
        List<Long> extra = new ArrayList<>();
        if (entry.isPresent()) {
            String name = entry.get().name();
            for (Group x : groups) {
                if (x.members().contains(name) && x.gid() != gid && !extra.contains(x.gid())) {
                    extra.add(x.gid());
                }
            }
        }
        return new User(uid, gid, extra, entry.map(Passwd::home).filter(h -> !h.isEmpty()));
    }

    private static boolean validName(String s) {
        return !s.isEmpty() && s.length() <= 256 && s.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != ':' && c != '/');
    }
}
