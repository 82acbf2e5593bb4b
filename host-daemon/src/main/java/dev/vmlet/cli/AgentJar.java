package dev.vmlet.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the guest agent jar that images are built with. */
final class AgentJar {
  private AgentJar() {}

  /**
   * The {@code vmlet.agentJar} system property (set by the ./vmlet launcher), else {@code
   * guest-agent/target/vmlet-agent.jar} next to this jar's module in a source checkout.
   */
  static Path locate() {
    String prop = System.getProperty("vmlet.agentJar");
    if (prop != null && !prop.isBlank()) {
      return require(Path.of(prop));
    }
    try {
      Path self = Path.of(AgentJar.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      // host-daemon/target/vmlet.jar -> guest-agent/target/vmlet-agent.jar
      Path root = self.getParent().getParent().getParent();
      return require(root.resolve("guest-agent/target/vmlet-agent.jar"));
    } catch (URISyntaxException | NullPointerException e) {
      throw new CliException("cannot find the agent jar; set -Dvmlet.agentJar=PATH");
    }
  }

  private static Path require(Path p) {
    if (!Files.isRegularFile(p)) {
      throw new CliException("the agent jar " + p + " does not exist; build it with: mvn -q -DskipTests package");
    }
    return p;
  }
}
