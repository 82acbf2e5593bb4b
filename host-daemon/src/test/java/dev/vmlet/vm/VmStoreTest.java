package dev.vmlet.vm;

import dev.vmlet.spec.RestartPolicy;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.Share;
import org.junit.jupiter.api.io.TempDir;
import com.google.gson.JsonParser;
import java.nio.file.FileSystemException;
import org.assertj.core.api.Assertions;

class VmStoreTest {
  @TempDir Path dir;

  private static VmRecord record(String name, VmState state) {
    return VmRecord.created(new VmConfig(name, 1, 512, "micro", "auto"), "id-" + name, null).withState(state)
        .withStarted(42, "tcg", "why", 1000, "qemu", List.of());
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
  void aRecordWithCredentials_roundTrips_inAFileOnlyItsOwnerReads() throws Exception {
    VmStore store = new VmStore(dir);
    VmConfig c = VmConfig.builder("c").credentials(java.util.List.of(new dev.vmlet.spec.Credential("k", new byte[] {0, 7, -1})))
        .httpProxy("http://10.0.2.2:3128").build();
    VmRecord r = VmRecord.created(c, "id-c", null);
    store.save(r);
    assertThat(store.loadAll()).containsExactly(r);
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("vms/c/vm.json"))))
        .isEqualTo("rw-------");
  }

  @Test
  void theStateFile_keepsItsFieldNames() throws Exception {
    VmStore store = new VmStore(dir);
    store.save(record("a", VmState.RUNNING));
    store.save(VmRecord.created(new VmConfig("o", 1, 512, "micro", "auto"), "id-o", new VmOwner("ann", "operator", 1000, 1000)));
    assertThat(JsonParser.parseString(Files.readString(dir.resolve("vms/a/vm.json"))).getAsJsonObject().keySet())
        .containsExactly("config", "instanceId", "state", "pid", "accel", "accelReason", "startedAtMs", "lastError", "qemuCommand",
            "activeForwards");
    assertThat(JsonParser.parseString(Files.readString(dir.resolve("vms/o/vm.json"))).getAsJsonObject().keySet())
        .endsWith("owner");
  }

  @Test
  void aStateFileFromBeforeOwnersWereKept_loads() throws Exception {
    Files.createDirectories(dir.resolve("vms/old"));
    Files.writeString(dir.resolve("vms/old/vm.json"), """
        {"config": {"name": "old", "vcpus": 1, "memoryMib": 512, "image": "micro", "accel": "auto"},
         "instanceId": "id-old", "state": "RUNNING", "pid": 42, "accel": "tcg", "accelReason": "why", "startedAtMs": 1000,
         "lastError": "", "qemuCommand": "qemu", "activeForwards": []}
        """);
    assertThat(new VmStore(dir).loadAll()).containsExactly(record("old", VmState.RUNNING));
  }

  @Test
  void theRestartPolicy_isKept_andAFileFromBeforeItHadOne_meansNo() {
    VmStore store = new VmStore(dir);
    VmConfig c = VmConfig.builder("r").restart(RestartPolicy.ON_FAILURE).build();
    store.save(VmRecord.created(c, "id-r", null));
    assertThat(store.loadAll()).singleElement().satisfies(r -> assertThat(r.config().restart()).isEqualTo(RestartPolicy.ON_FAILURE));
    // aStateFileFromBeforeOwnersWereKept_loads: a config without the field equals one with NO.
    assertThat(new VmConfig("x", 1, 512, "micro", "auto").restart()).isEqualTo(RestartPolicy.NO);
  }

  @Test
  void aStateFileFromBeforeGuestProfilesTpmsAnd9p_loadsAsALinuxGuestWithoutATpmAndVirtiofsShares() throws Exception {
    Files.createDirectories(dir.resolve("vms/older"));
    Files.writeString(dir.resolve("vms/older/vm.json"), """
        {"config": {"name": "older", "vcpus": 1, "memoryMib": 512, "image": "micro", "accel": "auto",
          "platform": {"machine": "q35", "firmware": "bios", "agentPort": "virtio"},
          "shares": [{"hostPath": "/srv/w", "guestPath": "/mnt/w", "readOnly": false}]},
         "instanceId": "id-older", "state": "STOPPED", "pid": 0, "accel": "", "accelReason": "", "startedAtMs": 0,
         "lastError": "", "qemuCommand": "", "activeForwards": []}
        """);
    var config = new VmStore(dir).loadAll().get(0).config();
    assertThat(config.platform()).isEqualTo(Platform.DEFAULT);
    assertThat(config.shares()).containsExactly(new Share("/srv/w", "/mnt/w", false));
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

  @Test
  void aSaveThatCannotBeWritten_saysWhyAndWhatToDo_andLeavesNoTemporaryFile() throws Exception {
    VmStore store = new VmStore(dir);
    Files.createDirectories(dir.resolve("vms/a/vm.json.tmp")); // a directory where the temporary file goes: the write fails
    Files.writeString(dir.resolve("vms/a/vm.json.tmp/x"), "x");
    Assertions.assertThatThrownBy(() -> store.save(record("a", VmState.RUNNING)))
        .isInstanceOfSatisfying(VmException.class, e -> {
          assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION);
          assertThat(e.getMessage()).contains("cannot save the state of VM 'a'", "nothing was changed", "and retry");
        });
    assertThat(dir.resolve("vms/a/vm.json")).doesNotExist();
  }

  @Test
  void aFullFileSystem_isResourceExhausted_andSaysToFreeSpace() {
    VmException e = VmStore.unsaved("a", dir, new FileSystemException("/x/vm.json.tmp", null, "No space left on device"));
    assertThat(e.kind()).isEqualTo(VmException.Kind.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage()).contains("No space left on device", "free space on the state directory's file system");
    VmException ro = VmStore.unsaved("a", dir, new FileSystemException("/x/vm.json.tmp", null, "Read-only file system"));
    assertThat(ro.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION);
    assertThat(ro.getMessage()).contains("Read-only file system", "make the state directory writable");
  }
}
