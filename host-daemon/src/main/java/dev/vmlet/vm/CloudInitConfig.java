package dev.vmlet.vm;

import dev.vmlet.cloudinit.SshKeys;
import dev.vmlet.cloudinit.UserData;

/**
 * The user's cloud-init input for a cloud image, validated on construction.
 *
 * @param userData "" or a #cloud-config document or script; see {@link UserData#parse}
 * @param sshAuthorizedKey "" or one authorized_keys line
 */
public record CloudInitConfig(String userData, String sshAuthorizedKey) {
  public static final CloudInitConfig NONE = new CloudInitConfig("", "");

  public CloudInitConfig {
    userData = userData == null ? "" : userData;
    sshAuthorizedKey = sshAuthorizedKey == null ? "" : sshAuthorizedKey.strip();
    if (!userData.isEmpty()) {
      UserData.parse(userData);
    }
    if (!sshAuthorizedKey.isEmpty() && !SshKeys.PUBLIC_KEY.matcher(sshAuthorizedKey).matches()) {
      throw VmException.invalid("cloud_init.ssh_authorized_key is not one authorized_keys line like 'ssh-ed25519 AAAA... me@host'");
    }
  }

  public boolean isEmpty() {
    return userData.isEmpty() && sshAuthorizedKey.isEmpty();
  }
}
