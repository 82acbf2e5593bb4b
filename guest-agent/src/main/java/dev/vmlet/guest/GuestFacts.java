package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.GuestInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.vmlet.proto.agent.v1.GuestDisk;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.agent.v1.NetworkAddress;
import dev.vmlet.proto.agent.v1.NativeSetup;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;

/** What the agent tells the host about its guest, read from /proc and /etc. */
final class GuestFacts {
  private GuestFacts() {}

  static GuestInfo read() {
    return GuestInfo.newBuilder()
        .setOs(System.getProperty("os.name", ""))
        .setOsRelease(osRelease(Path.of("/etc/os-release")).orElse(""))
        .setKernel(System.getProperty("os.version", ""))
        .setArch(System.getProperty("os.arch", ""))
        .setHostname(firstLine(Path.of("/proc/sys/kernel/hostname")).orElse(System.getenv().getOrDefault("HOSTNAME", "")))
        .build();
  }

  static String bootId() {
    return firstLine(Path.of("/proc/sys/kernel/random/boot_id")).orElse("");
  }

  /**
   * A new id for this start of the agent: the kernel's (a fresh random version-4 UUID at each read of
   * /proc/sys/kernel/random/uuid), elsewhere {@link UUID#randomUUID}. It must be unique, not secret;
   * the kernel's spares the agent's start the set-up of Java's SecureRandom before its first Hello
   * (under TCG a third of main() to Hello; docs/benchmarks.md).
   */
  static String newStartId() {
    return firstLine(Path.of("/proc/sys/kernel/random/uuid")).filter(id -> id.length() == 36)
        .orElseGet(() -> UUID.randomUUID().toString());
  }

  /** PRETTY_NAME from an os-release file. */
  static Optional<String> osRelease(Path file) {
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.startsWith("PRETTY_NAME=")) {
          return Optional.of(line.substring("PRETTY_NAME=".length()).replaceAll("^\"|\"$", ""));
        }
      }
    } catch (IOException e) {
      // no os-release in a minimal guest
    }
    return Optional.empty();
  }

  /** The value of {@code key=value} on a kernel command line. */
  static Optional<String> kernelParameter(String cmdline, String key) {
    Matcher m = Pattern.compile("(?:^|\\s)" + Pattern.quote(key) + "=(\\S+)").matcher(cmdline);
    return m.find() ? Optional.of(m.group(1)) : Optional.empty();
  }

  static Optional<String> firstLine(Path file) {
    try {
      return Files.readAllLines(file).stream().findFirst().map(String::strip);
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Whether the agent runs as root (uid 0), from /proc/self/status; false where there is none. */
  static boolean isRoot() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return line.split("\\s+")[1].equals("0");
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return false;
  }

  /** The guest as it is now: addresses, uptime, load, memory, file systems. */
  static GuestInfoReply info(String agentVersion) {
    SmbiosSettings smbios = SmbiosSettings.current();
    var b = GuestInfoReply.newBuilder().setGuest(read()).setAgentVersion(agentVersion).setAgentIsRoot(isRoot())
        .addAllCredentialNames(smbios.credentialNames()).setHttpProxy(smbios.httpProxyShown())
        // Windows guests start programs the JDK's way and never make the set-up.
        .setNativeSetup(GuestPlatform.current().isWindows() ? NativeSetup.NATIVE_SETUP_UNAVAILABLE : ExecRunner.SpawnLoad.state());
    try {
      for (var nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (var a : nif.getInterfaceAddresses()) {
          String addr = a.getAddress().getHostAddress().replaceAll("%.*$", "");
          b.addAddresses(NetworkAddress.newBuilder().setInterface(nif.getName()).setAddress(addr)
              .setPrefixLength(Math.max(0, a.getNetworkPrefixLength())));
        }
      }
    } catch (SocketException e) {
      // no interfaces to report
    }
    firstLine(Path.of("/proc/uptime")).ifPresent(l -> b.setUptimeSeconds(Double.parseDouble(l.split(" ")[0])));
    firstLine(Path.of("/proc/loadavg")).ifPresent(l -> {
      String[] f = l.split(" ");
      for (int i = 0; i < 3 && i < f.length; i++) {
        b.addLoadAverage(Double.parseDouble(f[i]));
      }
    });
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        String[] f = line.split("\\s+");
        if (f[0].equals("MemTotal:")) {
          b.setMemoryTotalBytes(Long.parseLong(f[1]) * 1024);
        } else if (f[0].equals("MemAvailable:")) {
          b.setMemoryAvailableBytes(Long.parseLong(f[1]) * 1024);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
        String[] f = line.split(" ");
        // Block devices only: not proc, sysfs, tmpfs, cgroups and the like.
        if (f.length < 3 || !f[0].startsWith("/dev/")) {
          continue;
        }
        String mount = f[1].replace("\\040", " ");
        try {
          var store = Files.getFileStore(Path.of(mount));
          b.addDisks(GuestDisk.newBuilder().setMountPoint(mount).setFileSystem(f[2])
              .setTotalBytes(store.getTotalSpace()).setFreeBytes(store.getUsableSpace()));
        } catch (IOException e) {
          // unmounted meanwhile
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return b.build();
  }
}
