package dev.vmlet.vm;

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
 */
public record VmConfig(String name, int vcpus, long memoryMib, String image, String accel) {
  public static final int MAX_NAME = 63;
  public static final int MAX_VCPUS = 64;
  public static final long MIN_MEMORY_MIB = 128;
  public static final long MAX_MEMORY_MIB = 1024 * 1024;
  public static final int DEFAULT_VCPUS = 1;
  public static final long DEFAULT_MEMORY_MIB = 512;

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
  public static VmConfig withDefaults(String name, int vcpus, long memoryMib, String image, String accel) {
    return new VmConfig(
        name,
        vcpus == 0 ? DEFAULT_VCPUS : vcpus,
        memoryMib == 0 ? DEFAULT_MEMORY_MIB : memoryMib,
        image == null || image.isEmpty() ? "micro" : image,
        accel == null || accel.isEmpty() ? "auto" : accel);
  }
}
