package dev.vmlet.agent;

import dev.vmlet.proto.v1.GuestInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
}
