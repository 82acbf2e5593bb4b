package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.security.HostPaths;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.vm.VmOwner;
import dev.vmlet.vm.VmRecord;
import dev.vmlet.vm.VmState;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.ArrayList;
import org.assertj.core.api.Assertions;

/** The check before each start: the VM's host paths, decided again for its owner; real qemu-img, a remote owner. */
class OwnerChecksTest {
  static final VmOwner CI = new VmOwner("ci", "operator", null, null);

  @TempDir Path dir;
  Path allowed;
  Path daemonOwned;
  OwnerChecks checks;

  @BeforeEach
  void setUp() throws Exception {
    Process p = new ProcessBuilder("qemu-img", "--version").redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assumeTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "needs qemu-img");
    dir = dir.toRealPath();
    allowed = Files.createDirectories(dir.resolve("images"));
    daemonOwned = Files.createDirectories(dir.resolve("state/vms/a/base"));
    checks = new OwnerChecks(HostPaths.forHost(List.of(allowed), "qemu-img"));
  }

  static Path image(Path file) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(1 << 20);
    }
    return file;
  }

  static VmRecord owned(VmOwner owner, Path... bases) {
    List<DiskConfig> disks = new ArrayList<>();
    for (int i = 0; i < bases.length; i++) {
      disks.add(new DiskConfig("d" + i, bases[i].toString(), 0, false));
    }
    return VmRecord.created(VmConfig.builder("a").disks(disks).build(), "id", owner).withState(VmState.STOPPED);
  }

  @Test
  void aRemoteOwnersBaseImage_thatBecameALinkToOutside_stopsTheStart() throws Exception {
    Path base = image(allowed.resolve("base.img"));
    VmRecord r = owned(CI, base);
    assertThatCode(() -> checks.check(r, daemonOwned)).doesNotThrowAnyException();
    Files.delete(base);
    Files.createSymbolicLink(base, image(dir.resolve("secret.img")));
    assertThatThrownBy(() -> checks.check(r, daemonOwned)).isInstanceOfSatisfying(VmException.class,
            e -> Assertions.assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageStartingWith("VM 'a' was created by ci, who may no longer use what it names: spec.disks[0].base_image " + base
            + ": it resolves to " + dir.resolve("secret.img") + ", outside");
  }

  @Test
  void theDaemonsOwnFilesForTheVm_areNotTheOwners_toBeChecked() throws Exception {
    Path root = image(daemonOwned.resolve("root.qcow2"));
    assertThatCode(() -> checks.check(owned(CI, root), daemonOwned)).doesNotThrowAnyException();
  }

  @Test
  void anAdminsVm_andOneWithNoOwnerKept_startUnchecked() throws Exception {
    Path outside = image(dir.resolve("anywhere.img"));
    assertThatCode(() -> checks.check(owned(new VmOwner("boss", "admin", null, null), outside), daemonOwned))
        .doesNotThrowAnyException();
    assertThatCode(() -> checks.check(owned(null, outside), daemonOwned)).doesNotThrowAnyException();
    assertThatThrownBy(() -> checks.check(owned(CI, outside), daemonOwned)).hasMessageContaining("host paths from remote callers");
  }
}
