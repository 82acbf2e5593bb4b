package dev.vmlet.spec;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * A systemd credential handed to the guest through SMBIOS (type 11, OEM strings): systemd 252+
 * imports it at boot ({@code /run/credentials/@system/NAME}), and the vmlet agent reads it too.
 * The value is a secret: {@link #toString()} never shows it, and the API returns names only.
 *
 * @param name 1 to {@link #MAX_NAME} characters of letters, digits and {@code . _ - @ +}, not
 *     "." or ".." (a subset of systemd's rule: a valid file name without ':' or '/', and nothing a
 *     shell or the {@code NAME=VALUE} form needs to quote)
 * @param value at most {@link #MAX_VALUE} bytes, any bytes (binary ones travel base64)
 */
public record Credential(String name, byte[] value) {
  public static final int MAX_NAME = 64;
  public static final int MAX_VALUE = 16 * 1024;
  /** All credentials of one VM together, in their encoded form: SMBIOS 2.x tables hold 64 KiB in all. */
  public static final int MAX_TOTAL = 32 * 1024;
  public static final int MAX_COUNT = 32;
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@+-]{1," + MAX_NAME + "}");

  public Credential {
    if (name == null || !NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
      throw VmException.invalid("credentials: name '" + name + "' is not allowed: 1 to " + MAX_NAME
          + " letters, digits and . _ - @ + (systemd's credential names), e.g. db.password");
    }
    value = value == null ? new byte[0] : value.clone();
    if (value.length > MAX_VALUE) {
      throw VmException.invalid("credentials: '" + name + "' is " + value.length + " bytes; at most " + MAX_VALUE
          + " bytes each (SMBIOS tables are small): put a bigger secret on a disk or share and pass its key instead");
    }
  }

  @Override
  public byte[] value() {
    return value.clone();
  }

  /** Whether the value is printable ASCII, so it can travel as is rather than base64. */
  public boolean isText() {
    for (byte b : value) {
      if (b < 0x20 || b > 0x7e) {
        return false;
      }
    }
    return true;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Credential c && c.name.equals(name) && Arrays.equals(c.value, value);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(value);
  }

  /** The name only: a credential's value must not reach a log line. */
  @Override
  public String toString() {
    return "Credential[" + name + ", " + value.length + " bytes]";
  }
}
