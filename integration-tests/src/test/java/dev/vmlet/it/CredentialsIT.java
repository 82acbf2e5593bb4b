package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Credential;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.GetGuestInfoResponse;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * systemd credentials and the proxy through SMBIOS in a real micro VM (real QEMU, the guest's
 * kernel's DMI tables): the guest's firmware tables hold them, the agent hands them to its
 * programs, and no secret is on QEMU's command line, in what the daemon shows, or in a file
 * anyone but the daemon (and QEMU's user) can read.
 */
class CredentialsIT {
  @TempDir Path tmp;

  static final String SECRET = "s3cret-Value=with=equals";
  static final byte[] BINARY = {0, 1, 2, (byte) 0xfe, (byte) 0xff, '\n', 'x'};

  @Test
  void credentialsAndProxy_reachTheGuestThroughSmbios_andNoSecretLeaksOnTheHost() throws Exception {
    String name = "it-creds";
    try (TestDaemon d = TestDaemon.start(tmp)) {
      Vm vm = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(512)
              .addCredentials(Credential.newBuilder().setName("db.password").setValue(ByteString.copyFromUtf8(SECRET)))
              .addCredentials(Credential.newBuilder().setName("blob.bin").setValue(ByteString.copyFrom(BINARY)))
              .setHttpProxy("http://user:pw-secret@10.0.2.2:3128"))
          .setStart(true).build());
      assertThat(vm.getState()).isEqualTo(VmState.RUNNING);

      // The host: QEMU's command line (which every user can read in /proc) names files, not values.
      String cmdline = Files.readString(Path.of("/proc/" + vm.getPid() + "/cmdline")).replace('\0', ' ');
      Path state = d.paths.vmStateDir(name);
      assertThat(cmdline).contains("-smbios type=11,path=" + state.resolve("smbios/oem-0"), "type=11,path=" + state.resolve("smbios/oem-2"))
          .doesNotContain(SECRET).doesNotContain("pw-secret");
      assertThat(vm.getQemuCommand()).doesNotContain(SECRET);
      for (Path f : new Path[] {state.resolve("smbios/oem-0"), state.resolve("smbios/oem-1"), state.resolve("smbios/oem-2"),
          state.resolve("vm.json")}) {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString()).isEqualTo("rw-------");
      }
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("smbios")))).isEqualTo("rwx------");
      Vm shown = d.client.vms().getVm(VmRef.newBuilder().setName(name).build());
      assertThat(shown.getSpec().getCredentialsList()).extracting(Credential::getName).containsExactly("db.password", "blob.bin");
      assertThat(shown.getSpec().getCredentialsList()).allMatch(c -> c.getValue().isEmpty());
      assertThat(shown.getSpec().getHttpProxy()).isEqualTo("http://***@10.0.2.2:3128");
      assertThat(shown.toString()).doesNotContain(SECRET).doesNotContain("pw-secret");

      Guests.waitReady(d.client, name);
      // The guest's firmware tables: one OEM string per credential and the proxy, in systemd's forms.
      String oem = Guests.sh(d.client, name, "cat /sys/firmware/dmi/entries/11-*/raw | tr '\\000' '\\n'");
      assertThat(oem).contains("io.systemd.credential:db.password=" + SECRET,
          "io.systemd.credential.binary:blob.bin=" + java.util.Base64.getEncoder().encodeToString(BINARY),
          "vmlet.http_proxy=http://user:pw-secret@10.0.2.2:3128");
      // The agent's programs: the credentials in $CREDENTIALS_DIRECTORY (root only), the proxy in their environment.
      assertThat(Guests.sh(d.client, name, "cat \"$CREDENTIALS_DIRECTORY/db.password\"")).isEqualTo(SECRET);
      assertThat(Guests.sh(d.client, name, "od -An -tx1 \"$CREDENTIALS_DIRECTORY/blob.bin\" | tr -d ' \\n'"))
          .isEqualTo(HexFormat.of().formatHex(BINARY));
      assertThat(Guests.sh(d.client, name, "stat -c '%a %U' \"$CREDENTIALS_DIRECTORY\" \"$CREDENTIALS_DIRECTORY/db.password\""))
          .isEqualTo("700 root\n400 root\n");
      assertThat(Guests.sh(d.client, name, "echo \"$http_proxy $HTTPS_PROXY $no_proxy\""))
          .isEqualTo("http://user:pw-secret@10.0.2.2:3128 http://user:pw-secret@10.0.2.2:3128 localhost,127.0.0.1,::1\n");
      GetGuestInfoResponse info = d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
          .getGuestInfo(VmRef.newBuilder().setName(name).build());
      assertThat(info.getCredentialNamesList()).containsExactly("db.password", "blob.bin");
      assertThat(info.getHttpProxy()).isEqualTo("http://***@10.0.2.2:3128");

      d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
      assertThat(state).doesNotExist();
    }
  }
}
