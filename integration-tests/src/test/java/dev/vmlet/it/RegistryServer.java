package dev.vmlet.it;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real OCI registry for a test: Debian's {@code docker-registry} (distribution 2.8) on
 * 127.0.0.1 and a free port, with a config the test writes (the packaged one turns on htpasswd
 * and listens on every address), its storage in the test's directory. Ended by its pid on close.
 */
final class RegistryServer implements AutoCloseable {
  static final String BINARY = "/usr/bin/docker-registry";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Process process;
  final int port;
  final Path storage;
  final Path log;

  private RegistryServer(Process process, int port, Path storage, Path log) {
    this.process = process;
    this.port = port;
    this.storage = storage;
    this.log = log;
  }

  /** Anyone may pull and push. */
  static RegistryServer open(Path dir) throws Exception {
    return start(dir, "");
  }

  /** Basic auth against an htpasswd file (bcrypt, made with Debian's htpasswd from apache2-utils). */
  static RegistryServer withHtpasswd(Path dir, String user, String password) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/htpasswd")), "no /usr/bin/htpasswd: apt-get install apache2-utils (scripts/lib/deps.sh)");
    Files.createDirectories(dir);
    Path file = dir.resolve("htpasswd");
    Process p = new ProcessBuilder("/usr/bin/htpasswd", "-Bbc", file.toString(), user, password).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("htpasswd failed: " + out);
    }
    return start(dir, """
        auth:
          htpasswd:
            realm: vmlet-test
            path: %s
        """.formatted(file));
  }

  /** Bearer tokens from {@code realm}, signed by a key whose certificate chains to {@code rootCerts} (PEM). */
  static RegistryServer withTokens(Path dir, String realm, String service, String issuer, Path rootCerts) throws Exception {
    return start(dir, """
        auth:
          token:
            realm: %s
            service: %s
            issuer: %s
            rootcertbundle: %s
        """.formatted(realm, service, issuer, rootCerts));
  }

  private static RegistryServer start(Path dir, String auth) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of(BINARY)), "no " + BINARY + ": apt-get install docker-registry (scripts/lib/deps.sh)");
    Files.createDirectories(dir);
    int port = ServerProcess.freeLoopbackPort();
    Path storage = dir.resolve("storage");
    Path config = dir.resolve("config.yml");
    Files.writeString(config, """
        version: 0.1
        log:
          level: info
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: %s
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:%d
        %s""".formatted(storage, port, auth));
    Path log = dir.resolve("registry.log");
    Process p = new ProcessBuilder(BINARY, "serve", config.toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(new File(log.toString()))).start();
    RegistryServer s = new RegistryServer(p, port, storage, log);
    try {
      s.awaitReady(Duration.ofSeconds(60));
    } catch (Exception | AssertionError e) {
      s.close();
      throw e;
    }
    return s;
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  /** The file the registry keeps a blob in (distribution's filesystem layout). */
  Path blobData(String digest) {
    String hex = digest.substring("sha256:".length());
    return storage.resolve("docker/registry/v2/blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex).resolve("data");
  }

  private void awaitReady(Duration bound) throws Exception {
    ServerProcess.awaitReady("the registry to answer /v2/", process, log, bound, () -> {
      int code = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + address() + "/v2/")).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
      return code == 200 || code == 401;
    });
  }

  @Override
  public void close() throws Exception {
    ServerProcess.stop(process);
  }
}
