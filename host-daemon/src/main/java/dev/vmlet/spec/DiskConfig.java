package dev.vmlet.spec;

import java.util.regex.Pattern;

/**
 * One virtio disk of a VM, validated on construction. Its data lives in a qcow2 overlay in the
 * VM's state directory; the base image, if any, is only ever read.
 *
 * @param name 1 to 32 lower-case letters, digits and '-'
 * @param baseImage absolute path, or "" for a blank disk
 * @param sizeMib blank disks: 1 MiB to 16 TiB; with a base: 0 (the base's size) or more
 * @param ephemeral recreated on every start
 */
public record DiskConfig(String name, String baseImage, long sizeMib, boolean ephemeral) {
  public static final long MAX_SIZE_MIB = 16L * 1024 * 1024;
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

  public DiskConfig {
    baseImage = baseImage == null ? "" : baseImage;
    if (name == null || !NAME.matcher(name).matches()) {
      throw VmException.invalid("disks.name '" + name + "' is not allowed: 1 to 32 lower-case letters, digits and '-'");
    }
    if (!baseImage.isEmpty() && !baseImage.startsWith("/")) {
      throw VmException.invalid("disks[" + name + "].base_image must be an absolute path, got '" + baseImage + "'");
    }
    if (sizeMib < 0 || sizeMib > MAX_SIZE_MIB) {
      throw VmException.invalid("disks[" + name + "].size_mib must be at most " + MAX_SIZE_MIB + ", got " + sizeMib);
    }
    if (baseImage.isEmpty() && sizeMib == 0) {
      throw VmException.invalid("disks[" + name + "] needs a base_image or a size_mib");
    }
  }
}
