package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class MainTest {
  @Test
  void subcommandTable_namesEachCommandAsItsAnnotationDoes() {
    for (Map.Entry<String, Class<?>> e : Main.SUBCOMMANDS.entrySet()) {
      Command c = e.getValue().getAnnotation(Command.class);
      List<String> names = new ArrayList<>(List.of(c.name()));
      names.addAll(List.of(c.aliases()));
      assertThat(e.getKey().split(" ")).as(e.getValue().getName()).containsExactlyElementsOf(names);
    }
  }

  @Test
  void lineNamingASubcommand_buildsThatOneAlone_byNameOrAlias() {
    assertThat(Main.commandLine("ls").getSubcommands().keySet()).containsExactly("list", "ls");
    assertThat(Main.commandLine("exec").getSubcommands().keySet()).containsExactly("exec");
  }

  @Test
  void helpVersionAndUnknownWords_getEverySubcommand() {
    for (String first : new String[] {null, "help", "--help", "-V", "lst"}) {
      CommandLine cl = Main.commandLine(first);
      List<Class<?>> built = cl.getSubcommands().values().stream().<Class<?>>map(s -> s.getCommandSpec().userObject().getClass())
          .distinct().toList();
      assertThat(built).as(String.valueOf(first)).containsExactlyElementsOf(Main.SUBCOMMANDS.values());
    }
  }

  /**
   * Picocli formats descriptions as format strings: a lone {@code %} ("CPU %, memory") made it print
   * a warning above `vmlet --help` and show the text unformatted.
   */
  @Test
  void everyUsageMessage_rendersWithoutPicocliWarnings() {
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    List<String> rendered = new ArrayList<>();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      usages(Main.commandLine(null), rendered);
    } finally {
      System.setErr(err);
    }
    assertThat(rendered).contains("vmlet", "vmlet top", "vmlet list");
    assertThat(captured.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
  }

  private static void usages(CommandLine cl, List<String> rendered) {
    cl.getUsageMessage();
    rendered.add(cl.getCommandSpec().qualifiedName());
    for (CommandLine sub : new LinkedHashSet<>(cl.getSubcommands().values())) {
      usages(sub, rendered);
    }
  }
}
