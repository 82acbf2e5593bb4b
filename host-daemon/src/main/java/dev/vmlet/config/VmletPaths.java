package dev.vmlet.config;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where vmlet keeps things. As root: state in {@code /var/lib/vmlet}, sockets in {@code
 * /run/vmlet}, images in {@code /var/cache/vmlet}. Otherwise the XDG directories. Each can be
 * overridden by flag or environment ({@code VMLET_STATE_DIR}, {@code VMLET_RUN_DIR}, {@code
 * VMLET_CACHE_DIR}, {@code VMLET_SOCKET}).
 *
 * @param stateDir per-VM state (one directory per VM)
 * @param runDir sockets and pidfiles; kept short because unix socket paths are limited to 107 bytes
 * @param cacheDir built images
 * @param socket the daemon's gRPC unix socket
 */
public record VmletPaths(Path stateDir, Path runDir, Path cacheDir, Path socket) {

  public Path vmStateDir(String name) {
    return stateDir.resolve("vms").resolve(name);
  }

  public Path vmRunDir(String name) {
    return runDir.resolve("vms").resolve(name);
  }

  public Path imageDir(String image) {
    return cacheDir.resolve("images").resolve(image);
  }

  /** The defaults for the current user, with environment overrides applied. */
  public static VmletPaths fromEnvironment() {
    return defaults(System.getenv(), isRoot(), System.getProperty("user.home"));
  }

  static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  /** Pure form of {@link #fromEnvironment()}, for tests. */
  public static VmletPaths defaults(Map<String, String> env, boolean root, String home) {
    Path state;
    Path run;
    Path cache;
    if (root) {
      state = Path.of("/var/lib/vmlet");
      run = Path.of("/run/vmlet");
      cache = Path.of("/var/cache/vmlet");
    } else {
      state = Path.of(env.getOrDefault("XDG_STATE_HOME", home + "/.local/state"), "vmlet");
      String runtime = env.get("XDG_RUNTIME_DIR");
      run = runtime != null ? Path.of(runtime, "vmlet") : Path.of("/tmp", "vmlet-" + System.getProperty("user.name"));
      cache = Path.of(env.getOrDefault("XDG_CACHE_HOME", home + "/.cache"), "vmlet");
    }
    state = override(env, "VMLET_STATE_DIR", state);
    run = override(env, "VMLET_RUN_DIR", run);
    cache = override(env, "VMLET_CACHE_DIR", cache);
    Path socket = override(env, "VMLET_SOCKET", run.resolve("vmlet.sock"));
    return new VmletPaths(state, run, cache, socket);
  }

  private static Path override(Map<String, String> env, String key, Path fallback) {
    String v = env.get(key);
    return v == null || v.isBlank() ? fallback : Path.of(v);
  }

  public VmletPaths withStateDir(Path p) {
    return new VmletPaths(p, runDir, cacheDir, socket);
  }

  public VmletPaths withRunDir(Path p) {
    return new VmletPaths(stateDir, p, cacheDir, socket.startsWith(runDir) ? p.resolve(runDir.relativize(socket)) : socket);
  }

  public VmletPaths withCacheDir(Path p) {
    return new VmletPaths(stateDir, runDir, p, socket);
  }

  public VmletPaths withSocket(Path p) {
    return new VmletPaths(stateDir, runDir, cacheDir, p);
  }
}
