package dev.vmlet.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.OciReference;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A registry that sends a response's headers and then stops, over a real socket: a fake HTTP/1.1
 * server that serves a manifest and half of its one blob, then holds the connection open and sends
 * nothing. (The real registry's pulls, cut and resumed, are OciRegistryIT's.)
 */
class StalledRegistryTest {
  private static final byte[] BLOB = new byte[256 << 10];
  private static final String DIGEST = Digests.sha256(BLOB);
  private static final byte[] MANIFEST = OciArtifact.manifest(List.of(new OciArtifact.Layer("vmlinuz.zst", DIGEST, BLOB.length)), Map.of());

  @TempDir Path cache;
  private final List<Socket> held = new CopyOnWriteArrayList<>();
  private ServerSocket server;
  private volatile boolean stallManifest;

  @AfterEach
  void close() throws IOException {
    if (server != null) {
      server.close();
    }
    for (Socket s : held) {
      s.close();
    }
  }

  private OciReference serve() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          held.add(s);
          Thread c = new Thread(() -> answer(s), "stalling-registry-conn");
          c.setDaemon(true);
          c.start();
        } catch (IOException e) {
          return; // closed
        }
      }
    }, "stalling-registry");
    t.setDaemon(true);
    t.start();
    return OciReference.parse("127.0.0.1:" + server.getLocalPort() + "/t/stalls:v1");
  }

  /** One request per connection: the manifest whole (unless it stalls too), a blob's first half; then silence. */
  private void answer(Socket s) {
    try {
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
      String request = in.readLine();
      for (String h = in.readLine(); h != null && !h.isEmpty(); h = in.readLine()) {
        // headers: the Range of a resume is answered with silence all the same
      }
      OutputStream out = s.getOutputStream();
      boolean manifest = request.contains("/manifests/");
      byte[] body = manifest ? MANIFEST : BLOB;
      String type = manifest ? OciArtifact.MANIFEST_TYPE : "application/octet-stream";
      out.write(("HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.write(body, 0, manifest && !stallManifest ? body.length : body.length / 2);
      out.flush();
      // and nothing more: the connection stays open until the test ends
    } catch (IOException e) {
      // the client gave up on us, which is what is tested
    }
  }

  @Test
  void aBlobThatStallsMidTransfer_failsThePullWithinTheIdleBound_namingRegistryAndBlob_andStoresNoImage() throws Exception {
    OciReference ref = serve();
    OciImages images = new OciImages(cache, line -> { });
    images.bodyIdle(Duration.ofMillis(500));

    long t0 = System.nanoTime();
    assertThatThrownBy(() -> images.pull(ref, RegistryClient.Options.ANONYMOUS))
        .isInstanceOfSatisfying(IOException.class, e -> assertThat(e.getMessage())
            .startsWith("could not fetch vmlinuz.zst (" + DIGEST + ") in " + OciImages.BLOB_ATTEMPTS + " attempts; "
                + BLOB.length / 2 + " of " + BLOB.length + " bytes are kept and the next pull resumes from there: "
                + ref.registry() + " stopped sending blob " + DIGEST + " after " + BLOB.length / 2 + " of " + BLOB.length
                + " bytes (nothing arrived for 500 ms)"));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    // Five attempts of 0.5 s of silence each; the bound is generous for a loaded machine, and far below "for ever".
    assertThat(ms).isLessThan(60_000);
    Path oci = cache.resolve("oci");
    assertThat(oci.resolve("images")).as("no image stored, not even part of one").doesNotExist();
    try (var staging = Files.list(oci.resolve("tmp"))) {
      assertThat(staging).as("no staging directory left").isEmpty();
    }
    assertThat(Files.size(oci.resolve("blobs/sha256/" + DIGEST.substring(7) + ".partial")))
        .as("what arrived is kept for the next pull's Range").isEqualTo(BLOB.length / 2);
  }

  @Test
  void aManifestThatStalls_failsThePull_sayingSo() throws Exception {
    stallManifest = true;
    OciReference ref = serve();
    OciImages images = new OciImages(cache, line -> { });
    images.bodyIdle(Duration.ofMillis(500));

    assertThatThrownBy(() -> images.pull(ref, RegistryClient.Options.ANONYMOUS))
        .isInstanceOfSatisfying(IOException.class, e -> assertThat(e.getMessage())
            .isEqualTo(ref.registry() + " stopped sending the manifest of " + ref + " (nothing arrived for 500 ms); try the pull again"));
    assertThat(cache.resolve("oci/images")).doesNotExist();
  }
}
