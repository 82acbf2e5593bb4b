package dev.vmlet.proc;

import java.io.IOException;
import java.time.Duration;

/**
 * A command ran but did not succeed: it exited with a non-zero code or was killed at its time-out.
 * The message is the one way vmlet words that: the command, how it ended, the end of its output.
 * (A program that cannot be started at all is a plain {@link IOException} from the runner.)
 */
public final class ProcessFailedException extends IOException {
  /** How much of the end of the output a message quotes: enough for the error a tool prints last. */
  static final int TAIL_CHARS = 2000;

  private final transient ProcessResult result;

  public ProcessFailedException(ProcessResult result) {
    super(describe(result));
    this.result = result;
  }

  public ProcessResult result() {
    return result;
  }

  /** "CMD exited with N: OUTPUT" or "CMD did not finish within T: OUTPUT", the output's end only. */
  static String describe(ProcessResult r) {
    String how = r.timedOut() ? " did not finish within " + seconds(r.request().timeout()) : " exited with " + r.exitCode();
    String out = r.output();
    if (out.isEmpty()) {
      return r.request().commandLine() + how + (r.timedOut() ? "" : " and printed nothing");
    }
    if (out.length() > TAIL_CHARS) {
      out = "..." + out.substring(out.length() - TAIL_CHARS);
    }
    return r.request().commandLine() + how + ": " + out + (r.cut() ? " (output cut)" : "");
  }

  /** "60 s", or "1500 ms" where whole seconds would round. */
  static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
