package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SshConfigFileTest {
  @TempDir Path tmp;

  private static Vm vm(String name, int port, String user) {
    return Vm.newBuilder().setSpec(VmSpec.newBuilder().setName(name)).setInstanceId("id-" + name).setSshHost("127.0.0.1")
        .setSshPort(port).setSshUser(user).setSshIdentityFile("/var/lib/vmlet/vms/" + name + "/ssh/id_ed25519").build();
  }

  @Test
  void render_oneHostPerVmWithSsh_sortedByName_skipsStoppedAndMicroVms() {
    String text = SshConfigFile.render(List.of(vm("web", 40022, "vmlet"), vm("api", 40023, "vmlet"), vm("stopped", 0, "vmlet"),
        vm("micro", 40024, "")), Path.of("/home/ann/.ssh/config.d/vmlet.known_hosts"), p -> true);
    assertThat(text).contains("""

        Host api.vmlet
          HostName 127.0.0.1
          Port 40023
          User vmlet
          IdentityFile /var/lib/vmlet/vms/api/ssh/id_ed25519
          IdentitiesOnly yes
          HostKeyAlias id-api.vmlet
          UserKnownHostsFile /home/ann/.ssh/config.d/vmlet.known_hosts
          StrictHostKeyChecking accept-new
          HashKnownHosts no
        """);
    assertThat(text.indexOf("Host api.vmlet")).isLessThan(text.indexOf("Host web.vmlet"));
    assertThat(text).doesNotContain("stopped.vmlet").doesNotContain("micro.vmlet");
  }

  @Test
  void render_aKeyThisUserCannotRead_isLeftOut_soItsOwnKeysAreTried() {
    String text = SshConfigFile.render(List.of(vm("web", 40022, "vmlet")), Path.of("/k"), p -> false);
    assertThat(text).doesNotContain("IdentityFile").doesNotContain("IdentitiesOnly").contains("is not readable by you");
  }

  /** The real ssh client reads the file: ssh -G prints what it would use for a host, without connecting. */
  @Test
  void sshItself_resolvesNameDotVmlet_fromTheWrittenFile() throws Exception {
    Path file = tmp.resolve("config.d/vmlet");
    SshConfigFile.write(file, SshConfigFile.render(List.of(vm("web", 40022, "vmlet")), tmp.resolve("kh"), p -> true));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    Process p = new ProcessBuilder("ssh", "-G", "-F", file.toString(), "web.vmlet").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out.lines()).contains("hostname 127.0.0.1", "port 40022", "user vmlet", "hostkeyalias id-web.vmlet",
        "identitiesonly yes", "stricthostkeychecking accept-new", "hashknownhosts no");
  }

  @Test
  void missingInclude_saysTheLine_unlessTheConfigIncludesTheFileOrAllOfConfigD() throws Exception {
    Path home = tmp;
    Path target = home.resolve(".ssh/config.d/vmlet");
    Path config = home.resolve(".ssh/config");
    assertThat(SshConfigFile.missingInclude(config, target, home)).contains("Include ~/.ssh/config.d/vmlet");
    Files.createDirectories(config.getParent());
    Files.writeString(config, "Host old\n  User me\n");
    assertThat(SshConfigFile.missingInclude(config, target, home)).contains("Include ~/.ssh/config.d/vmlet");
    Files.writeString(config, "Include config.d/*\nHost old\n  User me\n");
    assertThat(SshConfigFile.missingInclude(config, target, home)).isEmpty();
    Files.writeString(config, "include ~/.ssh/config.d/vmlet\n");
    assertThat(SshConfigFile.missingInclude(config, target, home)).isEmpty();
    Path elsewhere = home.resolve("other/vmlet.conf");
    assertThat(SshConfigFile.missingInclude(config, elsewhere, home)).contains("Include ~/other/vmlet.conf");
  }
}
