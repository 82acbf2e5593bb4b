package dev.vmlet.spec;

import java.util.regex.Pattern;

/**
 * An artifact in an OCI registry: {@code REGISTRY/REPOSITORY:TAG} or {@code REGISTRY/REPOSITORY@sha256:HEX},
 * optionally written with the {@code oci://} prefix that {@code vmlet launch --image} uses. The
 * registry is always named (there is no default registry), with a port when it is not 443.
 *
 * @param registry host or host:port
 * @param repository lower-case path components, as the distribution spec allows
 * @param tag the tag, or null when the digest is given
 * @param digest {@code sha256:HEX}, or null when the tag is given
 */
public record OciReference(String registry, String repository, String tag, String digest) {
  public static final String SCHEME = "oci://";
  private static final Pattern REGISTRY = Pattern.compile("(localhost|\\[[0-9a-fA-F:]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?");
  private static final Pattern REPOSITORY = Pattern.compile("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  public static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  public OciReference {
    if (!REGISTRY.matcher(registry).matches()) {
      throw new IllegalArgumentException("'" + registry + "' is not a registry host[:port]");
    }
    if (repository.length() > 255 || !REPOSITORY.matcher(repository).matches()) {
      throw new IllegalArgumentException("'" + repository
          + "' is not a repository name: lower-case letters and digits, separated by '.', '_', '-' or '/'");
    }
    if ((tag == null) == (digest == null)) {
      throw new IllegalArgumentException("give a tag or a digest, not both and not neither");
    }
    if (tag != null && !TAG.matcher(tag).matches()) {
      throw new IllegalArgumentException("'" + tag + "' is not a tag: up to 128 letters, digits, '_', '.', '-'");
    }
    if (digest != null && !DIGEST.matcher(digest).matches()) {
      throw new IllegalArgumentException("'" + digest + "' is not a digest: sha256: and 64 lower-case hex digits");
    }
  }

  /** Whether {@code image} names a registry artifact ({@code oci://...}) rather than an image of the cache. */
  public static boolean isOci(String image) {
    return image.startsWith(SCHEME);
  }

  /**
   * Parses {@code [oci://]REGISTRY/REPOSITORY(:TAG|@sha256:HEX)}.
   *
   * @throws IllegalArgumentException saying which part is wrong and how it should look
   */
  public static OciReference parse(String text) {
    String s = text.startsWith(SCHEME) ? text.substring(SCHEME.length()) : text;
    int slash = s.indexOf('/');
    if (slash <= 0) {
      throw new IllegalArgumentException("'" + text + "' names no registry; write REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/vmlet/micro:1");
    }
    String registry = s.substring(0, slash);
    String rest = s.substring(slash + 1);
    int at = rest.indexOf('@');
    if (at >= 0) {
      return new OciReference(registry, rest.substring(0, at), null, rest.substring(at + 1));
    }
    int colon = rest.lastIndexOf(':');
    if (colon < 0 || rest.indexOf('/', colon) >= 0) {
      throw new IllegalArgumentException("'" + text + "' has no tag; write REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:HEX");
    }
    return new OciReference(registry, rest.substring(0, colon), rest.substring(colon + 1), null);
  }

  /** The tag or the digest: what goes after {@code /manifests/}. */
  public String reference() {
    return digest != null ? digest : tag;
  }

  /** The registry's host without the port or IPv6 brackets. */
  public String host() {
    String h = registry.startsWith("[") ? registry.substring(1, registry.indexOf(']'))
        : registry.contains(":") ? registry.substring(0, registry.indexOf(':')) : registry;
    return h;
  }

  /** localhost, 127.0.0.0/8 and ::1: registries plain HTTP is allowed for without asking. */
  public boolean isLoopback() {
    String h = host();
    return h.equals("localhost") || h.equals("::1") || h.matches("127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}");
  }

  /** This reference with the digest instead of the tag. */
  public OciReference withDigest(String d) {
    return new OciReference(registry, repository, null, d);
  }

  @Override
  public String toString() {
    return registry + "/" + repository + (digest != null ? "@" + digest : ":" + tag);
  }
}
