package dev.vmlet.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Comparator;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What the host told this VM in its SMBIOS OEM strings (type 11): systemd credentials
 * ({@code io.systemd.credential:NAME=VALUE}, {@code io.systemd.credential.binary:NAME=BASE64}) and
 * vmlet's proxy ({@code vmlet.http_proxy=URL}). Read once per agent from the kernel's DMI entries
 * ({@code /sys/firmware/dmi/entries/11-N/raw}, root only): SMBIOS tables do not change while a guest
 * runs. The agent, when root, puts each credential in {@link #CREDENTIALS_DIR} (0700, files 0400),
 * and the programs it runs get {@code CREDENTIALS_DIRECTORY} and the proxy variables.
 */
final class SmbiosSettings {
  private static final Logger LOG = Logger.getLogger(SmbiosSettings.class.getName());
  static final Path DMI_ENTRIES = Path.of("/sys/firmware/dmi/entries");
  static final Path CREDENTIALS_DIR = Path.of("/run/vmlet/credentials");
  static final String TEXT = "io.systemd.credential:";
  static final String BINARY = "io.systemd.credential.binary:";
  static final String PROXY = "vmlet.http_proxy=";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@+-]{1,64}");
  static final SmbiosSettings NONE = new SmbiosSettings(Map.of(), "", null);

  private static volatile SmbiosSettings current;

  private final Map<String, byte[]> credentials;
  private final String httpProxy;
  private final Path installedIn;

  private SmbiosSettings(Map<String, byte[]> credentials, String httpProxy, Path installedIn) {
    this.credentials = Collections.unmodifiableMap(new LinkedHashMap<>(credentials));
    this.httpProxy = httpProxy;
    this.installedIn = installedIn;
  }

  /** This guest's settings once {@link #load} ran; none before (an agent in a test on the host reads nothing). */
  static SmbiosSettings current() {
    SmbiosSettings s = current;
    return s == null ? NONE : s;
  }

  /** Reads this guest's OEM strings and, as root, installs its credentials; the agent's start does it once. */
  static synchronized SmbiosSettings load() {
    SmbiosSettings read = parse(readOemStrings(DMI_ENTRIES));
    current = GuestFacts.isRoot() ? read.install(CREDENTIALS_DIR) : read;
    return current;
  }

  /** The strings of every type-11 entry under {@code entries}, in entry order; none where there is no such directory. */
  static List<String> readOemStrings(Path entries) {
    List<String> out = new ArrayList<>();
    if (!Files.isDirectory(entries)) {
      return out;
    }
    List<Path> dirs = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(entries, "11-*")) {
      ds.forEach(dirs::add);
    } catch (IOException e) {
      LOG.warning("cannot list " + entries + ": " + e.getMessage());
      return out;
    }
    dirs.sort(Comparator.comparingInt(d -> Integer.parseInt(d.getFileName().toString().substring(3).replaceAll("\\D", "0"))));
    for (Path d : dirs) {
      try {
        out.addAll(structureStrings(Files.readAllBytes(d.resolve("raw"))));
      } catch (IOException e) {
        LOG.warning("cannot read " + d.resolve("raw") + " (root only): " + e.getMessage());
      }
    }
    return out;
  }

  /**
   * The strings of one raw SMBIOS structure: after the formatted area (its length is byte 1), one
   * NUL-terminated string after another, and an empty one at the end.
   */
  static List<String> structureStrings(byte[] raw) {
    List<String> out = new ArrayList<>();
    if (raw.length < 2) {
      return out;
    }
    int i = raw[1] & 0xff;
    while (i < raw.length) {
      int end = i;
      while (end < raw.length && raw[end] != 0) {
        end++;
      }
      if (end == i) {
        break;
      }
      out.add(new String(raw, i, end - i, StandardCharsets.ISO_8859_1));
      i = end + 1;
    }
    return out;
  }

  /** The credentials and proxy among {@code strings}; others (and bad names) are skipped. */
  static SmbiosSettings parse(List<String> strings) {
    Map<String, byte[]> creds = new LinkedHashMap<>();
    String proxy = "";
    for (String s : strings) {
      boolean binary = s.startsWith(BINARY);
      if (binary || s.startsWith(TEXT)) {
        String rest = s.substring(binary ? BINARY.length() : TEXT.length());
        int eq = rest.indexOf('=');
        String name = eq < 0 ? rest : rest.substring(0, eq);
        if (eq < 0 || !NAME.matcher(name).matches()) {
          LOG.warning("skipping an SMBIOS credential with a bad name or no '=': '" + name + "'");
          continue;
        }
        try {
          byte[] value = binary ? Base64.getDecoder().decode(rest.substring(eq + 1).strip())
              : rest.substring(eq + 1).getBytes(StandardCharsets.ISO_8859_1);
          creds.putIfAbsent(name, value);
        } catch (IllegalArgumentException e) {
          LOG.warning("skipping SMBIOS credential '" + name + "': its value is not base64");
        }
      } else if (s.startsWith(PROXY)) {
        proxy = s.substring(PROXY.length());
      }
    }
    return new SmbiosSettings(creds, proxy, null);
  }

  /**
   * Writes each credential to {@code dir} (emptied first; 0700, files 0400) and returns settings
   * that point programs there. When it cannot, it says why and programs get no directory.
   */
  SmbiosSettings install(Path dir) {
    if (credentials.isEmpty()) {
      return this;
    }
    try {
      if (Files.exists(dir)) {
        try (Stream<Path> old = Files.list(dir)) {
          for (Path p : old.toList()) {
            Files.delete(p);
          }
        }
      } else {
        Files.createDirectories(dir.getParent());
        Files.createDirectory(dir);
      }
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      for (Map.Entry<String, byte[]> c : credentials.entrySet()) {
        Path f = dir.resolve(c.getKey());
        Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(f, c.getValue());
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("r--------"));
      }
      LOG.info("SMBIOS credentials in " + dir + ": " + String.join(", ", credentials.keySet()));
      return new SmbiosSettings(credentials, httpProxy, dir);
    } catch (IOException | UnsupportedOperationException e) {
      LOG.warning("cannot put the SMBIOS credentials in " + dir + ": " + e.getMessage() + "; programs get no CREDENTIALS_DIRECTORY");
      return this;
    }
  }

  /** What the agent adds to its programs' environment (a request's own variables win). */
  Map<String, String> environment() {
    Map<String, String> env = new LinkedHashMap<>();
    if (installedIn != null) {
      env.put("CREDENTIALS_DIRECTORY", installedIn.toString());
    }
    if (!httpProxy.isEmpty()) {
      for (String v : List.of("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")) {
        env.put(v, httpProxy);
      }
      env.put("no_proxy", "localhost,127.0.0.1,::1");
      env.put("NO_PROXY", "localhost,127.0.0.1,::1");
    }
    return env;
  }

  List<String> credentialNames() {
    return List.copyOf(credentials.keySet());
  }

  byte[] credential(String name) {
    byte[] v = credentials.get(name);
    return v == null ? null : v.clone();
  }

  /** The proxy with any user:password shown as ***. */
  String httpProxyShown() {
    return httpProxy.replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1***@");
  }
}
