package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import dev.vmlet.qmp.FakeQmpServer;
import dev.vmlet.qmp.QmpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateMemoryTest {
  @TempDir Path dir;

  @Test
  void backend_putsTheMachinesRamInTheFile_sharedForTheHelper_privateForAClone() {
    assertThat(TemplateMemory.backend("pc.ram", 256, Path.of("/t/a,b/memory"), true)).containsExactly(
        "-object", "memory-backend-file,id=pc.ram,size=256M,mem-path=/t/a,,b/memory,share=on", "-machine", "memory-backend=pc.ram");
    assertThat(TemplateMemory.backend("microvm.ram", 128, Path.of("/t/memory"), false))
        .contains("memory-backend-file,id=microvm.ram,size=128M,mem-path=/t/memory,share=off");
    assertThatThrownBy(() -> TemplateMemory.backend("pc.ram,share=on", 1, Path.of("/m"), false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void defaultRamBackend_isTheOnePrivateDefaultBackend_elseNone() throws Exception {
    assertThat(backendOf("[{\"id\":\"pc.ram\",\"share\":false,\"size\":268435456}]")).contains("pc.ram");
    assertThat(backendOf("[{\"id\":\"microvm.ram\",\"share\":false}]")).contains("microvm.ram");
    assertThat(backendOf("[{\"id\":\"mem0\",\"share\":true}]")).as("the memfd of virtiofs shares").isEmpty();
    assertThat(backendOf("[{\"id\":\"pc.ram\",\"share\":false},{\"id\":\"mem1\",\"share\":false}]")).isEmpty();
  }

  private Optional<String> backendOf(String memdevs) throws Exception {
    Path socket = dir.resolve("qmp.sock");
    try (FakeQmpServer qemu = FakeQmpServer.start(socket).answer("query-memdev", JsonParser.parseString(memdevs));
        QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5), e -> { }, () -> { })) {
      return TemplateMemory.defaultRamBackend(qmp);
    }
  }
}
