package dev.vmlet.spec;

import dev.vmlet.spec.UserData;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The user's cloud-init input for a cloud image, validated on construction.
 *
 * @param userData "" or a #cloud-config document or script; see {@link UserData#parse}
 * @param sshAuthorizedKey "" or one authorized_keys line
 * @param moreSshAuthorizedKeys more authorized_keys lines (--ssh-key given again, the user's ssh-agent);
 *     with sshAuthorizedKey at most {@link #MAX_KEYS}
 */
public record CloudInitConfig(String userData, String sshAuthorizedKey, List<String> moreSshAuthorizedKeys) {
  /** One authorized_keys line: key type, base64 key, optional comment. */
  public static final Pattern PUBLIC_KEY = Pattern.compile(
      "(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com)"
          + " [A-Za-z0-9+/]+=*( [^\\n]*)?");
  public static final int MAX_KEYS = 32;

  public static final CloudInitConfig NONE = new CloudInitConfig("", "");

  public CloudInitConfig {
    userData = userData == null ? "" : userData;
    sshAuthorizedKey = sshAuthorizedKey == null ? "" : sshAuthorizedKey.strip();
    moreSshAuthorizedKeys = moreSshAuthorizedKeys == null ? List.of() : moreSshAuthorizedKeys.stream().map(String::strip).toList();
    if (!userData.isEmpty()) {
      UserData.parse(userData);
    }
    if (!sshAuthorizedKey.isEmpty() && !PUBLIC_KEY.matcher(sshAuthorizedKey).matches()) {
      throw VmException.invalid("cloud_init.ssh_authorized_key is not one authorized_keys line like 'ssh-ed25519 AAAA... me@host'");
    }
    for (String k : moreSshAuthorizedKeys) {
      if (!PUBLIC_KEY.matcher(k).matches()) {
        throw VmException.invalid("cloud_init.ssh_authorized_keys: '" + (k.length() > 40 ? k.substring(0, 40) + "..." : k)
            + "' is not one authorized_keys line like 'ssh-ed25519 AAAA... me@host'");
      }
    }
    if (moreSshAuthorizedKeys.size() + (sshAuthorizedKey.isEmpty() ? 0 : 1) > MAX_KEYS) {
      throw VmException.invalid("cloud_init.ssh_authorized_keys: at most " + MAX_KEYS + " keys in all, got "
          + (moreSshAuthorizedKeys.size() + (sshAuthorizedKey.isEmpty() ? 0 : 1)));
    }
  }

  /** User-data and one key. */
  public CloudInitConfig(String userData, String sshAuthorizedKey) {
    this(userData, sshAuthorizedKey, List.of());
  }

  /** User-data and any number of keys: the first becomes sshAuthorizedKey (what older daemons know). */
  public static CloudInitConfig of(String userData, List<String> keys) {
    List<String> unique = keys == null ? List.of() : new ArrayList<>(new LinkedHashSet<>(keys.stream().map(String::strip).toList()));
    return unique.isEmpty() ? new CloudInitConfig(userData, "")
        : new CloudInitConfig(userData, unique.get(0), unique.subList(1, unique.size()));
  }

  /** Every key the user gave, once each, in order. */
  public List<String> sshKeys() {
    Set<String> all = new LinkedHashSet<>();
    if (!sshAuthorizedKey.isEmpty()) {
      all.add(sshAuthorizedKey);
    }
    all.addAll(moreSshAuthorizedKeys);
    return List.copyOf(all);
  }

  public boolean isEmpty() {
    return userData.isEmpty() && sshAuthorizedKey.isEmpty() && moreSshAuthorizedKeys.isEmpty();
  }
}
