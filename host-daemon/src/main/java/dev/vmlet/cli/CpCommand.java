package dev.vmlet.cli;

import dev.vmlet.common.files.FileModes;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.FileClient;
import dev.vmlet.proto.v1.FileInfo;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PushFileHeader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "cp", mixinStandardHelpOptions = true,
    description = {"Copy a file (or with -r a directory tree) into or out of a VM through its agent, checked with SHA-256 end to end.",
        "One side is NAME:/absolute/path in the guest, the other a local path, or - for stdin/stdout.",
        "Nothing appears at a file's destination unless the whole file arrived intact.",
        "Examples: vmlet cp ./app.tar web1:/tmp/app.tar    vmlet cp web1:/etc/os-release -    vmlet cp -r ./site web1:/srv/site"})
final class CpCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @picocli.CommandLine.Option(names = {"-r", "--recursive"},
      description = "Copy a directory tree: DST is created (with its parents) and gets SRC's contents, modes and mtimes.")
  boolean recursive;

  @picocli.CommandLine.Option(names = {"-p", "--preserve-owner"},
      description = "Keep files' numeric owner and group (uid:gid): set in the guest (its agent runs as root) or here (as root).")
  boolean preserveOwner;

  @picocli.CommandLine.Option(names = "--resume",
      description = "Into a VM: continue a copy to DST that was interrupted (a lost link, a stopped daemon); only the missing bytes are sent.")
  boolean resume;

  @Parameters(index = "0", paramLabel = "SRC")
  String src;

  @Parameters(index = "1", paramLabel = "DST")
  String dst;

  /** NAME:/path, or null when the argument is local. */
  record Remote(String vm, String path) {
    static Remote parse(String arg) {
      int colon = arg.indexOf(':');
      if (colon <= 0 || arg.startsWith("/") || arg.startsWith(".")) {
        return null;
      }
      String path = arg.substring(colon + 1);
      if (!path.startsWith("/")) {
        throw new CliException(arg + ": the guest path must be absolute (NAME:/path)");
      }
      return new Remote(arg.substring(0, colon), path);
    }
  }

  @Override
  public Integer call() throws Exception {
    Remote from = Remote.parse(src);
    Remote to = Remote.parse(dst);
    if ((from == null) == (to == null)) {
      throw new CliException("exactly one of SRC and DST must be NAME:/path in a VM");
    }
    try (DaemonClient c = client.connect()) {
      if (recursive) {
        long[] n = to != null ? TreeCopy.push(c, Path.of(src), to.vm(), to.path(), preserveOwner)
            : TreeCopy.pull(c, from.vm(), from.path(), Path.of(dst), preserveOwner);
        System.err.println("copied " + n[0] + " files (" + n[1] + " bytes) and " + n[2] + " directories, each file checked with sha256");
        return 0;
      }
      if (resume && to == null) {
        throw new CliException("--resume continues copies into a VM only");
      }
      FileTransferResult r = to != null ? push(c, src, to, resume, preserveOwner) : pull(c, from, dst, preserveOwner);
      System.err.println("copied " + r.getSize() + " bytes, sha256 " + r.getSha256()
          + (r.getResumedFrom() > 0 ? " (resumed: the VM had the first " + r.getResumedFrom() + " bytes)" : ""));
      return 0;
    }
  }

  static FileTransferResult push(DaemonClient c, String local, Remote to, boolean resume, boolean preserveOwner) throws Exception {
    PushFileHeader.Builder h = PushFileHeader.newBuilder().setName(to.vm()).setPath(to.path()).setResume(resume);
    if (local.equals("-")) {
      return FileClient.push(c, h.build(), System.in, null, -1);
    }
    Path p = Path.of(local);
    if (!Files.isRegularFile(p)) {
      throw new CliException(local + " does not exist or is not a regular file");
    }
    try {
      h.setMode(FileModes.bits(Files.getPosixFilePermissions(p)));
    } catch (UnsupportedOperationException e) {
      // no POSIX modes here: the guest uses 0644
    }
    h.setMtimeUnixMs(Files.getLastModifiedTime(p).toMillis());
    if (preserveOwner) {
      Owners.copyTo(h, p);
    }
    try (InputStream in = Files.newInputStream(p)) {
      return FileClient.push(c, h.build(), in, null, -1);
    } catch (IOException e) {
      throw new CliException("reading " + local + " failed: " + e.getMessage() + "; nothing was written in the VM");
    }
  }

  /** Into a temporary file next to the target, renamed only when the digest matched. */
  static FileTransferResult pull(DaemonClient c, Remote from, String local, boolean preserveOwner) throws Exception {
    if (local.equals("-")) {
      FileTransferResult r = FileClient.pull(c, from.vm(), from.path(), System.out, i -> { });
      System.out.flush();
      return r;
    }
    Path target = Path.of(local);
    if (Files.isDirectory(target)) {
      target = target.resolve(Path.of(from.path()).getFileName());
    }
    Path temp = Files.createTempFile(target.toAbsolutePath().getParent(), "." + target.getFileName() + ".", ".vmlet-part");
    try {
      FileInfo[] info = new FileInfo[1];
      FileTransferResult r;
      try (OutputStream out = Files.newOutputStream(temp)) {
        r = FileClient.pull(c, from.vm(), from.path(), out, i -> info[0] = i);
      } catch (IOException e) {
        throw new CliException(e.getMessage() + "; nothing was written to " + target);
      }
      if (info[0] != null) {
        try {
          Files.setPosixFilePermissions(temp, FileModes.permissions(info[0].getMode()));
        } catch (UnsupportedOperationException ignored) {
          // no POSIX modes here
        }
        Files.setLastModifiedTime(temp, FileTime.fromMillis(info[0].getMtimeUnixMs()));
        if (preserveOwner) {
          Owners.set(temp, info[0].getUid(), info[0].getGid());
        }
      }
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return r;
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
