package dev.bulwark.image;

import java.util.Optional;

/**
 * An image reference, normalised as Docker normalises it: {@code alpine} is
 * {@code docker.io/library/alpine:latest}. The registry part is kept for the pulls to come; the
 * store records the normalised form as the name of an index.json entry.
 *
 * @param domain     registry host[:port]
 * @param repository path below the registry
 * @param tag        the tag, empty when the reference is by digest only
 * @param digest     the pinned manifest digest, empty when the reference is by tag only
 */
public record Reference(String domain, String repository, String tag, String digest) {
    public static final String DEFAULT_DOMAIN = "docker.io";

    public static Reference parse(String text) {
        if (text.isEmpty() || text.length() > 4096) {
            throw new ImageException("reference \"" + text + "\": expected NAME[:TAG][@sha256:DIGEST]");
        }
        String rest = text;
        String digest = "";
        int at = rest.indexOf('@');
        if (at >= 0) {
            digest = Digest.parse(rest.substring(at + 1)).toString();
            rest = rest.substring(0, at);
        }
        String tag = "";
        int colon = rest.lastIndexOf(':');
        if (colon > rest.lastIndexOf('/')) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!validTag(tag)) {
                throw new ImageException("reference \"" + text + "\": tag \"" + tag
                        + "\" must be 1-128 of [A-Za-z0-9_.-], not starting with . or -");
            }
        }
        String domain = DEFAULT_DOMAIN;
        String path = rest;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
                domain = first;
                path = rest.substring(slash + 1);
            }
        }
        if (domain.equals(DEFAULT_DOMAIN) && !path.contains("/")) {
            path = "library/" + path;
        }
        for (String c : path.split("/", -1)) {
            if (!validComponent(c)) {
                throw new ImageException("reference \"" + text + "\": path component \"" + c
                        + "\" must be lowercase letters and digits, separated by . _ __ or -");
            }
        }
        if (tag.isEmpty() && digest.isEmpty()) {
            tag = "latest";
        }
        return new Reference(domain, path, tag, digest);
    }

    private static boolean validTag(String t) {
        if (t.isEmpty() || t.length() > 128 || t.charAt(0) == '.' || t.charAt(0) == '-') {
            return false;
        }
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    private static boolean validComponent(String c) {
        if (c.isEmpty()) {
            return false;
        }
        boolean lastSep = true;
        for (int i = 0; i < c.length(); i++) {
            char ch = c.charAt(i);
            boolean alnum = ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9';
            if (alnum) {
                lastSep = false;
            } else if (ch == '.' || ch == '_' || ch == '-') {
                if (lastSep && !(ch == '_' && i > 0 && c.charAt(i - 1) == '_') && !(ch == '-' && i > 0 && c.charAt(i - 1) == '-')) {
                    return false;
                }
                lastSep = true;
            } else {
                return false;
            }
        }
        return !lastSep;
    }

    public String name() {
        return domain + "/" + repository;
    }

    public Optional<Digest> pinned() {
        return digest.isEmpty() ? Optional.empty() : Optional.of(Digest.parse(digest));
    }

    @Override
    public String toString() {
        return name() + (tag.isEmpty() ? "" : ":" + tag) + (digest.isEmpty() ? "" : "@" + digest);
    }
}
