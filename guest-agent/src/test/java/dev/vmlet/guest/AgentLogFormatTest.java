package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class AgentLogFormatTest {
  private final AgentLogFormat format = new AgentLogFormat();

  @Test
  void format_printsTheAgentPrefixTheLevelAndTheMessage_onOneLine() {
    LogRecord r = new LogRecord(Level.WARNING, "nothing from the host for {0} ms");
    r.setParameters(new Object[] {"15000"});

    assertThat(format.format(r)).isEqualTo("vmlet-agent: WARNING nothing from the host for 15000 ms" + System.lineSeparator());
  }

  @Test
  void format_withAThrownException_addsItsStackTraceOnTheFollowingLines() {
    LogRecord r = new LogRecord(Level.SEVERE, "link lost");
    r.setThrown(new IOException("port closed"));

    String text = format.format(r);

    assertThat(text).startsWith("vmlet-agent: SEVERE link lost" + System.lineSeparator() + "java.io.IOException: port closed")
        .contains("\tat dev.vmlet.guest.AgentLogFormatTest")
        .endsWith(System.lineSeparator());
  }
}
