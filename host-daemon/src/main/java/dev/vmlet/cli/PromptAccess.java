package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** The @target prompt on given streams, for tests and for driving it from a program. */
public final class PromptAccess {
  private PromptAccess() {}

  /** Runs the prompt on plain lines until the input ends or says exit; returns the last line's exit code. */
  public static int run(DaemonClient client, InputStream in, OutputStream out) throws IOException {
    return AtPrompt.run(client, in, out);
  }
}
