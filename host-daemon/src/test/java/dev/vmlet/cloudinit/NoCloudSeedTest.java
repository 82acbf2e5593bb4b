package dev.vmlet.cloudinit;

import dev.vmlet.spec.Share;
import dev.vmlet.spec.UserData;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;
import dev.vmlet.spec.CloudInitConfig;
import java.nio.file.attribute.PosixFilePermissions;

class NoCloudSeedTest {
  @TempDir Path dir;

  @Test
  void metaDataAndNetworkConfig_areTheYamlCloudInitExpects() {
    Map<String, Object> meta = new Yaml().load(NoCloudSeed.metaData("id-1", "web"));
    assertThat(meta).containsEntry("instance-id", "id-1").containsEntry("local-hostname", "web");
    Map<String, Object> net = new Yaml().load(NoCloudSeed.networkConfig("52:54:00:aa:bb:cc"));
    assertThat(net).containsEntry("version", 2);
    assertThat(net.get("ethernets").toString()).contains("macaddress=52:54:00:aa:bb:cc").contains("dhcp4=true");
  }

  @Test
  void vmletsPart_isACloudConfigWithTheUserTheKeysTheInstanceIdAndTheAgentInstall() {
    Map<String, Object> cfg = new Yaml().load(NoCloudSeed.vmletCloudConfig("id-1", List.of("ssh-ed25519 AAAA k1", "ssh-rsa BBBB k2")));
    assertThat(cfg.get("users").toString()).contains("name=vmlet").contains("ssh-ed25519 AAAA k1").contains("ssh-rsa BBBB k2");
    assertThat(cfg.get("write_files").toString()).contains("/etc/vmlet/instance-id").contains("id-1");
    assertThat(cfg.get("bootcmd").toString()).contains("cloud-init-per, instance").contains("LABEL=VMLETAGENT").contains("install.sh");
  }

  @Test
  void vmletsPart_withAProxy_setsAptsProxyAndAppendsTheVariablesToEtcEnvironment() {
    Map<String, Object> cfg = new Yaml().load(NoCloudSeed.vmletCloudConfig("id-1", List.of(), false, List.of(), "http://10.0.2.2:3128"));
    assertThat(cfg.get("apt")).isEqualTo(Map.of("http_proxy", "http://10.0.2.2:3128", "https_proxy", "http://10.0.2.2:3128"));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> files = (List<Map<String, Object>>) cfg.get("write_files");
    Map<String, Object> env = files.stream().filter(f -> f.get("path").equals("/etc/environment")).findFirst().orElseThrow();
    assertThat(env).containsEntry("append", true);
    assertThat(env.get("content").toString()).contains("http_proxy=http://10.0.2.2:3128\n").contains("HTTPS_PROXY=http://10.0.2.2:3128\n")
        .contains("no_proxy=localhost,127.0.0.1,::1");
    assertThat(NoCloudSeed.vmletCloudConfig("id-1", List.of(), false, List.of(), "")).doesNotContain("proxy");
  }

  @Test
  void vmletsPart_mountsEachShareAtEveryBoot_readOnlyOnesRo() {
    Map<String, Object> cfg = new Yaml().load(NoCloudSeed.vmletCloudConfig("id-1", List.of(), false,
        List.of(new Share("/srv/w", "/mnt/work", false), new Share("/srv/in", "/mnt/in", true))));
    @SuppressWarnings("unchecked")
    List<Object> bootcmd = (List<Object>) cfg.get("bootcmd");
    assertThat(bootcmd).hasSize(3);
    assertThat(bootcmd.get(1)).isEqualTo(List.of("sh", "-c", "mkdir -p /mnt/work && mount -t virtiofs -o rw vmlet0 /mnt/work"));
    assertThat(bootcmd.get(2)).isEqualTo(List.of("sh", "-c", "mkdir -p /mnt/in && mount -t virtiofs -o ro vmlet1 /mnt/in"));
  }

  @Test
  void userData_isMultipart_withVmletsPartFirst_andTheUsersUnchanged_bothMergingLists() {
    String user = "#cloud-config\nruncmd:\n  - echo mine\n";
    String mime = NoCloudSeed.userData("id-1", List.of("ssh-ed25519 AAAA k"), UserData.parse(user));
    assertThat(mime).startsWith("Content-Type: multipart/mixed; boundary=\"==vmlet-id-1==\"");
    assertThat(mime.indexOf("filename=\"vmlet.cfg\"")).isLessThan(mime.indexOf("filename=\"user.cfg\""));
    assertThat(mime).contains(user).endsWith("--==vmlet-id-1==--\n");
    assertThat(mime.split("Merge-Type: list\\(append\\)", -1)).hasSize(3);
  }

  @Test
  void aScript_isAShellScriptPart() {
    String mime = NoCloudSeed.userData("i", List.of(), UserData.parse("#!/bin/sh\necho hi\n"));
    assertThat(mime).contains("Content-Type: text/x-shellscript").contains("filename=\"user.sh\"");
  }

  @Test
  void userData_refusesWhatCloudInitWouldNotRun() {
    assertThatThrownBy(() -> UserData.parse("#cloud-config\nruncmd: [a\n")).hasMessageContaining("not valid YAML");
    assertThatThrownBy(() -> UserData.parse("#cloud-config\n- a list\n")).hasMessageContaining("must be a YAML mapping");
    assertThatThrownBy(() -> UserData.parse("write_files: []\n")).hasMessageContaining("must start with #cloud-config");
    assertThatThrownBy(() -> UserData.parse("#cloud-config\n" + "x".repeat(UserData.MAX_BYTES))).hasMessageContaining("at most");
    assertThat(UserData.parse("#cloud-config\n").contentType()).isEqualTo("text/cloud-config");
  }

  @Test
  void sshKeys_areOpenSshEd25519_madeOnce_withAPrivateFileOnlyTheOwnerReads() throws Exception {
    String pub = SshKeys.ensure(dir, "vmlet@web");
    assertThat(pub).matches("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} vmlet@web");
    assertThat(CloudInitConfig.PUBLIC_KEY.matcher(pub).matches()).isTrue();
    String priv = Files.readString(dir.resolve("id_ed25519"));
    assertThat(priv).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE").endsWith("-----END OPENSSH PRIVATE KEY-----\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("id_ed25519")))).isEqualTo("rw-------");
    assertThat(SshKeys.ensure(dir, "vmlet@web")).isEqualTo(pub);
    // OpenSSH itself reads the private key back to the same public key.
    Process p = new ProcessBuilder("ssh-keygen", "-y", "-f", dir.resolve("id_ed25519").toString()).redirectErrorStream(true).start();
    String derived = new String(p.getInputStream().readAllBytes()).strip();
    assertThat(p.waitFor()).as(derived).isZero();
    assertThat(pub).startsWith(derived.split(" ")[0] + " " + derived.split(" ")[1]);
  }
}
