package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmStoreTest {
  @TempDir Path dir;

  private static VmRecord record(String name, VmState state) {
    return new VmRecord(new VmConfig(name, 1, 512, "micro", "auto"), "id-" + name, state, 42, "tcg", "why", 1000, "", "qemu", null);
  }

  @Test
  void save_thenLoadAll_givesTheSameRecords() {
    VmStore store = new VmStore(dir);
    store.save(record("a", VmState.RUNNING));
    store.save(record("b", VmState.STOPPED));
    assertThat(store.loadAll()).containsExactlyInAnyOrder(record("a", VmState.RUNNING), record("b", VmState.STOPPED));
    assertThat(dir.resolve("vms/a/vm.json.tmp")).doesNotExist();
  }

  @Test
  void loadAll_skipsAHalfWrittenOrHandEditedFile() throws Exception {
    VmStore store = new VmStore(dir);
    store.save(record("good", VmState.STOPPED));
    Files.createDirectories(dir.resolve("vms/bad"));
    Files.writeString(dir.resolve("vms/bad/vm.json"), "{\"config\":{\"name\":\"../x\",\"vcpus\":1");
    Files.createDirectories(dir.resolve("vms/evil"));
    Files.writeString(dir.resolve("vms/evil/vm.json"),
        "{\"config\":{\"name\":\"../etc\",\"vcpus\":1,\"memoryMib\":512,\"image\":\"micro\",\"accel\":\"auto\"},\"state\":\"STOPPED\"}");
    assertThat(store.loadAll()).extracting(r -> r.config().name()).containsExactly("good");
  }

  @Test
  void delete_removesTheWholeDirectory() {
    VmStore store = new VmStore(dir);
    store.save(record("a", VmState.STOPPED));
    store.delete("a");
    assertThat(dir.resolve("vms/a")).doesNotExist();
  }
}
