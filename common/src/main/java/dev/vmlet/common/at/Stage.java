package dev.vmlet.common.at;

import java.util.List;

/**
 * One stage of a pipeline: its target and either a command or a control flag, and its redirects.
 *
 * @param argv the command split as POSIX sh would (quotes removed, escapes applied); empty for a control
 * @param raw the command exactly as written (quotes kept), for Windows targets' {@code cmd /c}
 * @param control the control flag, or null for a command
 */
public record Stage(Target target, List<String> argv, String raw, Control control, List<Redirect> redirects) {
  public Stage {
    argv = List.copyOf(argv);
    redirects = List.copyOf(redirects);
  }

  public boolean isControl() {
    return control != null;
  }
}
