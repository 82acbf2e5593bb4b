package dev.vmlet.spec;

import java.util.regex.Pattern;
import java.util.Locale;

/**
 * A host PCI device address in sysfs form, {@code DDDD:BB:DD.F} (domain, bus, device, function),
 * lower-case; a short form {@code BB:DD.F} gets domain 0000.
 */
public record PciAddress(String value) {
  private static final Pattern FULL = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]");

  public PciAddress {
    String v = value == null ? "" : value.toLowerCase(Locale.ROOT);
    if (v.length() == 7) {
      v = "0000:" + v;
    }
    if (!FULL.matcher(v).matches()) {
      throw VmException.invalid("gpus: '" + value + "' is not a PCI address like 0000:01:00.0 (see lspci -D)");
    }
    value = v;
  }

  @Override
  public String toString() {
    return value;
  }
}
