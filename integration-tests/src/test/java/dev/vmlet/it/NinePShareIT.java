package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.ShareType;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Host directories shared into a real micro-generic VM with 9p (QEMU's own 9p server,
 * security_model=mapped-xattr, real QEMU under TCG): files cross both ways, a read-only share
 * refuses writes in the guest, and owners and modes are what mapped-xattr makes them on each side.
 */
class NinePShareIT {
  @TempDir static Path tmp;
  static TestDaemon testDaemon;
  static DaemonClient client;

  @BeforeAll
  static void buildMicroGenericAndStartADaemon() throws Exception {
    TestDaemon.microGeneric();
    testDaemon = TestDaemon.start(tmp.resolve("daemon"));
    client = testDaemon.client;
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  static Share.Builder ninep(Path host, String guest) {
    return Share.newBuilder().setHostPath(host.toString()).setGuestPath(guest).setType(ShareType.SHARE_TYPE_9P);
  }

  static Vm create(VmSpec.Builder spec) {
    return client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build());
  }

  /** A little-endian 32-bit value of a {@code user.} xattr, as QEMU's mapped-xattr writes them. */
  static int xattr(Path file, String name) throws Exception {
    UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
    ByteBuffer buf = ByteBuffer.allocate(view.size(name));
    view.read(name, buf);
    return buf.flip().order(ByteOrder.LITTLE_ENDIAN).getInt();
  }

  static String guestStat(String vm, String path) {
    Guests.Result r = Guests.exec(client, vm, "stat", "-c", "%u %g %a", path);
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r.stdout().strip();
  }

