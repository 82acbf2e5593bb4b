package dev.vmlet.image;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import dev.vmlet.fs.FileTrees;
import dev.vmlet.spec.OciReference;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Images in an OCI registry (see {@link OciArtifact} for their shape) and their cache under
 * {@code CACHE/oci}:
 *
 * <pre>
 * oci/images/sha256-HEX/      one pulled image per manifest digest: its files, decompressed, and manifest.json
 * oci/refs/REGISTRY/REPO/TAG  the manifest digest the tag had when it was last pulled
 * oci/blobs/sha256/HEX.partial a layer being downloaded; a cut pull resumes from its length
 * oci/tmp/                    staging; what a failed push or pull leaves there is deleted
 * </pre>
 *
 * A pull asks the registry for the manifest only; when an image of that digest is already here
 * it moves no blob. Every blob is checked against its digest before it is used.
 */
public final class OciImages {
  /** How many times one pull tries a cut blob again, each time from where it was cut. */
  static final int BLOB_ATTEMPTS = 5;
  /** A layer that inflates past this is refused (a registry is not trusted with the host's disk). */
  static final long MAX_FILE_BYTES = 64L << 30;
  static final String MANIFEST_FILE = "manifest.json";
  /** Fast and still 2-3x on kernels and disks; the same level gives the same blob, so a second push moves nothing. */
  static final int ZSTD_LEVEL = 6;

  private static final Object PULLS = new Object();
  private final Path root;
  private final Consumer<String> progress;
  private volatile Duration bodyIdle = RegistryClient.BODY_IDLE;

  /** @param cacheDir the image cache ({@code VmletPaths.cacheDir()}); the store is its {@code oci} directory */
  public OciImages(Path cacheDir, Consumer<String> progress) {
    this.root = cacheDir.resolve("oci");
    this.progress = progress;
  }

  /** How long a registry's response body may send nothing before the attempt is given up (tests shorten it). */
  void bodyIdle(Duration d) {
    bodyIdle = d;
  }

  /** What a push did: the manifest's digest and the bytes uploaded (0 when the registry had every blob). */
  public record Pushed(OciReference ref, String digest, long bytesUploaded, int layers) {}

  /** What a pull did: the image's directory, its digest and the bytes downloaded (0 when it was cached). */
  public record Pulled(OciReference ref, String digest, Path dir, long bytesDownloaded) {}

  /**
   * Pushes every file of {@code imageDir} (a complete image of the cache) as one layer each, then
   * the manifest under {@code ref}'s tag. Blobs the registry has are not sent again.
   */
  public Pushed push(Path imageDir, String imageName, OciReference ref, RegistryClient.Options options) throws IOException {
    if (ref.tag() == null) {
      throw new IllegalArgumentException("push to a tag (REGISTRY/REPOSITORY:TAG), not to a digest");
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(imageDir)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    }
    RegistryClient registry = new RegistryClient(ref, options, true, bodyIdle);
    Path staging = staging("push-");
    try {
      long uploaded = 0;
      if (!registry.hasBlob(OciArtifact.EMPTY_DIGEST)) {
        Path empty = Files.write(staging.resolve("config.json"), OciArtifact.EMPTY);
        registry.pushBlob(OciArtifact.EMPTY_DIGEST, empty);
        uploaded += OciArtifact.EMPTY.length;
      }
      List<OciArtifact.Layer> layers = new ArrayList<>();
      for (Path f : files) {
        Path z = staging.resolve(f.getFileName() + ".zst");
        MessageDigest md = Digests.sha256();
        try (InputStream in = Files.newInputStream(f);
            OutputStream out = new ZstdOutputStream(new DigestOutputStream(Files.newOutputStream(z), md), ZSTD_LEVEL)) {
          in.transferTo(out);
        }
        OciArtifact.Layer layer = new OciArtifact.Layer(z.getFileName().toString(), Digests.of(md), Files.size(z));
        if (registry.hasBlob(layer.digest())) {
          progress.accept(layer.title() + ": the registry has it (" + RegistryClient.short12(layer.digest()) + ")");
        } else {
          progress.accept(layer.title() + ": uploading " + layer.size() + " bytes (" + Files.size(f) + " before zstd)");
          registry.pushBlob(layer.digest(), z);
          uploaded += layer.size();
        }
        layers.add(layer);
        Files.delete(z);
      }
      Map<String, String> annotations = new TreeMap<>();
      annotations.put(OciArtifact.IMAGE_NAME, imageName);
      ImageBuilder.builtAt(imageDir).ifPresent(t -> annotations.put(OciArtifact.CREATED, t));
      String digest = registry.putManifest(ref.tag(), OciArtifact.manifest(layers, annotations));
      return new Pushed(ref, digest, uploaded, layers.size());
    } finally {
      FileTrees.deleteTree(staging);
    }
  }

