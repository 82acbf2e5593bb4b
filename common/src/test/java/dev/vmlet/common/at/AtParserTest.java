package dev.vmlet.common.at;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Every construct of the @target language, quoting edge cases, and errors with their columns. */
class AtParserTest {
  private static Stage only(String line) {
    Pipeline p = AtParser.parse(line);
    assertThat(p.stages()).hasSize(1);
    return p.stages().get(0);
  }

  @Test
  void aCommandOnOneVm() {
    Stage s = only("@linux ls -la");
    assertThat(s.target()).isEqualTo(new Target(null, "linux", null, null, 1));
    assertThat(s.argv()).containsExactly("ls", "-la");
    assertThat(s.raw()).isEqualTo("ls -la");
    assertThat(s.redirects()).isEmpty();
  }

  @Test
  void aWindowsCommand_keepsItsRawText_backslashesIncluded() {
    Stage s = only("@windows dir \"C:\\Program Files\" /b");
    assertThat(s.raw()).isEqualTo("dir \"C:\\Program Files\" /b");
    assertThat(s.argv()).containsExactly("dir", "C:\\Program Files", "/b");
  }

  @Test
  void pipesAcrossVms_andRedirectsToOtherTargets() {
    Pipeline p = AtParser.parse("@windows tasklist | @linux grep -i chrome > @host /tmp/chrome.txt");
    assertThat(p.stages()).extracting(st -> st.target().name()).containsExactly("windows", "linux");
    Redirect r = p.stages().get(1).redirects().get(0);
    assertThat(r.kind()).isEqualTo(Redirect.Kind.OUT);
    assertThat(r.target().name()).isEqualTo("host");
    assertThat(r.path()).isEqualTo("/tmp/chrome.txt");
    assertThat(r.column()).isEqualTo(43);
  }

  @Test
  void everyRedirect_withAndWithoutATarget() {
    Stage s = only("@web1 sort < in.txt >> @backup /srv/out.log 2> @host /tmp/err 2>&1");
    assertThat(s.redirects()).extracting(Redirect::kind)
        .containsExactly(Redirect.Kind.IN, Redirect.Kind.APPEND, Redirect.Kind.ERR, Redirect.Kind.ERR_TO_OUT);
    assertThat(s.redirects().get(0).target()).isNull(); // the stage's own VM
    assertThat(s.redirects().get(0).path()).isEqualTo("in.txt");
    assertThat(s.redirects().get(1).target().name()).isEqualTo("backup");
    assertThat(s.redirects().get(2).target().name()).isEqualTo("host");
    assertThat(s.redirects().get(3).path()).isNull();
  }

  @Test
  void targets_names_nodes_andLabelSelectors() {
    assertThat(only("@node2/db uptime").target()).isEqualTo(new Target("node2", "db", null, null, 1));
    Target sel = only("@role=web uptime").target();
    assertThat(sel.isSelector()).isTrue();
    assertThat(sel.labelKey()).isEqualTo("role");
    assertThat(sel.labelValue()).isEqualTo("web");
    assertThat(sel.toString()).isEqualTo("@role=web");
  }

  @Test
  void anAtInsideACommand_isJustAnArgument() {
    assertThat(only("@web1 echo @notatarget user@example.com").argv()).containsExactly("echo", "@notatarget", "user@example.com");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      `@a echo 'single $HOME "kept"'`          | `single $HOME "kept"`
      `@a echo "double \\"esc\\" \\$x \\\\ \\n"` | `double "esc" $x \\ \\n`
      `@a echo a\\ b`                          | `a b`
      `@a echo 'a'"b"c`                        | `abc`
      `@a echo '|' ">" '2>&1' \\;`             | `|,>,2>&1,;`
      `@a echo ''`                             | ``
      `@a echo x2>y`                           | `x2`
      """)
  void quotingAsPosixShDoes(String line, String expected) {
    List<String> argv = only(line).argv();
    String got = String.join(",", argv.subList(1, argv.size()));
    if (line.contains("x2>y")) {
      assertThat(argv).containsExactly("echo", "x2");
      assertThat(only(line).redirects().get(0).path()).isEqualTo("y");
      return;
    }
    assertThat(got).isEqualTo(expected == null ? "" : expected);
  }

  @Test
  void controlFlags() {
    assertThat(only("@web1 --pause").control()).isEqualTo(new Control("pause", null, null));
    assertThat(only("@web1 --snapshot save before-upgrade").control()).isEqualTo(new Control("snapshot", "save", "before-upgrade"));
    assertThat(only("@web1 --snapshot list").control()).isEqualTo(new Control("snapshot", "list", null));
    assertThat(only("@web1 --info > @host /tmp/web1.txt").redirects()).hasSize(1);
    // Quoted, it is an argument to a command, not a flag.
    assertThat(only("@web1 '--pause'").isControl()).isFalse();
  }

  @ParameterizedTest(name = "{0} -> column {1}: {2}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      ``                                  | 1  | empty line
      `   `                               | 1  | empty line
      `ls -la`                            | 1  | a stage starts with @TARGET
      `@a ls |`                           | 7  | empty stage after '|'
      `| @a ls`                           | 1  | empty stage
      `@a ls | | @b ls`                   | 9  | empty stage
      `@a echo 'oops`                     | 9  | unterminated single quote
      `@a echo "oops`                     | 9  | unterminated double quote
      `@a echo oops\\`                    | 13 | backslash at the end
      `@a ls >`                           | 7  | needs a path
      `@a ls > @host`                     | 7  | needs a path
      `@a`                                | 3  | nothing to run on @a
      `@ ls`                              | 1  | '@' needs a target
      `@Web1 ls`                          | 1  | not a valid VM name
      `@n_1/db ls`                        | 1  | node 'n_1' is not a valid name
      `@role= ls`                         | 1  | label selector
      `@a --frobnicate`                   | 4  | unknown control flag '--frobnicate'
      `@a --pause now`                    | 12 | --pause takes no arguments
      `@a --snapshot`                     | 14 | --snapshot needs save, restore, list or delete
      `@a --snapshot save`                | 19 | needs a snapshot name
      `@a --snapshot list x`              | 20 | unexpected 'x'
      `@a --pause \\| @b ls`              | 1  | stands alone
      `@a ls > x -l`                      | 11 | put redirects after the command
      `@a ls; @b ls`                      | 6  | ';' is not supported
      `@a sleep 9 &`                      | 12 | '&' is not supported
      `@a ls || @b ls`                    | 7  | '||' is not supported
      """)
  void badInput_isRefusedWithTheColumn(String line, int column, String message) {
    String l = line == null ? "" : line.replace("\\|", "|");
    assertThatThrownBy(() -> AtParser.parse(l)).isInstanceOfSatisfying(AtSyntaxException.class, e -> {
      assertThat(e.getMessage()).contains(message);
      assertThat(e.column()).isEqualTo(column);
    });
  }
}
