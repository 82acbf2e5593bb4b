package dev.vmlet.common.at;

/**
 * Where a stage runs or a redirect reads or writes: {@code @name}, {@code @node/name}, or a label
 * selector {@code @key=value} (every VM with that label). Aliases such as {@code @host} are plain
 * names here; the executor resolves them.
 *
 * @param node the daemon's node, or null for the local one
 * @param name the VM (or alias); null for a selector
 * @param labelKey a selector's key, or null
 * @param labelValue a selector's value, or null
 * @param column 1-based column of the '@'
 */
public record Target(String node, String name, String labelKey, String labelValue, int column) {
  public boolean isSelector() {
    return labelKey != null;
  }

  @Override
  public String toString() {
    return "@" + (isSelector() ? labelKey + "=" + labelValue : (node == null ? "" : node + "/") + name);
  }
}
