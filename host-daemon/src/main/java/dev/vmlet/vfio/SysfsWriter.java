package dev.vmlet.vfio;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes to sysfs attributes, which the kernel acts on ({@code bind}, {@code unbind}, {@code
 * driver_override}). The real one writes the file; tests use a fake kernel that behaves the same.
 */
public interface SysfsWriter {
  /** @throws IOException when the kernel refuses (as the write(2) would fail) */
  void write(Path attribute, String value) throws IOException;

  /** The kernel's: one write of the value to the existing attribute. */
  SysfsWriter KERNEL = (attribute, value) -> Files.write(attribute, value.getBytes(StandardCharsets.US_ASCII),
      StandardOpenOption.WRITE);
}
