package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.Tuning;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of QEMU's command line that shares add: shared guest memory, one vhost-user-fs device each, the mounts. */
class QemuShareArgsTest {
  private final VmFiles files = new VmFiles(Path.of("/run/vmlet/vms/w"), Path.of("/var/lib/vmlet/vms/w"));
  private static final BootImage MICRO = new BootImage(Path.of("/k"), Path.of("/i"));
  private static final List<Share> SHARES = List.of(new Share("/srv/work", "/mnt/work", false), new Share("/srv/in", "/mnt/in", true));

  private String line(VmConfig c, Path hugepages) {
    return String.join(" ", QemuCommandBuilder.build(new QemuLaunch("q", c, "id", "tcg", MICRO, files, List.of(), List.of(),
        hugepages, null, 0, List.of())));
  }

  @Test
  void shares_backMemoryWithSharedMemfd_andAddADevicePerShare_andTellTheGuestWhereToMount() {
    String line = line(VmConfig.builder("w").memoryMib(768).shares(SHARES).build(), null);
    assertThat(line).contains("-m 768M -object memory-backend-memfd,id=mem0,size=768M,share=on -numa node,memdev=mem0 ");
    assertThat(line).contains(" -chardev socket,id=fs0,path=/run/vmlet/vms/w/fs0.sock"
        + " -device vhost-user-fs-pci,queue-size=1024,chardev=fs0,tag=vmlet0"
        + " -chardev socket,id=fs1,path=/run/vmlet/vms/w/fs1.sock"
        + " -device vhost-user-fs-pci,queue-size=1024,chardev=fs1,tag=vmlet1 ");
    assertThat(line).contains("vmlet.hostname=w vmlet.share=vmlet0:/mnt/work vmlet.share=vmlet1:/mnt/in:ro -chardev");
  }

  @Test
  void shares_withHugepages_shareTheHugepageBackend() {
    VmConfig c = VmConfig.builder("w").tuning(new Tuning(false, true, List.of())).shares(SHARES).build();
    String line = line(c, Path.of("/dev/hugepages"));
    assertThat(line).contains("memory-backend-file,id=mem0,size=512M,mem-path=/dev/hugepages,share=on,prealloc=on")
        .doesNotContain("memfd");
  }

  @Test
  void noShares_noSharedMemoryAndNoDevices() {
    String line = line(VmConfig.builder("w").build(), null);
    assertThat(line).doesNotContain("memory-backend", "vhost-user-fs", "vmlet.share");
  }

  @Test
  void a9pShare_isServedByQemuWithMappedXattr_andNeedsNoSharedMemory() {
    VmConfig c = VmConfig.builder("w").image("kernel").directBoot(new dev.vmlet.spec.DirectBoot("/k", "", ""))
        .shares(List.of(new Share("/srv/work", "/mnt/work", false, "9p"), new Share("/srv/in", "/mnt/in", true, "9p"))).build();
    String line = line(c, null);
    assertThat(line).doesNotContain("memory-backend").doesNotContain("vhost-user-fs");
    assertThat(line).contains(" -virtfs local,path=/srv/work,mount_tag=vmlet0,security_model=mapped-xattr,id=fs0"
        + " -virtfs local,path=/srv/in,mount_tag=vmlet1,security_model=mapped-xattr,id=fs1,readonly=on ");
    assertThat(line).contains("vmlet.share=vmlet0:/mnt/work:9p vmlet.share=vmlet1:/mnt/in:ro:9p");
  }

  @Test
  void a9pShareBesideAVirtiofsShare_keepsTheSharedMemoryVirtiofsNeeds() {
    VmConfig c = VmConfig.builder("w").image("kernel").directBoot(new dev.vmlet.spec.DirectBoot("/k", "", ""))
        .shares(List.of(new Share("/srv/work", "/mnt/work", false, "9p"), new Share("/srv/in", "/mnt/in", true))).build();
    String line = line(c, null);
    assertThat(line).contains("memory-backend-memfd,id=mem0,size=512M,share=on")
        .contains("-virtfs local,path=/srv/work,mount_tag=vmlet0").contains("vhost-user-fs-pci,queue-size=1024,chardev=fs1,tag=vmlet1");
  }
}
