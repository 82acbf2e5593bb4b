package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The host's TSC frequency, which a TCG guest's TSC runs at (QEMU's TCG reads the host's counter).
 * A microvm guest has no HPET and no ACPI PM timer to calibrate its TSC against; under host load
 * its PIT calibration fails and the kernel hangs. Telling it the frequency avoids that.
 */
public final class HostTsc {
  private HostTsc() {}

  /** @return kHz from cpuinfo when the host says its TSC is constant, else 0 (unknown) */
  public static long khz(Path cpuinfo) {
    try {
      return parseKhz(Files.readString(cpuinfo));
    } catch (IOException e) {
      return 0;
    }
  }

  static long parseKhz(String cpuinfo) {
    double mhz = 0;
    boolean constant = false;
    for (String line : cpuinfo.split("\n")) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      String key = line.substring(0, colon).strip();
      String value = line.substring(colon + 1).strip();
      if (key.equals("cpu MHz") && mhz == 0) {
        try {
          mhz = Double.parseDouble(value);
        } catch (NumberFormatException e) {
          return 0;
        }
      } else if (key.equals("flags") && !constant) {
        constant = (" " + value + " ").contains(" constant_tsc ");
      }
    }
    return constant ? Math.round(mhz * 1000) : 0;
  }
}