  @Test
  void ninepShares_carryFilesBothWays_readOnlyRefusesWrites_ownersLiveInXattrs() throws Exception {
    // QEMU (as vmlet-qemu under a root daemon) serves the directories: it must reach and write them.
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path rw = Files.createDirectories(tmp.resolve("work"));
    Path ro = Files.createDirectories(tmp.resolve("inputs"));
    Files.setPosixFilePermissions(rw, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.writeString(rw.resolve("from-host.txt"), "written on the host\n");
    Files.setPosixFilePermissions(rw.resolve("from-host.txt"), PosixFilePermissions.fromString("rw-r--r--"));
    Files.writeString(ro.resolve("input.txt"), "read-only input\n");
    String name = "it-ninep";
    Vm vm = create(VmSpec.newBuilder().setName(name).setImage("micro-generic").setMemoryMib(512)
        .addShares(ninep(rw, "/mnt/work"))
        .addShares(ninep(ro, "/mnt/inputs").setReadOnly(true)));
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    assertThat(vm.getQemuCommand()).contains("-virtfs local,path=" + rw + ",mount_tag=vmlet0,security_model=mapped-xattr,id=fs0",
        "mount_tag=vmlet1,security_model=mapped-xattr,id=fs1,readonly=on", "vmlet.share=vmlet1:/mnt/inputs:ro:9p")
        .doesNotContain("virtiofs", "memory-backend-memfd");
    Guests.waitReady(client, name);
    assertThat(Guests.sh(client, name, "grep ' 9p ' /proc/mounts")).contains("vmlet0 /mnt/work 9p rw,", "vmlet1 /mnt/inputs 9p ro,",
        "trans=virtio");

    // Host to guest, guest to host.
    assertThat(Guests.exec(client, name, "cat", "/mnt/work/from-host.txt").stdout()).isEqualTo("written on the host\n");
    assertThat(Guests.sh(client, name, "echo written in the guest > /mnt/work/from-guest.txt && echo ok")).isEqualTo("ok\n");
    Path fromGuest = rw.resolve("from-guest.txt");
    assertThat(Files.readString(fromGuest)).isEqualTo("written in the guest\n");
    // 9p has no cache here (cache=none, the default): a host change is seen at once.
    Files.writeString(rw.resolve("from-host.txt"), "changed on the host\n");
    assertThat(Guests.exec(client, name, "cat", "/mnt/work/from-host.txt").stdout()).isEqualTo("changed on the host\n");

    // Owners and modes. A file the host made (no xattrs) shows the host's owner and mode in the guest.
    assertThat(guestStat(name, "/mnt/work/from-host.txt")).isEqualTo("0 0 644");
    // A file the guest made belongs on the host to QEMU's user, mode 0600; the guest's owner and
    // mode live in user.virtfs.* xattrs, which is what the guest sees.
    int qemuUid = (int) Files.getAttribute(fromGuest, "unix:uid");
    System.out.printf("9p guest-written file on the host: uid %d (QEMU runs as uid %s), mode %s; in the guest: %s%n", qemuUid,
        NonRootDaemon.uidOf(vm.getPid()), PosixFilePermissions.toString(Files.getPosixFilePermissions(fromGuest)),
        guestStat(name, "/mnt/work/from-guest.txt"));
    assertThat(Integer.toString(qemuUid)).isEqualTo(NonRootDaemon.uidOf(vm.getPid()));
    assertThat(Files.getPosixFilePermissions(fromGuest)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(xattr(fromGuest, "virtfs.uid")).isZero();
    assertThat(guestStat(name, "/mnt/work/from-guest.txt")).isEqualTo("0 0 644");
    // The guest's root gives it away and makes it set-uid: the guest sees that; the host file stays
    // QEMU's user's, 0600, not set-uid.
    assertThat(Guests.sh(client, name, "chown 1000:1000 /mnt/work/from-guest.txt && chmod 4755 /mnt/work/from-guest.txt && echo ok"))
        .isEqualTo("ok\n");
    assertThat(guestStat(name, "/mnt/work/from-guest.txt")).isEqualTo("1000 1000 4755");
    assertThat(xattr(fromGuest, "virtfs.uid")).isEqualTo(1000);
    assertThat(xattr(fromGuest, "virtfs.mode") & 07777).isEqualTo(04755);
    assertThat((int) Files.getAttribute(fromGuest, "unix:uid")).isEqualTo(qemuUid);
    assertThat(Files.getPosixFilePermissions(fromGuest)).isEqualTo(PosixFilePermissions.fromString("rw-------"));

    // A directory the guest makes is QEMU's user's too, 0700 on the host.
    assertThat(Guests.sh(client, name, "mkdir /mnt/work/d && stat -c '%u %a' /mnt/work/d")).isEqualTo("0 755\n");
    assertThat(Files.getPosixFilePermissions(rw.resolve("d"))).isEqualTo(PosixFilePermissions.fromString("rwx------"));
    // Guest root is no one special on the host: the host's root-owned 0644 file is not QEMU's user's to write.
    Guests.Result denied = Guests.exec(client, name, "sh", "-c", "echo x >> /mnt/work/from-host.txt");
    assertThat(denied.exitCode()).isNotZero();
    assertThat(denied.stderr()).contains("Permission denied");
    assertThat(Files.readString(rw.resolve("from-host.txt"))).isEqualTo("changed on the host\n");

    // Read-only: refused in the guest, also after the guest's root remounts it read-write (QEMU's
    // readonly=on export refuses), and the host files are unchanged.
    assertThat(Guests.exec(client, name, "cat", "/mnt/inputs/input.txt").stdout()).isEqualTo("read-only input\n");
    Guests.Result refused = Guests.exec(client, name, "sh", "-c", "echo x > /mnt/inputs/new.txt");
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.stderr()).contains("Read-only file system");
    assertThat(Guests.exec(client, name, "mount", "-o", "remount,rw", "/mnt/inputs").exitCode()).isZero();
    Guests.Result stillRefused = Guests.exec(client, name, "sh", "-c", "echo x >> /mnt/inputs/input.txt; rm /mnt/inputs/input.txt");
    assertThat(stillRefused.exitCode()).isNotZero();
    assertThat(stillRefused.stderr()).contains("Read-only file system");
    assertThat(ro.resolve("new.txt")).doesNotExist();
    assertThat(Files.readString(ro.resolve("input.txt"))).isEqualTo("read-only input\n");

    client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    assertThat(fromGuest).exists(); // the share is the user's: delete leaves it alone
  }

  @Test
  void a9pShare_onAnImageWithout9p_orADirectoryQemuCannotWrite_isRefusedWithTheReason_andLeavesNothing() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("closed"));
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // root's; QEMU's user may not write
    assertThatThrownBy(() -> create(VmSpec.newBuilder().setName("bad-ninep").addShares(ninep(dir, "/mnt/x"))))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("the micro image's kernel (Debian's cloud kernel) has none",
              "image micro-generic");
        });
    // Refused at create, before anything is written: QEMU's user could not write the directory.
    assertThatThrownBy(() -> create(VmSpec.newBuilder().setName("bad-ninep").setImage("micro-generic").addShares(ninep(dir, "/mnt/x"))))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("the 9p share", dir.toString());
        });
    assertThat(testDaemon.paths.stateDir().resolve("vms").resolve("bad-ninep")).doesNotExist();
  }

  @Test
  void aNonRootDaemon_serves9pShares_filesOnTheHostAreItsUsers() throws Exception {
    Path base = Files.createDirectories(tmp.resolve("non-root"));
    try (NonRootDaemon d = NonRootDaemon.start(base)) {
      Path rw = Files.createDirectories(base.resolve("work"));
      assertThat(NonRootDaemon.run("chown", d.user, rw.toString())).isZero();
      Files.writeString(rw.resolve("from-host.txt"), "written on the host\n");
      Vm vm = d.client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("unpriv-9p").setImage("micro-generic").setMemoryMib(512).addShares(ninep(rw, "/mnt/work")))
          .setStart(true).build());
      String uid = NonRootDaemon.uidOf(vm.getPid());
      assertThat(uid).isNotEqualTo("0");
      Guests.waitReady(d.client, "unpriv-9p");
      assertThat(Guests.exec(d.client, "unpriv-9p", "cat", "/mnt/work/from-host.txt").stdout()).isEqualTo("written on the host\n");
      assertThat(Guests.sh(d.client, "unpriv-9p", "echo from the guest > /mnt/work/g.txt && chown 1000 /mnt/work/g.txt"
          + " && stat -c '%u %a' /mnt/work/g.txt")).isEqualTo("1000 644\n");
      Path g = rw.resolve("g.txt");
      assertThat(Files.readString(g)).isEqualTo("from the guest\n");
      assertThat(Integer.toString((int) Files.getAttribute(g, "unix:uid"))).isEqualTo(uid); // the daemon's user, QEMU's
      assertThat(xattr(g, "virtfs.uid")).isEqualTo(1000);
      System.out.println("9p under a non-root daemon (uid " + uid + "): guest file on the host owned by uid "
          + Files.getAttribute(g, "unix:uid") + ", mode " + PosixFilePermissions.toString(Files.getPosixFilePermissions(g)));
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
          .deleteVm(DeleteVmRequest.newBuilder().setName("unpriv-9p").setForce(true).build());
    }
  }
}
