package dev.vmlet.guest;

import com.fazecast.jSerialComm.SerialPort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A legacy serial port ({@code /dev/ttyS1}, {@code COM2}) for guests without virtio drivers,
 * through jSerialComm: 115200 8N1, no flow control. A serial line has no notion of a connected
 * host, so a read that times out is not the end of the connection; only a closed or failing port
 * is. Frames resynchronise after line noise like after any garbage.
 */
final class SerialTransport implements Transport {
  static final int BAUD = 115_200;
  private static final int SLICE = 64 * 1024;
  private final String portName;

  SerialTransport(String portName) {
    this.portName = portName;
  }

  @Override
  public Connection open() throws IOException {
    SerialPort port;
    try {
      port = SerialPort.getCommPort(portName);
    } catch (RuntimeException e) {
      throw new IOException("cannot open serial port " + portName + ": " + e.getMessage()
          + "; is the agent's serial port configured in the VM?", e);
    }
    port.setComPortParameters(BAUD, 8, SerialPort.ONE_STOP_BIT, SerialPort.NO_PARITY);
    port.setFlowControl(SerialPort.FLOW_CONTROL_DISABLED);
    port.setComPortTimeouts(SerialPort.TIMEOUT_READ_SEMI_BLOCKING | SerialPort.TIMEOUT_WRITE_BLOCKING, 1000, 0);
    if (!port.openPort()) {
      throw new IOException("cannot open serial port " + portName + " (error " + port.getLastErrorCode()
          + "); is the agent's serial port configured in the VM, and is nothing else using it?");
    }
    InputStream in = new BulkInputStream() {
      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0; // as InputStream requires; a 0 from the port below means something else
        }
        while (true) {
          int n = port.readBytes(b, Math.min(len, SLICE), off);
          if (n > 0) {
            return n;
          }
          if (n < 0 || !port.isOpen()) {
            throw new IOException("serial port " + portName + " failed or closed (error " + port.getLastErrorCode() + ")");
          }
          // n == 0: the read timed out with nothing on the line; keep waiting
        }
      }
    };
    OutputStream out = new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
          int n = port.writeBytes(b, Math.min(len, SLICE), off);
          if (n < 0) {
            throw new IOException("cannot write to serial port " + portName + " (error " + port.getLastErrorCode() + ")");
          }
          off += n;
          len -= n;
        }
      }
    };
    return new StreamConnection(in, out, port::closePort);
  }
}
