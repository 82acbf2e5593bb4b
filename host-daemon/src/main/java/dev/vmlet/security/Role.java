package dev.vmlet.security;

import java.util.Locale;

/** What a caller may do; each role may do everything the ones before it may. */
public enum Role {
  /** Get, List, Watch, info. */
  VIEWER,
  /** Lifecycle, exec, files, @target lines on VMs. */
  OPERATOR,
  /** Everything: @host when enabled, GPUs, certificates. */
  ADMIN;

  public boolean allows(Role needed) {
    return compareTo(needed) >= 0;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** @throws IllegalArgumentException naming the roles */
  public static Role parse(String s) {
    try {
      return valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown role '" + s + "'; give viewer, operator or admin");
    }
  }
}
