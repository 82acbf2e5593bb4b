package dev.vmlet.vm;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a VM is made of, validated on construction: a bad field is an {@link VmException} of kind
 * INVALID_ARGUMENT that names the field, what is allowed, and what was given.
 *
 * @param name 1 to 63 characters, lower-case letters, digits and '-', starting with a letter or digit
 * @param vcpus 1 to {@link #MAX_VCPUS}
 * @param memoryMib {@link #MIN_MEMORY_MIB} to {@link #MAX_MEMORY_MIB}
 * @param image "micro" (the only image of this version)
 * @param accel "auto", "kvm" or "tcg"
 * @param forwards user-mode network port forwards, at most {@link #MAX_FORWARDS}, no host port twice
 * @param labels at most {@link #MAX_LABELS}; see {@link #LABEL_KEY} and {@link #LABEL_VALUE}
 * @param disks at most {@link #MAX_DISKS}, names unique
 * @param tuning balloon, hugepages and CPU pinning; pinning lists one host CPU per vCPU
 * @param platform machine type and firmware
 */
public record VmConfig(
    String name, int vcpus, long memoryMib, String image, String accel, List<PortForward> forwards,
    Map<String, String> labels, List<DiskConfig> disks, Tuning tuning, Platform platform) {
  public static final int MAX_NAME = 63;
  public static final int MAX_VCPUS = 64;
  public static final long MIN_MEMORY_MIB = 128;
  public static final long MAX_MEMORY_MIB = 1024 * 1024;
  public static final int DEFAULT_VCPUS = 1;
  public static final long DEFAULT_MEMORY_MIB = 512;
  public static final int MAX_FORWARDS = 64;
  public static final int MAX_LABELS = 32;
  public static final int MAX_DISKS = 16;
  public static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");
  public static final Pattern LABEL_VALUE = Pattern.compile("[A-Za-z0-9._-]{0,63}");

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");

  public VmConfig {
    validateName(name);
    if (vcpus < 1 || vcpus > MAX_VCPUS) {
      throw VmException.invalid("vcpus must be between 1 and " + MAX_VCPUS + ", got " + vcpus);
    }
    if (memoryMib < MIN_MEMORY_MIB || memoryMib > MAX_MEMORY_MIB) {
      throw VmException.invalid(
          "memory_mib must be between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB + ", got " + memoryMib);
    }
    if (!image.equals("micro")) {
      throw VmException.invalid("image must be 'micro' (the only image of this version), got '" + image + "'");
    }
    if (!accel.equals("auto") && !accel.equals("kvm") && !accel.equals("tcg")) {
      throw VmException.invalid("accel must be auto, kvm or tcg, got '" + accel + "'");
    }
    forwards = forwards == null ? List.of() : List.copyOf(forwards);
    if (forwards.size() > MAX_FORWARDS) {
      throw VmException.invalid("forwards: at most " + MAX_FORWARDS + ", got " + forwards.size());
    }
    Set<String> seen = new HashSet<>();
    for (PortForward f : forwards) {
      if (f.hostPort() != 0 && !seen.add(f.protocol() + " " + f.hostAddress() + " " + f.hostPort())) {
        throw VmException.invalid("forwards: host port " + f.hostPort() + "/" + f.protocol() + " is given twice");
      }
    }
    labels = labels == null ? Map.of() : Map.copyOf(new TreeMap<>(labels));
    if (labels.size() > MAX_LABELS) {
      throw VmException.invalid("labels: at most " + MAX_LABELS + ", got " + labels.size());
    }
    for (Map.Entry<String, String> l : labels.entrySet()) {
      if (!LABEL_KEY.matcher(l.getKey()).matches()) {
        throw VmException.invalid("labels: key '" + l.getKey() + "' is not allowed: letters, digits, '.', '_', '-', '/', at most 63");
      }
      if (!LABEL_VALUE.matcher(l.getValue()).matches()) {
        throw VmException.invalid("labels: value '" + l.getValue() + "' of '" + l.getKey()
            + "' is not allowed: letters, digits, '.', '_', '-', at most 63");
      }
    }
    disks = disks == null ? List.of() : List.copyOf(disks);
    if (disks.size() > MAX_DISKS) {
      throw VmException.invalid("disks: at most " + MAX_DISKS + ", got " + disks.size());
    }
    Set<String> diskNames = new HashSet<>();
    for (DiskConfig d : disks) {
      if (!diskNames.add(d.name())) {
        throw VmException.invalid("disks: the name '" + d.name() + "' is given twice");
      }
    }
    tuning = tuning == null ? Tuning.NONE : tuning;
    platform = platform == null ? Platform.DEFAULT : platform;
    if (!tuning.cpuPinning().isEmpty() && tuning.cpuPinning().size() != vcpus) {
      throw VmException.invalid("cpu_pinning must name one host CPU per vCPU: " + vcpus + " vCPUs, "
          + tuning.cpuPinning().size() + " CPUs given");
    }
    if (tuning.hugepages() && memoryMib % 2 != 0) {
      throw VmException.invalid("memory_mib must be a multiple of 2 with hugepages (2 MiB pages), got " + memoryMib);
    }
  }

  /** A config without port forwards, labels, disks or tuning. */
  public VmConfig(String name, int vcpus, long memoryMib, String image, String accel) {
    this(name, vcpus, memoryMib, image, accel, List.of(), Map.of(), List.of(), Tuning.NONE, Platform.DEFAULT);
  }

  /** The same config with one disk replaced (matched by name). */
  public VmConfig withDisk(DiskConfig disk) {
    List<DiskConfig> list = disks.stream().map(d -> d.name().equals(disk.name()) ? disk : d).toList();
    return new VmConfig(name, vcpus, memoryMib, image, accel, forwards, labels, list, tuning, platform);
  }

  /** Checks a VM name; the message says what is allowed. */
  public static void validateName(String name) {
    if (name == null || name.isEmpty()) {
      throw VmException.invalid("name must not be empty");
    }
    if (name.length() > MAX_NAME) {
      throw VmException.invalid("name must be at most " + MAX_NAME + " characters, got " + name.length());
    }
    if (!NAME.matcher(name).matches()) {
      throw VmException.invalid(
          "name '" + name + "' is not allowed: use lower-case letters, digits and '-', starting with a letter or digit");
    }
  }

  /** Applies defaults for unset (zero or empty) fields, then validates. */
  public static VmConfig withDefaults(String name, int vcpus, long memoryMib, String image, String accel,
      List<PortForward> forwards, Map<String, String> labels, List<DiskConfig> disks, Tuning tuning,
      Platform platform) {
    return new VmConfig(
        name,
        vcpus == 0 ? DEFAULT_VCPUS : vcpus,
        memoryMib == 0 ? DEFAULT_MEMORY_MIB : memoryMib,
        image == null || image.isEmpty() ? "micro" : image,
        accel == null || accel.isEmpty() ? "auto" : accel,
        forwards,
        labels,
        disks,
        tuning,
        platform);
  }
}
