package dev.vmlet.agent;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * How the agent reaches the host: the virtio-serial port, or a unix socket for tests and
 * development. A connection's input returns end-of-stream when the host is gone; the agent then
 * asks for a new connection.
 */
interface Transport {
  Connection open() throws IOException;

  /** One open link to the host. Reading and writing may happen on different threads. */
  interface Connection extends Closeable {
    InputStream in();

    OutputStream out();
  }
}
