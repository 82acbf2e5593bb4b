package dev.vmlet.disk;

import com.google.gson.JsonParser;
import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import dev.vmlet.spec.SnapshotInfo;

/**
 * Runs {@code qemu-img}: format detection and qcow2 overlays. Every call is bounded by
 * {@link #TIMEOUT}; a failed one is an IOException naming the command and what qemu-img said.
 */
public final class QemuImg {
  static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final String binary;
  private final List<String> prefix;
  private final ProcessRunner runner;

  public QemuImg(String binary) {
    this(List.of(), binary, ProcessRunner.system());
  }

  public QemuImg(String binary, ProcessRunner runner) {
    this(List.of(), binary, runner);
  }

  /** The qemu-img that comes with a QEMU binary: in its directory, or from PATH when it has none. */
  public static String beside(String qemuBinary) {
    Path dir = Path.of(qemuBinary).getParent();
    return dir == null ? "qemu-img" : dir.resolve("qemu-img").toString();
  }

  /** @param prefix programs in front of qemu-img, e.g. {@code setpriv} to run it as another user */
  public QemuImg(List<String> prefix, String binary) {
    this(prefix, binary, ProcessRunner.system());
  }

  public QemuImg(List<String> prefix, String binary, ProcessRunner runner) {
    this.prefix = List.copyOf(prefix);
    this.binary = binary;
    this.runner = runner;
  }

  /** What qemu-img reads of an image: its format, virtual size, and the files of its backing chain. */
  public record ImageInfo(String format, long virtualSize, List<Path> backingFiles) {}

  /**
   * One qemu-img run, readable even while a VM uses the image. The backing files are those QEMU
   * opens too: the image's backing file, that file's backing file, and so on, as absolute paths
   * (none for an image without one). A chain with a file missing is an error.
   */
  public ImageInfo info(Path image) throws IOException {
    String out = run(List.of(binary, "info", "--backing-chain", "--output=json", "-U", image.toString()));
    try {
      var chain = JsonParser.parseString(out).getAsJsonArray();
      var top = chain.get(0).getAsJsonObject();
      List<Path> backing = new ArrayList<>();
      for (var e : chain) {
        var o = e.getAsJsonObject();
        if (o.has("full-backing-filename")) {
          backing.add(Path.of(o.get("full-backing-filename").getAsString()));
        }
      }
      return new ImageInfo(top.get("format").getAsString(), top.get("virtual-size").getAsLong(), backing);
    } catch (RuntimeException e) {
      throw new IOException("qemu-img info " + image + " gave no format and size: " + out.strip());
    }
  }

  /**
   * One file of an image, read without opening its backing file: its format, and the files it
   * makes QEMU open besides itself (absolute, or as written when not a plain path such as
   * {@code json:{...}}), or null.
   */
  public record Layer(String format, String backingFile, String dataFile) {}

  /** @see Layer */
  public Layer layer(Path image) throws IOException {
    String out = run(List.of(binary, "info", "--output=json", "-U", image.toString()));
    try {
      var o = JsonParser.parseString(out).getAsJsonObject();
      String backing = o.has("full-backing-filename") ? o.get("full-backing-filename").getAsString() : null;
      var specific = o.has("format-specific") ? o.getAsJsonObject("format-specific").getAsJsonObject("data") : null;
      String data = specific != null && specific.has("data-file") ? specific.get("data-file").getAsString() : null;
      return new Layer(o.get("format").getAsString(), besides(image, backing), besides(image, data));
    } catch (RuntimeException e) {
      throw new IOException("qemu-img info " + image + " gave no format: " + out.strip());
    }
  }

  /** A file named inside an image, relative to the image's directory as QEMU reads it. */
  private static String besides(Path image, String named) {
    if (named == null || named.startsWith("/") || named.contains(":")) {
      return named;
    }
    Path dir = image.toAbsolutePath().getParent();
    return (dir == null ? Path.of(named) : dir.resolve(named)).toString();
  }

  /** The format of an image ("qcow2", "raw", ...). */
  public String format(Path image) throws IOException {
    return info(image).format();
  }

  /**
   * Creates a qcow2 file; with a base it is an overlay that only reads the base.
   *
   * @param sizeMib 0 keeps the base's size
   */
  public void create(Path file, Path base, String baseFormat, long sizeMib) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(binary, "create", "-q", "-f", "qcow2"));
    if (base != null) {
      cmd.addAll(List.of("-b", base.toString(), "-F", baseFormat));
    }
    cmd.add(file.toString());
    if (sizeMib > 0) {
      cmd.add(sizeMib + "M");
    }
    run(cmd);
  }

  /** The virtual size of an image in bytes. */
  public long virtualSize(Path image) throws IOException {
    return info(image).virtualSize();
  }

  /** Grows an image that no VM uses. */
  public void resize(Path image, long sizeMib) throws IOException {
    run(List.of(binary, "resize", "-q", image.toString(), sizeMib + "M"));
  }

  /**
   * Copies a qcow2 image and its backing chain into one standalone qcow2 file; {@code -U}: a paused
   * VM's QEMU still holds the image's lock, and a paused VM writes nothing.
   */
  public void flatten(Path image, Path qcow2) throws IOException {
    run(List.of(binary, "convert", "-q", "-U", "-O", "qcow2", image.toString(), qcow2.toString()));
  }

  /** Copies a raw image into a new qcow2 file. */
  public void convertToQcow2(Path raw, Path qcow2) throws IOException {
    run(List.of(binary, "convert", "-q", "-f", "raw", "-O", "qcow2", raw.toString(), qcow2.toString()));
  }

  /** The internal snapshots of a qcow2 file (readable while a VM uses it). */
  public List<SnapshotInfo> snapshots(Path image) throws IOException {
    String out = run(List.of(binary, "info", "--output=json", "-U", image.toString()));
    List<SnapshotInfo> list = new ArrayList<>();
    try {
      var info = JsonParser.parseString(out).getAsJsonObject();
      if (info.has("snapshots")) {
        for (var e : info.getAsJsonArray("snapshots")) {
          var o = e.getAsJsonObject();
          list.add(new SnapshotInfo(o.get("name").getAsString(),
              o.get("date-sec").getAsLong() * 1000 + o.get("date-nsec").getAsLong() / 1_000_000,
              o.get("vm-state-size").getAsLong()));
        }
      }
    } catch (RuntimeException e) {
      throw new IOException("cannot read the snapshots of " + image + ": " + e.getMessage());
    }
    return list;
  }

  /**
   * Offline snapshot operation on a qcow2 file that no VM uses: {@code -c} create, {@code -a}
   * apply, {@code -d} delete.
   */
  public void snapshot(Path image, String op, String name) throws IOException {
    run(List.of(binary, "snapshot", op, name, image.toString()));
  }

  /** What it printed on stdout; stderr (warnings) stays out of the JSON that callers parse. */
  private String run(List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(args);
    return runner.run(ProcessRequest.of(TIMEOUT, cmd)).requireSuccess().stdout();
  }
}
