package dev.vmlet.spec;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The rules for what a VM is told through SMBIOS OEM strings (type 11): systemd credentials and
 * vmlet's proxy setting, and their encoding. Pure: the same config gives the same strings.
 *
 * <p>A credential is {@code io.systemd.credential:NAME=VALUE} when its value is printable ASCII,
 * else {@code io.systemd.credential.binary:NAME=BASE64} (systemd's two forms). The proxy is
 * {@code vmlet.http_proxy=URL}, which systemd ignores and the agent reads.
 */
public final class GuestSettings {
  public static final String TEXT_PREFIX = "io.systemd.credential:";
  public static final String BINARY_PREFIX = "io.systemd.credential.binary:";
  public static final String PROXY_PREFIX = "vmlet.http_proxy=";
  public static final int MAX_PROXY = 512;

  private GuestSettings() {}

  static void check(List<Credential> credentials, String httpProxy, Platform platform) {
    if (credentials.size() > Credential.MAX_COUNT) {
      throw VmException.invalid("credentials: at most " + Credential.MAX_COUNT + ", got " + credentials.size());
    }
    Set<String> names = new HashSet<>();
    for (Credential c : credentials) {
      if (!names.add(c.name())) {
        throw VmException.invalid("credentials: the name '" + c.name() + "' is given twice; give each credential once");
      }
    }
    checkProxy(httpProxy);
    int total = oemStrings(credentials, httpProxy).stream().mapToInt(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
    if (total > Credential.MAX_TOTAL) {
      throw VmException.invalid("credentials: " + total + " bytes in all once encoded (binary values grow by a third in base64);"
          + " at most " + Credential.MAX_TOTAL + ": pass fewer or smaller ones");
    }
    if (platform.microvm() && (!credentials.isEmpty() || !httpProxy.isEmpty())) {
      throw VmException.invalid("credentials and http_proxy travel in SMBIOS tables, which machine microvm does not have: use machine q35");
    }
  }

  /** http or https, a host, an optional port and user info; nothing a YAML string or a shell line would need quoted. */
  static void checkProxy(String proxy) {
    if (proxy.isEmpty()) {
      return;
    }
    String example = "; e.g. http://proxy.example:3128";
    if (proxy.length() > MAX_PROXY || !proxy.matches("[A-Za-z0-9._~:/?#@!$&()*+,;=%\\[\\]-]+")) {
      throw VmException.invalid("http_proxy must be a URL of at most " + MAX_PROXY + " characters without spaces, quotes"
          + " or backslashes (percent-encode them)" + example);
    }
    URI uri;
    try {
      uri = new URI(proxy);
    } catch (URISyntaxException e) {
      throw VmException.invalid("http_proxy '" + redactUserInfo(proxy) + "' is not a URL: " + e.getReason() + example);
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
      throw VmException.invalid("http_proxy '" + redactUserInfo(proxy) + "' must be http:// or https:// with a host" + example);
    }
  }

  /** The URL with any user:password replaced by "***", for messages. */
  public static String redactUserInfo(String proxy) {
    return proxy.replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1***@");
  }

  /** The OEM strings, one per credential then the proxy's, each a string of printable ASCII. */
  public static List<String> oemStrings(List<Credential> credentials, String httpProxy) {
    List<String> out = new ArrayList<>();
    for (Credential c : credentials) {
      out.add(c.isText()
          ? TEXT_PREFIX + c.name() + "=" + new String(c.value(), StandardCharsets.US_ASCII)
          : BINARY_PREFIX + c.name() + "=" + Base64.getEncoder().encodeToString(c.value()));
    }
    if (!httpProxy.isEmpty()) {
      out.add(PROXY_PREFIX + httpProxy);
    }
    return out;
  }

  /** The OEM strings of {@code config}. */
  public static List<String> oemStrings(VmConfig config) {
    return oemStrings(config.credentials(), config.httpProxy());
  }
}
