package dev.vmlet.vm;

import dev.vmlet.fs.FileTrees;
import dev.vmlet.qemu.MigrationStream;
import dev.vmlet.qemu.QemuLauncher;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qemu.QemuSandbox;
import dev.vmlet.qemu.QemuUser;
import dev.vmlet.qemu.TemplateMemory;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.VmConfig;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * Splits a template's full migration stream into its memory file ({@link TemplateMemory}) and a
 * stream of the device state alone, with a short-lived helper QEMU of the template's machine shape:
 * started paused ({@code -S -incoming defer}) with its RAM in the memory file mapped shared, it
 * loads the full stream (so QEMU writes the guest's RAM into the file; pages that are zero stay
 * holes), then migrates out with {@code x-ignore-shared} into the device state, and quits. The
 * helper's guest never runs. Whatever happens, the helper QEMU is ended and its run directory removed;
 * the caller removes the files it asked for when it fails.
 */
final class TemplateRamFile {
  private static final Logger LOG = Logger.getLogger(TemplateRamFile.class.getName());
  private static final Duration BOUND = Duration.ofMinutes(5);
  private static final Duration QUIT_BOUND = Duration.ofSeconds(30);

  /** The command line of a QEMU for {@code config}, its files made ({@link LaunchPlanner#plan} of a start). */
  interface Planner {
    List<String> argv(VmConfig config, String instanceId, VmFiles files) throws IOException;
  }

  private final Planner planner;
  private final QemuLauncher launcher;
  private final Path runRoot;

  /** @param runRoot where the helper's sockets go (the daemon's run directory: short paths) */
  TemplateRamFile(Planner planner, QemuLauncher launcher, Path runRoot) {
    this.planner = planner;
    this.launcher = launcher;
    this.runRoot = runRoot;
  }

  /**
   * @param config the template's machine, its disks where they are now
   * @param instanceId the source VM's (the helper's NIC gets the same MAC; nothing of it reaches a clone)
   * @param backendId the source VM's RAM backend ({@link TemplateMemory#defaultRamBackend})
   * @param fullState the stream saved from the source VM
   * @param memory the memory file to write (must not exist)
   * @param state where the device state goes
   * @param template the template being written, whose kernel, initrd and SSH key (a cloud image's) the helper's
   *     command line needs
   * @return the bytes of the device state
   */
  long split(VmConfig config, String instanceId, String backendId, Path fullState, Path memory, Path state, Path template)
      throws IOException {
    Path run = runRoot.resolve("tpl-" + UUID.randomUUID().toString().substring(0, 8));
    VmFiles files = new VmFiles(run, run.resolve("files"));
    QemuUser user = QemuSandbox.user().orElse(null);
    ProcessHandle qemu = null;
    boolean quit = false;
    try {
      Files.createDirectories(files.stateDir());
      LaunchPlanner.takeCloudFiles(template, files);
      // Made by the daemon (sparse, 0600: it is the guest's RAM) and handed over: QEMU's user may not create files in
      // the template's directory.
      Files.createFile(memory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      try (RandomAccessFile f = new RandomAccessFile(memory.toFile(), "rw")) {
        f.setLength(config.memoryMib() << 20);
      }
      if (user != null) {
        user.handOver(memory);
      }
      List<String> argv = new ArrayList<>(planner.argv(config, instanceId, files));
      argv.addAll(TemplateMemory.backend(backendId, config.memoryMib(), memory, true));
      argv.addAll(List.of("-S", "-incoming", "defer")); // the guest never runs: its RAM is the saved one
      long t0 = System.nanoTime();
      qemu = launcher.launch(argv, files, BOUND);
      try (QmpClient qmp = QmpClient.connect(files.qmpSocket(), Duration.ofSeconds(10), e -> { }, () -> { })) {
        MigrationStream.load(qmp, files.migrationSocket(), fullState, BOUND);
        long loaded = System.nanoTime();
        TemplateMemory.ignoreShared(qmp);
        long bytes = MigrationStream.save(qmp, files.migrationSocket(), state, user, BOUND);
        LOG.info("template memory: helper QEMU (pid " + qemu.pid() + ") loaded " + Files.size(fullState) + " bytes in "
            + (loaded - t0) / 1_000_000 + " ms and saved the device state, " + bytes + " bytes, in "
            + (System.nanoTime() - loaded) / 1_000_000 + " ms");
        try {
          qmp.execute("quit", null, Duration.ofSeconds(10));
        } catch (IOException e) {
          // QEMU may close QMP before it answers: its exit below is what counts
        }
        quit = true;
        return bytes;
      }
    } finally {
      if (qemu != null && !(quit && QemuProcess.awaitExit(qemu, QUIT_BOUND))) {
        qemu.destroyForcibly();
        QemuProcess.awaitExit(qemu, QUIT_BOUND);
      }
      FileTrees.deleteTree(run);
    }
  }

  /**
   * The bytes {@code file} takes on disk (its allocated blocks, as {@code du} counts them); Java's
   * file attributes do not give st_blocks.
   */
  static long allocated(Path file) throws IOException {
    Process p = new ProcessBuilder("du", "--block-size=1", "--", file.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    try {
      if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("du " + file + " failed: " + out);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while measuring " + file, e);
    }
    try {
      return Long.parseLong(out.split("\\s+")[0]);
    } catch (NumberFormatException e) {
      throw new IOException("du " + file + " answered '" + out + "'", e);
    }
  }
}
