package dev.vmlet.common.at;

import java.util.List;

/**
 * A stage that controls its target instead of running a command: {@code --pause}, {@code
 * --resume}, {@code --start}, {@code --stop}, {@code --info}, {@code --snapshot
 * save|restore|list|delete [NAME]}.
 *
 * @param action the flag without dashes ("pause", ..., "snapshot")
 * @param snapshotAction for snapshot: save, restore, list or delete; else null
 * @param snapshotName for snapshot save/restore/delete; else null
 */
public record Control(String action, String snapshotAction, String snapshotName) {
  static final List<String> ACTIONS = List.of("pause", "resume", "start", "stop", "info", "snapshot");
  static final List<String> SNAPSHOT_ACTIONS = List.of("save", "restore", "list", "delete");
}
