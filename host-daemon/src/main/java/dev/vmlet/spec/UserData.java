package dev.vmlet.spec;

import dev.vmlet.spec.VmException;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import java.util.Locale;

/**
 * A user's own cloud-init input, checked before a VM is created: a {@code #cloud-config} document
 * that parses as a YAML mapping, or a script starting with {@code #!}. Anything else cloud-init
 * would skip or fail on later, inside the guest, where nobody sees it.
 *
 * @param contentType the MIME type of its part in the user-data: text/cloud-config or text/x-shellscript
 * @param text the user's text, unchanged
 */
public record UserData(String contentType, String text) {
  public static final int MAX_BYTES = 256 * 1024;

  /** @throws VmException INVALID_ARGUMENT saying what is wrong, with the YAML parser's message */
  public static UserData parse(String text) {
    if (text.length() > MAX_BYTES) {
      throw VmException.invalid("cloud_init.user_data is " + text.length() + " bytes; at most " + MAX_BYTES);
    }
    String first = text.lines().findFirst().orElse("").strip();
    if (first.equals("#cloud-config")) {
      Object doc;
      try {
        doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
      } catch (YAMLException e) {
        throw VmException.invalid("cloud_init.user_data is not valid YAML: " + e.getMessage().strip());
      }
      if (doc != null && !(doc instanceof Map)) {
        throw VmException.invalid("cloud_init.user_data: a #cloud-config must be a YAML mapping (keys like runcmd:), got a "
            + doc.getClass().getSimpleName().toLowerCase(Locale.ROOT));
      }
      return new UserData("text/cloud-config", text);
    }
    if (first.startsWith("#!")) {
      return new UserData("text/x-shellscript", text);
    }
    throw VmException.invalid("cloud_init.user_data must start with #cloud-config (a cloud-config document) or #! (a script); "
        + "its first line is '" + (first.length() > 40 ? first.substring(0, 40) + "..." : first) + "'");
  }
}
