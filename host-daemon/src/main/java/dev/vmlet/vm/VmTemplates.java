package dev.vmlet.vm;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.fs.FileTrees;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.qemu.MigrationStream;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qemu.QemuSandbox;
import dev.vmlet.qemu.TemplateMemory;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.TemplateInfo;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.spec.VmException.Kind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Templates ({@code <state>/templates/NAME/}): the saved state of a running VM whose agent was
 * ready, its disks flattened and frozen read-only ({@code disks/}), and {@code template.json} (what
 * it is and the config clones copy). The state is the guest's RAM in {@code memory} (a sparse file
 * that clones map copy-on-write, {@link TemplateMemory}) and the device state in {@code state.bin}
 * (QEMU's migration stream without that RAM); a VM whose RAM is not QEMU's default (hugepages, the
 * memfd of virtiofs shares) and a template made before this keep the RAM in {@code state.bin},
 * which each clone then loads whole. A template is written into a hidden directory renamed into
 * place when complete: a failed create leaves nothing. The source VM is paused while it is saved
 * and runs on afterwards.
 */
final class VmTemplates {
  private static final Logger LOG = Logger.getLogger(VmTemplates.class.getName());
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  private static final Duration SAVE_BOUND = Duration.ofMinutes(5);

  /**
   * What template.json holds.
   *
   * @param memory the guest's RAM in a file of its own; null: in the state stream
   */
  record Stored(TemplateInfo info, VmConfig config, SharedMemory memory) {}

  /**
   * A template's RAM file ({@link TemplateMemory#FILE}).
   *
   * @param backendId the RAM backend's id, which names the RAM block in the device state
   * @param bytes the file's size (the guest's RAM)
   * @param allocatedBytes what it takes on disk: the pages that were zero are holes
   */
  record SharedMemory(String backendId, long bytes, long allocatedBytes) {}

  private final Path root;
  private final VmTable vms;
  private final QemuImg qemuImg;
  private final String qemuBinary;
  private final Clock clock;
  private final TemplateRamFile ramFile;
  private volatile String qemuVersion;

  VmTemplates(Path root, VmTable vms, QemuImg qemuImg, String qemuBinary, Clock clock, TemplateRamFile ramFile) {
    this.root = root;
    this.vms = vms;
    this.qemuImg = qemuImg;
    this.qemuBinary = qemuBinary;
    this.clock = clock;
    this.ramFile = ramFile;
  }

  Path dirOf(String name) {
    return root.resolve(name);
  }

  /**
   * Saves {@code vm} as template {@code name}; the VM keeps running. Unless {@code prep} is NONE,
   * first waits (bounded, outside the VM's lock) for its agent's native set-up, then for WARM runs
   * execs to warm it ({@link AgentSetupWait}).
   */
  TemplateInfo create(VmRuntime vm, String name, AgentPrep prep) {
    validateName(name);
    Path dir = dirOf(name);
    if (Files.exists(dir)) {
      throw new VmException(Kind.ALREADY_EXISTS, "a template named '" + name + "' already exists (see: vmlet template list)");
    }
    String setup = "the agent's native set-up not waited for (asked so)";
    int warmUpExecs = 0;
    if (prep != AgentPrep.NONE) {
      synchronized (vm) {
        refuseUnsaveable(vm, vm.record()); // what cannot be saved is refused before the wait, not after it
      }
      AgentLink link = vm.now().readyAgent();
      if (link == null) {
        setup = "no agent link to wait on";
      } else {
        AgentSetupWait.Outcome o = AgentSetupWait.prepare(AgentSetupWait.over(link), clock, d -> Thread.sleep(d.toMillis()),
            prep == AgentPrep.WARM);
        setup = o.describe();
        warmUpExecs = o.warmUpExecs();
      }
    }
    synchronized (vm) {
      VmRecord r = vm.record();
      Hello hello = refuseUnsaveable(vm, r);
      // Its own hidden directory: two creates of one name never write into each other's.
      Path tmp = root.resolve("." + name + "." + UUID.randomUUID() + ".tmp");
      try {
        FileTrees.deleteTree(tmp);
        Files.createDirectories(tmp.resolve("disks"));
        Path state = tmp.resolve("state.bin");
        Path full = tmp.resolve(".full-state.bin");
        String backendId = saveSource(vm, r, full, tmp.resolve("disks"));
        if (r.config().attachesSeed()) {
          keepCloudFiles(vm, tmp);
        }
        List<DiskConfig> frozen = new ArrayList<>();
        List<DiskConfig> disks = new ArrayList<>();
        for (DiskConfig d : r.config().disks()) {
          frozen.add(new DiskConfig(d.name(), tmp.resolve("disks").resolve(d.name() + ".qcow2").toString(), 0, false));
          disks.add(new DiskConfig(d.name(), dir.resolve("disks").resolve(d.name() + ".qcow2").toString(), 0, false));
        }
        SharedMemory memory = null;
        long stateBytes;
        if (backendId != null) {
          Path memoryFile = tmp.resolve(TemplateMemory.FILE);
          stateBytes = ramFile.split(templateConfig(r.config(), "template-helper", frozen), r.instanceId(), backendId, full,
              memoryFile, state, tmp);
          Files.delete(full);
          memory = new SharedMemory(backendId, Files.size(memoryFile), TemplateRamFile.allocated(memoryFile));
        } else {
          Files.move(full, state, StandardCopyOption.ATOMIC_MOVE);
          stateBytes = Files.size(state);
        }
        TemplateInfo info = new TemplateInfo(name, vm.name(), r.config().image(), r.config().vcpus(), r.config().memoryMib(),
            r.config().platform().machine(), qemuVersion(), clock.millis(), stateBytes, 0, hello.getGuest().getOsRelease(),
            hello.getGuest().getKernel(), hello.getGuest().getHostname(), warmUpExecs, List.of());
        Files.writeString(tmp.resolve("template.json"), GSON.toJson(new Stored(info, templateConfig(r.config(), r.config().name(),
            disks), memory)), StandardCharsets.UTF_8);
        try {
          Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
          throw new VmException(Kind.ALREADY_EXISTS, "a template named '" + name + "' was made meanwhile; nothing of this one was kept");
        }
        LOG.info("template " + name + ": saved from VM " + vm.name() + " (" + r.instanceId() + "), device state " + stateBytes
            + " bytes, " + (memory == null ? "RAM in the state" : "RAM in a file of " + memory.bytes() + " bytes, "
            + memory.allocatedBytes() + " allocated") + "; " + setup);
        return get(name);
      } catch (IOException | RuntimeException e) {
        FileTrees.deleteTree(tmp);
        if (e instanceof VmException ve) {
          throw ve;
        }
        throw new VmException(Kind.INTERNAL, "cannot make template '" + name + "' from VM '" + vm.name() + "': " + e.getMessage()
            + "; nothing was kept", e);
      }
    }
  }

  /**
   * Saves the VM's whole state into {@code full} and its disks, flattened, into {@code disks}, while
   * the guest is paused; it runs on after, whatever happened.
   *
   * @return the id of its RAM backend when a template can keep the RAM in a file; else null
   */
  private String saveSource(VmRuntime vm, VmRecord r, Path full, Path disks) throws IOException {
    QmpClient qmp = vm.now().qmp();
    AgentLinkPause pause = new AgentLinkPause(vm);
    try {
      qmp.execute("stop", null, VmManager.QMP_TIMEOUT);
      pause.pause();
      MigrationStream.save(qmp, vm.files.migrationSocket(), full, QemuSandbox.user().orElse(null), SAVE_BOUND);
      for (DiskConfig d : r.config().disks()) {
        Path frozen = disks.resolve(d.name() + ".qcow2");
        qemuImg.flatten(vm.files.disk(d.name()), frozen);
        frozen.toFile().setReadOnly();
      }
      // A balloon's discard punches holes in a private file mapping's file in QEMU 7.2: the shared RAM would lose pages.
      return r.config().tuning().balloon() ? null : TemplateMemory.defaultRamBackend(qmp).orElse(null);
    } finally {
      resume(vm, qmp, pause);
    }
  }

  /**
   * What a clone of a Debian VM needs besides the disks: the kernel and initrd its disk's modules
   * match ({@code boot/}, linked: a later boot of a clone boots them), and the VM's SSH key pair
   * ({@code ssh/}), the one the guest's cloud-init authorized, which each clone gets a copy of so
   * that {@code vmlet ssh} logs into it.
   */
  private static void keepCloudFiles(VmRuntime vm, Path tmp) throws IOException {
    Files.createDirectories(tmp.resolve(BOOT_DIR));
    for (String f : BOOT_FILES) {
      Path from = vm.files.baseDir().resolve(f);
      try {
        Files.createLink(tmp.resolve(BOOT_DIR).resolve(f), from);
      } catch (IOException | UnsupportedOperationException e) {
        Files.copy(from, tmp.resolve(BOOT_DIR).resolve(f)); // another file system
      }
    }
    Path ssh = Files.createDirectories(tmp.resolve(SSH_DIR),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    for (String f : List.of("id_ed25519", "id_ed25519.pub")) {
      Files.copy(vm.files.sshDir().resolve(f), ssh.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
    }
  }

  /** Where a template of a Debian VM keeps its kernel and initrd, and their names there. */
  static final String BOOT_DIR = "boot";
  static final List<String> BOOT_FILES = List.of("vmlinuz", "initrd.img");
  /** Where a template of a cloud image keeps the SSH key pair its guest authorized. */
  static final String SSH_DIR = "ssh";

  /** The config a template keeps (and its helper QEMU runs): the source's machine with these disks. */
  private static VmConfig templateConfig(VmConfig c, String name, List<DiskConfig> disks) {
    return VmConfig.builder(name).vcpus(c.vcpus()).memoryMib(c.memoryMib()).image(c.image()).accel(c.accel()).disks(disks)
        .tuning(c.tuning()).platform(c.platform()).directBoot(c.directBoot()).network(c.network()).build();
  }

  /** The VM's agent link stops checking heartbeats while the guest is paused for the save. */
  private record AgentLinkPause(VmRuntime vm) {
    void pause() {
      set(true);
    }

    void set(boolean paused) {
      QemuLinks l = vm.now().links();
      if (l != null && l.agent() != null) {
        l.agent().suspendLiveness(paused);
      }
    }
  }

  private static void resume(VmRuntime vm, QmpClient qmp, AgentLinkPause pause) {
    try {
      qmp.execute("cont", null, VmManager.QMP_TIMEOUT);
    } catch (IOException e) {
      LOG.warning("VM " + vm.name() + ": cannot resume after saving a template: " + e.getMessage());
    } finally {
      pause.set(false);
    }
  }

  /** @return the agent's Hello, when the VM's state can be saved as a template */
  private static Hello refuseUnsaveable(VmRuntime vm, VmRecord r) {
    if (r.state() != VmState.RUNNING || vm.now().qmp() == null) {
      throw new VmException(Kind.FAILED_PRECONDITION, "VM '" + vm.name() + "' is " + r.state()
          + ": a template is made from a running VM whose agent is ready; start it (vmlet start " + vm.name() + ") and retry");
    }
    Hello hello = vm.now().agent().hello();
    if (hello == null) {
      throw new VmException(Kind.FAILED_PRECONDITION, "the agent of VM '" + vm.name()
          + "' is not ready: a template must hold a guest whose agent answers; wait until `vmlet info " + vm.name() + "` shows it ready and retry");
    }
    VmSnapshots.refuseLiveWithPassthrough(vm, "making a template");
    if (VmConfig.isCloudImage(r.config().image()) && !r.config().image().equals("debian")) {
      throw new VmException(Kind.FAILED_PRECONDITION, "VM '" + vm.name() + "' boots image '" + r.config().image()
          + "' (a disk image of your own): templates are made from debian, micro or kernel VMs in this version");
    }
    BootTimeline boot = vm.now().timeline();
    if (boot != null && boot.cloudInitDoneAtMs == 0) {
      // A clone would go on with the template's first-boot setup (users, SSH host keys) under the template's identity.
      throw new VmException(Kind.FAILED_PRECONDITION, "cloud-init has not finished in VM '" + vm.name()
          + "': a template of a cloud image holds a guest whose first-boot setup is done; wait until `vmlet info " + vm.name()
          + "` shows cloud-init done and retry");
    }
    if (!r.qemuCommand().contains(QemuCommandBuilder.IDENTITY_FW_CFG)) {
      throw new VmException(Kind.FAILED_PRECONDITION, "VM '" + vm.name() + "' was started by an older vmlet, without the identity"
          + " a clone needs; restart it (vmlet stop, vmlet start) and retry");
    }
    return hello;
  }

  List<TemplateInfo> list() {
    List<TemplateInfo> out = new ArrayList<>();
    try (var dirs = Files.list(root)) {
      for (Path d : dirs.sorted().toList()) {
        if (!d.getFileName().toString().startsWith(".") && Files.isRegularFile(d.resolve("template.json"))) {
          try {
            out.add(get(d.getFileName().toString()));
          } catch (VmException e) {
            LOG.warning(e.getMessage()); // one damaged template does not hide the others; GetTemplate says what is wrong
          }
        }
      }
    } catch (IOException e) {
      return out; // no templates directory yet
    }
    return out;
  }

  /** The template; its size is what it takes on disk (the memory file's allocated blocks, not its length). */
  TemplateInfo get(String name) {
    Stored s = load(name);
    long size = FileTrees.size(dirOf(name)) - (s.memory() == null ? 0 : s.memory().bytes() - s.memory().allocatedBytes());
    return s.info().withSize(size, clonesOf(name));
  }

  /** The template, checked so that QEMU can load it: complete, and saved by this QEMU. */
  Stored require(String name) {
    Stored s = load(name);
    Path state = dirOf(name).resolve("state.bin");
    long size;
    try {
      size = Files.size(state);
    } catch (IOException e) {
      size = -1;
    }
    if (size != s.info().stateBytes()) {
      throw new VmException(Kind.FAILED_PRECONDITION, "template '" + name + "' is damaged: its state file " + state + " has "
          + size + " bytes, " + s.info().stateBytes() + " were saved (truncated?); delete it (vmlet template delete " + name
          + ") and make it again");
    }
    requireMemory(name, s.memory(), dirOf(name));
    String here = qemuVersion();
    if (!here.equals(s.info().qemuVersion())) {
      throw new VmException(Kind.FAILED_PRECONDITION, "template '" + name + "' was saved by " + s.info().qemuVersion()
          + ", this host runs " + here + ": QEMU loads only its own version's state; make the template again on this host");
    }
    return s;
  }

  private Stored load(String name) {
    validateName(name);
    Path json = dirOf(name).resolve("template.json");
    if (!Files.isRegularFile(json)) {
      throw new VmException(Kind.NOT_FOUND, "no template named '" + name + "' (see: vmlet template list)");
    }
    return read(name, json);
  }

  /**
   * The RAM file of the template in {@code dir} (a clone's start), checked; null when the template
   * keeps its RAM in the state stream.
   */
  static SharedMemory sharedMemory(Path dir) {
    String name = dir.getFileName().toString();
    SharedMemory m = read(name, dir.resolve("template.json")).memory();
    requireMemory(name, m, dir);
    return m;
  }

  private static void requireMemory(String name, SharedMemory m, Path dir) {
    if (m == null) {
      return;
    }
    Path file = dir.resolve(TemplateMemory.FILE);
    long size;
    try {
      size = Files.size(file);
    } catch (IOException e) {
      size = -1;
    }
    if (size != m.bytes()) {
      throw new VmException(Kind.FAILED_PRECONDITION, "template '" + name + "' is damaged: its memory file " + file + " has "
          + size + " bytes, " + m.bytes() + " were saved (truncated or gone?); delete it (vmlet template delete " + name
          + ") and make it again");
    }
  }

  private static Stored read(String name, Path json) {
    try {
      Stored s = GSON.fromJson(Files.readString(json), Stored.class);
      if (s == null || s.info() == null || s.config() == null) {
        throw new JsonParseException("empty");
      }
      return s;
    } catch (IOException | JsonParseException e) {
      throw new VmException(Kind.FAILED_PRECONDITION, "template '" + name + "' is damaged: " + json + " cannot be read ("
          + e.getMessage() + "); delete it and make it again");
    }
  }

  /**
   * The config of a clone named {@code name}: the template's, with the caller's labels and forwards.
   *
   * @param vcpus 0: the template's; else must be the template's
   * @param memoryMib 0: the template's; else must be the template's
   */
  VmConfig cloneConfig(Stored t, String name, int vcpus, long memoryMib, Map<String, String> labels, List<PortForward> forwards) {
    TemplateInfo i = t.info();
    if ((vcpus != 0 && vcpus != i.vcpus()) || (memoryMib != 0 && memoryMib != i.memoryMib())) {
      throw VmException.invalid("template '" + i.name() + "' holds a VM of " + i.vcpus() + " vCPUs and " + i.memoryMib()
          + " MiB, asked for " + (vcpus == 0 ? i.vcpus() : vcpus) + " vCPUs and " + (memoryMib == 0 ? i.memoryMib() : memoryMib)
          + " MiB: a clone resumes the template's machine as it was; leave vcpus and memory unset, or make a template of that size");
    }
    VmConfig c = t.config();
    return VmConfig.builder(name).vcpus(c.vcpus()).memoryMib(c.memoryMib()).image(c.image()).accel(c.accel()).disks(c.disks())
        .tuning(c.tuning()).platform(c.platform()).directBoot(c.directBoot()).network(c.network()).labels(labels)
        .forwards(forwards).build();
  }

  /** Deletes a template no VM uses. */
  void delete(String name) {
    load(name);
    List<String> users = clonesOf(name);
    if (!users.isEmpty()) {
      throw new VmException(Kind.FAILED_PRECONDITION, "template '" + name + "' is the base of VMs " + users
          + ": delete them first (vmlet delete NAME)");
    }
    Path dir = dirOf(name);
    Path gone = root.resolve("." + name + ".deleting");
    try {
      FileTrees.deleteTree(gone);
      Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE); // a half-deleted template is never listed
    } catch (IOException e) {
      throw new VmException(Kind.INTERNAL, "cannot delete template '" + name + "': " + e.getMessage(), e);
    }
    FileTrees.deleteTree(gone);
    LOG.info("template " + name + ": deleted");
  }

  /** The VMs whose disks are overlays on the template's. */
  List<String> clonesOf(String name) {
    List<String> out = new ArrayList<>();
    for (VmRuntime vm : vms.all()) {
      try {
        if (Files.exists(vm.files.templateName()) && Files.readString(vm.files.templateName()).strip().equals(name)) {
          out.add(vm.name());
        }
      } catch (IOException e) {
        out.add(vm.name()); // cannot tell: keep the template
      }
    }
    return out.stream().sorted().toList();
  }

  static void validateName(String name) {
    try {
      VmConfig.validateName(name);
    } catch (VmException e) {
      throw VmException.invalid("template " + e.getMessage());
    }
  }

  /** The first line of {@code qemu-system-x86_64 --version}, asked once. */
  String qemuVersion() {
    String v = qemuVersion;
    if (v != null) {
      return v;
    }
    try {
      Process p = new ProcessBuilder(qemuBinary, "--version").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException(qemuBinary + " --version failed: " + out.strip());
      }
      v = out.lines().findFirst().orElse("").strip();
    } catch (IOException e) {
      throw new VmException(Kind.FAILED_PRECONDITION, "cannot ask QEMU its version: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VmException(Kind.INTERNAL, "interrupted while asking QEMU its version", e);
    }
    qemuVersion = v;
    return v;
  }
}