  /** A tag pulled into the cache: what it named at its last pull, and where that image is. */
  public record CachedTag(String reference, String digest, Path dir) {}

  /** Every tag pulled into the cache whose image is still there, sorted by reference. */
  public List<CachedTag> tags() throws IOException {
    Path refs = root.resolve("refs");
    List<CachedTag> out = new ArrayList<>();
    if (!Files.isDirectory(refs)) {
      return out;
    }
    try (Stream<Path> s = Files.walk(refs)) {
      for (Path f : s.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).sorted().toList()) {
        Path rel = refs.relativize(f);
        String digest = Files.readString(f).strip();
        Path dir = imageDir(digest);
        if (OciReference.DIGEST.matcher(digest).matches() && Files.isRegularFile(dir.resolve(MANIFEST_FILE))) {
          String repo = rel.subpath(1, rel.getNameCount() - 1).toString();
          out.add(new CachedTag(rel.getName(0) + "/" + repo + ":" + rel.getFileName(), digest, dir));
        }
      }
    }
    return out;
  }

  /** The image {@code ref} names when it is in the cache, without asking the registry. */
  public Optional<Path> cached(OciReference ref) throws IOException {
    String digest = ref.digest();
    if (digest == null) {
      Path tag = tagFile(ref);
      if (!Files.isRegularFile(tag)) {
        return Optional.empty();
      }
      digest = Files.readString(tag).strip();
    }
    Path dir = imageDir(digest);
    return Files.isRegularFile(dir.resolve(MANIFEST_FILE)) ? Optional.of(dir) : Optional.empty();
  }

  /**
   * Fetches the manifest {@code ref} names and, unless an image of that digest is cached, its
   * layers, each checked against its digest, into {@code oci/images/sha256-HEX}. A layer cut
   * mid-way is fetched again from where it was cut (HTTP Range), here and by a later pull.
   */
  public Pulled pull(OciReference ref, RegistryClient.Options options) throws IOException {
    // One pull at a time in this process: two VMs created at once from one new tag would otherwise
    // write the same .partial; the second now finds the image cached.
    synchronized (PULLS) {
      return pullAlone(ref, options);
    }
  }

  private Pulled pullAlone(OciReference ref, RegistryClient.Options options) throws IOException {
    RegistryClient registry = new RegistryClient(ref, options, false, bodyIdle);
    RegistryClient.Manifest manifest = registry.manifest();
    OciArtifact.Parsed parsed = OciArtifact.parse(manifest.bytes());
    Path dir = imageDir(manifest.digest());
    long moved = 0;
    if (Files.isRegularFile(dir.resolve(MANIFEST_FILE))) {
      progress.accept(ref + ": " + manifest.digest() + " is cached; nothing to download");
    } else {
      Path staging = staging("pull-");
      try {
        for (OciArtifact.Layer layer : parsed.layers()) {
          Fetched blob = fetchBlob(registry, layer);
          moved += blob.moved();
          inflate(blob.file(), staging.resolve(layer.fileName()), layer);
          Files.delete(blob.file());
        }
        Files.write(staging.resolve(MANIFEST_FILE), manifest.bytes());
        // A root daemon's QEMU runs as an unprivileged user, which must read the kernel and initramfs.
        Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(dir.getParent());
        try {
          Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
          progress.accept(ref + ": another pull stored " + manifest.digest() + " first");
        }
      } finally {
        FileTrees.deleteTree(staging);
      }
    }
    if (ref.tag() != null) {
      writeAtomically(tagFile(ref), manifest.digest() + "\n");
    }
    return new Pulled(ref, manifest.digest(), dir, moved);
  }

  private record Fetched(Path file, long moved) {}

  /** Downloads one layer to {@code blobs/sha256/HEX.partial}, resuming when cut; checks its digest. */
  private Fetched fetchBlob(RegistryClient registry, OciArtifact.Layer layer) throws IOException {
    String hex = layer.digest().substring("sha256:".length());
    Path partial = Files.createDirectories(root.resolve("blobs/sha256")).resolve(hex + ".partial");
    long[] moved = {0};
    IOException last = null;
    for (int attempt = 1; attempt <= BLOB_ATTEMPTS; attempt++) {
      long have = Files.exists(partial) ? Files.size(partial) : 0;
      if (have >= layer.size()) {
        break;
      }
      try {
        registry.fetchBlobOnce(layer.digest(), layer.size(), partial, progress, n -> moved[0] += n);
        last = null;
      } catch (IOException e) {
        last = e;
        progress.accept(layer.title() + ": cut after " + (Files.exists(partial) ? Files.size(partial) : 0) + " of "
            + layer.size() + " bytes (" + e.getMessage() + "); attempt " + attempt + " of " + BLOB_ATTEMPTS);
      }
    }
    long have = Files.exists(partial) ? Files.size(partial) : 0;
    if (have < layer.size()) {
      throw new IOException("could not fetch " + layer.title() + " (" + layer.digest() + ") in " + BLOB_ATTEMPTS + " attempts; "
          + have + " of " + layer.size() + " bytes are kept and the next pull resumes from there"
          + (last == null ? "" : ": " + last.getMessage()), last);
    }
    String got = Digests.sha256(partial);
    if (have != layer.size() || !got.equals(layer.digest())) {
      Files.delete(partial);
      throw new IOException("the registry sent " + layer.title() + " with digest " + got + " and " + have + " bytes, but the manifest says "
          + layer.digest() + " and " + layer.size() + " bytes; nothing was kept, and the image is not stored");
    }
    progress.accept(layer.title() + ": " + layer.size() + " bytes, digest checked");
    return new Fetched(partial, moved[0]);
  }

  private static void inflate(Path blob, Path out, OciArtifact.Layer layer) throws IOException {
    try (InputStream in = new ZstdInputStream(Files.newInputStream(blob)); OutputStream o = Files.newOutputStream(out)) {
      byte[] buf = new byte[1 << 16];
      long total = 0;
      for (int n; (n = in.read(buf)) > 0; ) {
        total += n;
        if (total > MAX_FILE_BYTES) {
          throw new IOException(layer.title() + " inflates past " + (MAX_FILE_BYTES >> 30) + " GiB; refusing it");
        }
        o.write(buf, 0, n);
      }
    } catch (IOException e) {
      throw new IOException(layer.title() + " (" + layer.digest() + ") is not valid zstd: " + e.getMessage(), e);
    }
  }

  private Path imageDir(String digest) {
    return root.resolve("images").resolve(digest.replace(':', '-'));
  }

  private Path tagFile(OciReference ref) {
    return root.resolve("refs").resolve(ref.registry()).resolve(ref.repository()).resolve(ref.tag());
  }

  private Path staging(String prefix) throws IOException {
    return Files.createTempDirectory(Files.createDirectories(root.resolve("tmp")), prefix);
  }

  private void writeAtomically(Path file, String text) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = Files.createTempFile(file.getParent(), ".tag-", ".tmp");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
