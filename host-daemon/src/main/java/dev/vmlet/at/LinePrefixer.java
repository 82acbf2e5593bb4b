package dev.vmlet.at;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Puts {@code NAME: } before every line of one stream, for the output of a stage that fans out
 * to several VMs. A line is held until its newline arrives, but never more than {@link #MAX_HELD}
 * bytes of it: a longer line is passed on in pieces, each prefixed.
 */
final class LinePrefixer {
  static final int MAX_HELD = 64 * 1024;
  private final byte[] prefix;
  private final ByteArrayOutputStream held = new ByteArrayOutputStream();

  LinePrefixer(String name) {
    this.prefix = (name + ": ").getBytes(StandardCharsets.UTF_8);
  }

  /** The complete lines that {@code data} finishes, prefixed; the rest is held. */
  synchronized byte[] add(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length + 64);
    int start = 0;
    for (int i = 0; i < data.length; i++) {
      if (data[i] == '\n') {
        out.writeBytes(prefix);
        out.writeBytes(held.toByteArray());
        held.reset();
        out.write(data, start, i + 1 - start);
        start = i + 1;
      }
    }
    held.write(data, start, data.length - start);
    if (held.size() >= MAX_HELD) {
      out.writeBytes(prefix);
      out.writeBytes(held.toByteArray());
      out.write('\n');
      held.reset();
    }
    return out.toByteArray();
  }

  /** What is held of an unfinished last line, prefixed and ended with a newline; empty when nothing is. */
  synchronized byte[] flush() {
    if (held.size() == 0) {
      return new byte[0];
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(prefix);
    out.writeBytes(held.toByteArray());
    out.write('\n');
    held.reset();
    return out.toByteArray();
  }
}
