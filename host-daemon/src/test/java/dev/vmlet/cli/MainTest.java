package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
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
}
