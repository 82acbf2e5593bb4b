package dev.vmlet.spec;

import dev.vmlet.spec.UserData;
import java.util.regex.Pattern;

/**
 * The user's cloud-init input for a cloud image, validated on construction.
 *
 * @param userData "" or a #cloud-config document or script; see {@link UserData#parse}
 * @param sshAuthorizedKey "" or one authorized_keys line
 */
public record CloudInitConfig(String userData, String sshAuthorizedKey) {
  /** One authorized_keys line: key type, base64 key, optional comment. */
  public static final Pattern PUBLIC_KEY = Pattern.compile(
      "(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com) [A-Za-z0-9+/]+=*( [^\\n]*)?");

  public static final CloudInitConfig NONE = new CloudInitConfig("", "");

  public CloudInitConfig {
    userData = userData == null ? "" : userData;
    sshAuthorizedKey = sshAuthorizedKey == null ? "" : sshAuthorizedKey.strip();
    if (!userData.isEmpty()) {
      UserData.parse(userData);
    }
    if (!sshAuthorizedKey.isEmpty() && !PUBLIC_KEY.matcher(sshAuthorizedKey).matches()) {
      throw VmException.invalid("cloud_init.ssh_authorized_key is not one authorized_keys line like 'ssh-ed25519 AAAA... me@host'");
    }
  }

  public boolean isEmpty() {
    return userData.isEmpty() && sshAuthorizedKey.isEmpty();
  }
}
