package dev.vmlet.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.proc.ProcessFailedException;
import dev.vmlet.proc.ProcessRequest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The qemu-img commands QemuImg runs and how it reads their answers, with qemu-img scripted. */
class QemuImgTest {
  /** What qemu-img 7.2 prints for {@code info --backing-chain --output=json} of an overlay (trimmed). */
  static final String CHAIN = """
      [
          {
              "backing-filename-format": "qcow2",
              "virtual-size": 8388608,
              "filename": "/vms/top.qcow2",
              "format": "qcow2",
              "full-backing-filename": "/images/base.qcow2",
              "backing-filename": "base.qcow2",
              "dirty-flag": false
          },
          {
              "virtual-size": 8388608,
              "filename": "/images/base.qcow2",
              "format": "qcow2",
              "dirty-flag": false
          }
      ]
      """;

  private final FakeProcessRunner runner = new FakeProcessRunner();
  private final QemuImg img = new QemuImg("qemu-img", runner);

  @Test
  void info_readsFormatSizeAndBackingChain_fromOneRun() throws Exception {
    runner.when("qemu-img", "info").thenPrint(CHAIN);
    QemuImg.ImageInfo info = img.info(Path.of("/vms/top.qcow2"));
    assertThat(info.format()).isEqualTo("qcow2");
    assertThat(info.virtualSize()).isEqualTo(8388608);
    assertThat(info.backingFiles()).containsExactly(Path.of("/images/base.qcow2"));
    assertThat(runner.commandLines()).containsExactly("qemu-img info --backing-chain --output=json -U /vms/top.qcow2");
    assertThat(runner.calls()).extracting(ProcessRequest::timeout).containsOnly(QemuImg.TIMEOUT);
  }

  @Test
  void info_thatIsNotJson_saysWhatQemuImgPrinted() {
    runner.when("qemu-img", "info").thenPrint("nonsense\n");
    assertThatThrownBy(() -> img.info(Path.of("a.img"))).hasMessage("qemu-img info a.img gave no format and size: nonsense");
  }

  @Test
  void create_ofAnOverlay_namesItsBaseAndFormat_andASizeOnlyWhenGiven() throws Exception {
    runner.when("qemu-img", "create").thenPrint("");
    img.create(Path.of("/vms/d.qcow2"), Path.of("/images/base.img"), "raw", 0);
    img.create(Path.of("/vms/e.qcow2"), null, null, 512);
    assertThat(runner.commandLines()).containsExactly(
        "qemu-img create -q -f qcow2 -b /images/base.img -F raw /vms/d.qcow2",
        "qemu-img create -q -f qcow2 /vms/e.qcow2 512M");
  }

  @Test
  void aFailingQemuImg_isAnErrorNamingTheCommandAndWhatQemuImgSaid() {
    runner.when("qemu-img", "info").thenFail(1, "qemu-img: Could not open '/vms/x.qcow2': No such file or directory\n");
    assertThatThrownBy(() -> img.info(Path.of("/vms/x.qcow2")))
        .isInstanceOf(ProcessFailedException.class)
        .hasMessage("qemu-img info --backing-chain --output=json -U /vms/x.qcow2 exited with 1:"
            + " qemu-img: Could not open '/vms/x.qcow2': No such file or directory");
  }

  @Test
  void aHungQemuImg_isAnErrorAfterItsBound() {
    runner.when("qemu-img", "resize").thenTimeOut();
    assertThatThrownBy(() -> img.resize(Path.of("/vms/d.qcow2"), 1024))
        .hasMessage("qemu-img resize -q /vms/d.qcow2 1024M did not finish within 60 s");
  }

  @Test
  void snapshots_areReadWithTheirDateInMillisAndStateSize() throws Exception {
    runner.when("qemu-img", "info").thenPrint("""
        {"snapshots": [{"icount": 0, "vm-clock-nsec": 0, "name": "s1", "date-sec": 1796156456, "date-nsec": 647500000,
          "vm-clock-sec": 0, "id": "1", "vm-state-size": 4096}], "virtual-size": 8388608, "format": "qcow2"}
        """);
    assertThat(img.snapshots(Path.of("d.qcow2"))).singleElement().satisfies(s -> {
      assertThat(s.name()).isEqualTo("s1");
      assertThat(s.createdAtMs()).isEqualTo(1796156456647L);
      assertThat(s.vmStateBytes()).isEqualTo(4096);
    });
  }
}
