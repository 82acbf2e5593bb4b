package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.vmlet.image.OciArtifact;
import dev.vmlet.image.OciImages;
import dev.vmlet.image.RegistryClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.OciReference;
import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import land.oras.Annotations;
import land.oras.ArtifactType;
import land.oras.Config;
import land.oras.ContainerRef;
import land.oras.LocalPath;
import land.oras.Manifest;
import land.oras.Registry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images through a real registry (Debian's docker-registry, distribution 2.8, started by the test
 * on 127.0.0.1): push and pull round trip, the manifest's ORAS shape as the registry serves it,
 * no bytes for a cached digest, a download cut mid-blob resumed with Range, a corrupted blob
 * refused, Basic and Bearer-token auth, a micro VM booted from {@code oci://}, and the ORAS
 * project's Java SDK pulling what vmlet pushed and pushing what vmlet pulls.
 */
class OciRegistryIT {
  private static final String USER = "vmlet";
  private static final String PASSWORD = "s3cret-pass";
  @TempDir Path tmp;
  private final List<String> log = new ArrayList<>();

  /** An image directory of two files: one of {@code bytes} random (incompressible) bytes and a small one. */
  private Path image(long bytes) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("image"));
    byte[] data = new byte[(int) bytes];
    new Random(42).nextBytes(data);
    Files.write(dir.resolve("initrd.img"), data);
    Files.writeString(dir.resolve("vmlinuz"), "not really a kernel\n".repeat(100));
    return dir;
  }

  private OciImages store(String name) {
    return new OciImages(tmp.resolve(name), line -> {
      System.out.println("[oci] " + line);
      log.add(line);
    });
  }

  @Test
  void pushThenPull_isByteIdentical_hasTheOrasShape_andASecondPullMovesNoBytes() throws Exception {
    try (RegistryServer registry = RegistryServer.open(tmp.resolve("registry"))) {
      Path image = image(3 << 20);
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/test:v1");
      OciImages.Pushed pushed = store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS);
      assertThat(pushed.layers()).isEqualTo(2);
      assertThat(pushed.bytesUploaded()).isGreaterThan(3 << 20);

      JsonObject m = JsonParser.parseString(get("http://" + registry.address() + "/v2/vmlet/test/manifests/v1")).getAsJsonObject();
      assertThat(m.get("artifactType").getAsString()).isEqualTo(OciArtifact.ARTIFACT_TYPE);
      assertThat(m.getAsJsonObject("config").get("digest").getAsString()).isEqualTo(OciArtifact.EMPTY_DIGEST);
      assertThat(m.getAsJsonArray("layers").asList()).allSatisfy(l -> {
        assertThat(l.getAsJsonObject().get("mediaType").getAsString()).isEqualTo("application/zstd");
        assertThat(l.getAsJsonObject().getAsJsonObject("annotations").get(OciArtifact.TITLE).getAsString()).endsWith(".zst");
      });

      OciImages.Pushed again = store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS);
      assertThat(again.digest()).as("the same image gives the same manifest").isEqualTo(pushed.digest());
      assertThat(again.bytesUploaded()).as("the registry had every blob").isZero();

      OciImages puller = store("pull-cache");
      OciImages.Pulled first = puller.pull(ref, RegistryClient.Options.ANONYMOUS);
      assertThat(first.digest()).isEqualTo(pushed.digest());
      assertThat(Files.readAllBytes(first.dir().resolve("initrd.img"))).isEqualTo(Files.readAllBytes(image.resolve("initrd.img")));
      assertThat(Files.readString(first.dir().resolve("vmlinuz"))).isEqualTo(Files.readString(image.resolve("vmlinuz")));
      assertThat(first.bytesDownloaded()).isGreaterThan(3 << 20);
      OciImages.Pulled second = puller.pull(ref, RegistryClient.Options.ANONYMOUS);
      assertThat(second.bytesDownloaded()).isZero();
      assertThat(second.dir()).isEqualTo(first.dir());
      assertThat(puller.cached(ref)).contains(first.dir());
      assertThat(puller.cached(ref.withDigest(first.digest()))).contains(first.dir());
      OciImages.Pulled byDigest = store("pull-cache-2").pull(ref.withDigest(first.digest()), RegistryClient.Options.ANONYMOUS);
      assertThat(byDigest.digest()).isEqualTo(first.digest());
      assertThat(leftovers(tmp.resolve("pull-cache"))).isEmpty();
    }
  }

  @Test
  void theOrasSdk_pullsWhatVmletPushed_andVmletPullsWhatTheSdkPushed() throws Exception {
    // The ORAS SDK leaves a temporary file per layer it handles (java.io.tmpdir/oras*layer): the
    // ones this test made are deleted at its end, so that runs leave nothing behind.
    Set<Path> before = orasTemporaryFiles();
    try (RegistryServer registry = RegistryServer.open(tmp.resolve("registry"))) {
      Path image = image(2 << 20);
      Registry oras = Registry.builder().insecure().build(); // plain HTTP, as to any loopback registry
      // vmlet pushes; ORAS sees a vmlet artifact and pulls NAME.zst files that zstd -d turns back into the image's.
      String pushedByVmlet = registry.address() + "/vmlet/to-oras:v1";
      store("push-cache").push(image, "micro", OciReference.parse(pushedByVmlet), RegistryClient.Options.ANONYMOUS);
      Manifest manifest = oras.getManifest(ContainerRef.parse(pushedByVmlet));
      assertThat(manifest.getArtifactType().getMediaType()).isEqualTo(OciArtifact.ARTIFACT_TYPE);
      assertThat(manifest.getLayers()).allSatisfy(l -> assertThat(l.getMediaType()).isEqualTo("application/zstd"));
      Path orasOut = Files.createDirectories(tmp.resolve("oras-pull"));
      oras.pullArtifact(ContainerRef.parse(pushedByVmlet), orasOut, true);
      for (String file : List.of("initrd.img", "vmlinuz")) {
        try (InputStream in = new ZstdInputStream(Files.newInputStream(orasOut.resolve(file + ".zst")))) {
          assertThat(in.readAllBytes()).as(file).isEqualTo(Files.readAllBytes(image.resolve(file)));
        }
      }

      // ORAS pushes zstd files with vmlet's artifact type, as `oras push` would; vmlet pulls the image.
      Path orasIn = Files.createDirectories(tmp.resolve("oras-push"));
      List<LocalPath> layers = new ArrayList<>();
      for (String file : List.of("initrd.img", "vmlinuz")) {
        try (OutputStream out = new ZstdOutputStream(Files.newOutputStream(orasIn.resolve(file + ".zst")), 6)) {
          out.write(Files.readAllBytes(image.resolve(file)));
        }
        layers.add(LocalPath.of(orasIn.resolve(file + ".zst"), "application/zstd"));
      }
      String pushedByOras = registry.address() + "/vmlet/from-oras:v1";
      oras.pushArtifact(ContainerRef.parse(pushedByOras), ArtifactType.from(OciArtifact.ARTIFACT_TYPE), Annotations.empty(),
          Config.empty(), layers.toArray(LocalPath[]::new));
      OciImages.Pulled pulled = store("pull-cache").pull(OciReference.parse(pushedByOras), RegistryClient.Options.ANONYMOUS);
      for (String file : List.of("initrd.img", "vmlinuz")) {
        assertThat(Files.readAllBytes(pulled.dir().resolve(file))).as(file).isEqualTo(Files.readAllBytes(image.resolve(file)));
      }
    } finally {
      for (Path leftover : orasTemporaryFiles()) {
        if (!before.contains(leftover)) {
          Files.deleteIfExists(leftover);
        }
      }
    }
  }

  private static Set<Path> orasTemporaryFiles() throws IOException {
    try (var files = Files.newDirectoryStream(Path.of(System.getProperty("java.io.tmpdir")), "oras*layer")) {
      Set<Path> found = new HashSet<>();
      files.forEach(found::add);
      return found;
    }
  }

  @Test
  void aPullCutMidBlob_resumesWithRange_andMovesEveryByteOnce() throws Exception {
    try (RegistryServer registry = RegistryServer.open(tmp.resolve("registry"))) {
      Path image = image(8 << 20);
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/cut:v1");
      store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS);
      try (CuttingProxy proxy = new CuttingProxy(registry.port, 3 << 20)) {
        OciReference viaProxy = OciReference.parse(proxy.address() + "/vmlet/cut:v1");
        OciImages.Pulled pulled = store("pull-cache").pull(viaProxy, RegistryClient.Options.ANONYMOUS);
        System.out.println("requests through the proxy: " + proxy.requests);
        assertThat(proxy.didCut()).isTrue();
        assertThat(proxy.requests).anySatisfy(r -> assertThat(r).startsWith("GET /v2/vmlet/cut/blobs/sha256:").contains("range: bytes="));
        assertThat(log).anySatisfy(l -> assertThat(l).startsWith("resuming "));
        assertThat(Files.readAllBytes(pulled.dir().resolve("initrd.img"))).isEqualTo(Files.readAllBytes(image.resolve("initrd.img")));
        long layerBytes = 0;
        for (OciArtifact.Layer l : OciArtifact.parse(Files.readAllBytes(pulled.dir().resolve("manifest.json"))).layers()) {
          layerBytes += l.size();
        }
        assertThat(pulled.bytesDownloaded()).as("each byte once: the resumed request asked only for the rest").isEqualTo(layerBytes);
        assertThat(leftovers(tmp.resolve("pull-cache"))).isEmpty();
      }
    }
  }

  @Test
  void aBlobCorruptedInTheRegistry_isRefused_andNothingIsKept() throws Exception {
    try (RegistryServer registry = RegistryServer.open(tmp.resolve("registry"))) {
      Path image = image(1 << 20);
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/bad:v1");
      store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS);
      OciImages.Pulled good = store("probe").pull(ref, RegistryClient.Options.ANONYMOUS);
      OciArtifact.Layer big = OciArtifact.parse(Files.readAllBytes(good.dir().resolve("manifest.json"))).layers().stream()
          .filter(l -> l.title().equals("initrd.img.zst")).findFirst().orElseThrow();
      Path data = registry.blobData(big.digest());
      byte[] bytes = Files.readAllBytes(data);
      bytes[bytes.length / 2] ^= 0x5a; // same size, one byte flipped
      Files.write(data, bytes);

      OciImages puller = store("pull-cache");
      assertThatThrownBy(() -> puller.pull(ref, RegistryClient.Options.ANONYMOUS))
          .isInstanceOf(IOException.class).hasMessageContaining(big.digest()).hasMessageContaining("nothing was kept");
      assertThat(puller.cached(ref)).isEmpty();
      assertThat(leftovers(tmp.resolve("pull-cache"))).isEmpty();
      assertThat(Files.exists(tmp.resolve("pull-cache/oci/images"))
          && Files.list(tmp.resolve("pull-cache/oci/images")).findAny().isPresent()).as("no image stored").isFalse();
    }
  }

  @Test
  void basicAuth_refusesNoOrWrongCredentials_sayingWhatToDo_andWorksWithTheRightOnes() throws Exception {
    try (RegistryServer registry = RegistryServer.withHtpasswd(tmp.resolve("registry"), USER, PASSWORD)) {
      Path image = image(64 << 10);
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/private:v1");
      assertThatThrownBy(() -> store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS))
          .hasMessageContaining("needs a user name and password").hasMessageContaining("--username");
      RegistryClient.Options wrong = new RegistryClient.Options(new RegistryClient.Credentials(USER, "nope"), false);
      assertThatThrownBy(() -> store("push-cache").push(image, "micro", ref, wrong))
          .hasMessageContaining("refused the credentials of " + USER);
      RegistryClient.Options right = new RegistryClient.Options(new RegistryClient.Credentials(USER, PASSWORD), false);
      store("push-cache").push(image, "micro", ref, right);
      assertThatThrownBy(() -> store("pull-cache").pull(ref, RegistryClient.Options.ANONYMOUS))
          .hasMessageContaining("needs a user name and password");
      OciImages.Pulled p = store("pull-cache").pull(ref, right);
      assertThat(Files.readAllBytes(p.dir().resolve("initrd.img"))).isEqualTo(Files.readAllBytes(image.resolve("initrd.img")));
    }
  }

  @Test
  void bearerTokenAuth_fetchesATokenWithTheCredentials_andPushesAndPulls() throws Exception {
    try (TokenServer tokens = new TokenServer(tmp.resolve("pki"), USER, PASSWORD);
        RegistryServer registry = RegistryServer.withTokens(tmp.resolve("registry"), tokens.realm(), TokenServer.SERVICE,
            TokenServer.ISSUER, tokens.rootCerts())) {
      Path image = image(64 << 10);
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/token:v1");
      assertThatThrownBy(() -> store("push-cache").push(image, "micro", ref, RegistryClient.Options.ANONYMOUS))
          .hasMessageContaining("token server").hasMessageContaining("refused anonymous access");
      RegistryClient.Options right = new RegistryClient.Options(new RegistryClient.Credentials(USER, PASSWORD), false);
      OciImages.Pushed pushed = store("push-cache").push(image, "micro", ref, right);
      OciImages.Pulled p = store("pull-cache").pull(ref, right);
      assertThat(p.digest()).isEqualTo(pushed.digest());
      assertThat(Files.readAllBytes(p.dir().resolve("initrd.img"))).isEqualTo(Files.readAllBytes(image.resolve("initrd.img")));
      assertThat(tokens.issued.get()).as("tokens the registry accepted").isGreaterThanOrEqualTo(2);
    }
  }

  @Test
  void aMicroVm_bootsFromAnOciImage_pulledByTheDaemon() throws Exception {
    try (TestDaemon daemon = TestDaemon.start(tmp.resolve("daemon"));
        RegistryServer registry = RegistryServer.open(tmp.resolve("registry"))) {
      // A tag of its own, so the daemon's cache (shared with other runs) cannot have it yet.
      String tag = "it-" + System.currentTimeMillis();
      OciReference ref = OciReference.parse(registry.address() + "/vmlet/micro:" + tag);
      store("push-cache").push(TestDaemon.microImage(), "micro", ref, RegistryClient.Options.ANONYMOUS);
      assertThat(new OciImages(daemon.paths.cacheDir(), l -> { }).cached(ref)).isEmpty();

      String name = "it-oci";
      long t0 = System.nanoTime();
      daemon.client.vms().withDeadlineAfter(300, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName(name).setImage(OciReference.SCHEME + ref)).setStart(true).build());
      System.out.printf("create with oci:// (pull of the micro image included): %d ms%n", (System.nanoTime() - t0) / 1_000_000);
      Guests.waitReady(daemon.client, name);
      assertThat(Guests.sh(daemon.client, name, "uname -s").strip()).isEqualTo("Linux");
      Path pulled = new OciImages(daemon.paths.cacheDir(), l -> { }).cached(ref).orElseThrow();
      assertThat(Files.readAllBytes(pulled.resolve("vmlinuz"))).isEqualTo(Files.readAllBytes(TestDaemon.microImage().resolve("vmlinuz")));
      daemon.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
          .deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    }
  }

  /** Partial blobs and staging directories left in a cache. */
  private static List<Path> leftovers(Path cache) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String d : List.of("oci/blobs", "oci/tmp")) {
      Path p = cache.resolve(d);
      if (Files.exists(p)) {
        try (Stream<Path> s = Files.walk(p)) {
          s.filter(f -> !f.equals(p) && !Files.isDirectory(f) || f.getParent().equals(cache.resolve("oci/tmp"))).forEach(out::add);
        }
      }
    }
    return out;
  }

  private static String get(String url) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
        .header("Accept", OciArtifact.MANIFEST_TYPE).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(url).isEqualTo(200);
    return r.body();
  }
}
