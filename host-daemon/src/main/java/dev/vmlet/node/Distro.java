package dev.vmlet.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The host's distribution family, for install commands: apt, dnf, pacman or apk. */
public enum Distro {
  APT("apt-get install -y "), DNF("dnf install -y "), PACMAN("pacman -S --needed "), APK("apk add "), UNKNOWN("");

  private final String install;

  Distro(String install) {
    this.install = install;
  }

  /** Package names per family, by what vmlet needs. */
  private static final Map<String, List<String>> PACKAGES = Map.of(
      "qemu-system-x86_64", List.of("qemu-system-x86", "qemu-system-x86-core", "qemu-system-x86", "qemu-system-x86_64"),
      "qemu-img", List.of("qemu-utils", "qemu-img", "qemu-img", "qemu-img"),
      "xorriso", List.of("xorriso", "xorriso", "libisoburn", "xorriso"),
      "mmdebstrap", List.of("mmdebstrap", "mmdebstrap", "mmdebstrap", "mmdebstrap"),
      "ssh", List.of("openssh-client", "openssh-clients", "openssh", "openssh-client"),
      "ovmf", List.of("ovmf", "edk2-ovmf", "edk2-ovmf", "ovmf"));

  /** From {@code etc/os-release} under {@code root}: ID, then ID_LIKE. */
  static Distro detect(Path root) {
    String text;
    try {
      text = Files.readString(root.resolve("etc/os-release"));
    } catch (IOException e) {
      return UNKNOWN;
    }
    String ids = field(text, "ID") + " " + field(text, "ID_LIKE");
    for (String id : ids.split("\\s+")) {
      switch (id) {
        case "debian", "ubuntu" -> {
          return APT;
        }
        case "fedora", "rhel", "centos" -> {
          return DNF;
        }
        case "arch" -> {
          return PACMAN;
        }
        case "alpine" -> {
          return APK;
        }
        default -> { }
      }
    }
    return UNKNOWN;
  }

  static String field(String osRelease, String key) {
    for (String line : osRelease.split("\n")) {
      if (line.startsWith(key + "=")) {
        return line.substring(key.length() + 1).replace("\"", "").strip();
      }
    }
    return "";
  }

  /** The command that installs what provides {@code need} here; every family's when unknown. */
  String install(String need) {
    List<String> p = PACKAGES.get(need);
    if (this == UNKNOWN) {
      return "apt-get install -y " + p.get(0) + " | dnf install -y " + p.get(1) + " | pacman -S --needed " + p.get(2) + " | apk add "
          + p.get(3);
    }
    return install + p.get(ordinal());
  }
}
