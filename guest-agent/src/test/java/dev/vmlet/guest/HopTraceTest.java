package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The agent's hop trace: nothing while off, each hop in order and since the read while on. */
class HopTraceTest {
  @AfterEach
  void off() {
    HopTrace.enable(false);
  }

  @Test
  void off_handsOutTheOneInstanceThatNotesNothing() {
    HopTrace t = HopTrace.begin(7, "exec", System.nanoTime());
    t.mark("handler");
    assertThat(t).isSameAs(HopTrace.OFF);
    assertThat(t.line()).isEqualTo("hops stream 0 :");
  }

  @Test
  void on_notesEachHopInOrder_inMicrosecondsSinceTheRead() throws Exception {
    HopTrace.enable(true);
    long read = System.nanoTime();
    HopTrace t = HopTrace.begin(7, "exec", read);
    t.mark("handler");
    Thread.sleep(5);
    t.mark("exit-sent");
    String line = t.line();
    assertThat(line).matches("hops stream 7 exec: handler \\d+, exit-sent \\d+");
    long exitSent = Long.parseLong(line.replaceAll(".*exit-sent ", ""));
    assertThat(exitSent).isGreaterThanOrEqualTo(5000);
  }

  @Test
  void on_appendsNotesAfterTheHops_offKeepsNone() {
    HopTrace.OFF.note("frames", 3);
    assertThat(HopTrace.OFF.line()).isEqualTo("hops stream 0 :");
    HopTrace.enable(true);
    HopTrace t = HopTrace.begin(7, "exec", System.nanoTime());
    t.mark("output-end");
    t.note("frames", 32);
    t.note("bytes", 1048576);
    assertThat(t.line()).matches("hops stream 7 exec: output-end \\d+; frames 32; bytes 1048576");
  }
}
