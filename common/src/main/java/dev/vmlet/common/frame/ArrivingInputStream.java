package dev.vmlet.common.frame;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * An input that tells {@code arrived} each time a read returns bytes. Both ends of the agent link
 * count their peer as alive from its bytes, not only from its whole frames: on a slow port (the
 * legacy serial port moves about 60 KB/s, and far less on a loaded host under TCG) one 32 KiB frame
 * can take longer than the three heartbeat intervals after which a silent peer is given up, while
 * its bytes keep coming.
 */
public final class ArrivingInputStream extends FilterInputStream {
  private final Runnable arrived;

  public ArrivingInputStream(InputStream in, Runnable arrived) {
    super(in);
    this.arrived = arrived;
  }

  @Override
  public int read() throws IOException {
    int b = in.read();
    if (b >= 0) {
      arrived.run();
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      arrived.run();
    }
    return n;
  }
}
