package dev.vmlet.guest;

import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import dev.vmlet.common.frame.FrameWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.logging.Logger;

/**
 * Writes frames to the port with write(2) straight from the direct buffer they were encoded into
 * ({@link FrameWriter.BufferOutput}). A FileOutputStream copies every write of more than 8 KiB into
 * a malloc'd buffer first, and a FileChannel, which would not, closes itself (and the port) when
 * a writing thread is interrupted. Its own duplicate of the port's descriptor, closed by the last
 * write in flight once {@link #close} was called, so a late write never reaches a descriptor
 * number the process has since given to another file.
 */
final class PortWriter implements FrameWriter.BufferOutput, Closeable {
  private static final Logger LOG = Logger.getLogger(PortWriter.class.getName());
  private static final int F_DUPFD_CLOEXEC = 1030;
  private static final int EINTR = 4;

  private final int fd;
  private int inFlight; // guarded by this
  private boolean closed; // guarded by this

  private PortWriter(int fd) {
    this.fd = fd;
  }

  /**
   * A writer to {@code port}, which this process has open exactly once (a virtio-serial port opens
   * only once at a time); empty where it cannot be had (no libc binding, the descriptor not found
   * or found twice, {@code -Dvmlet.agent.frames=stream}): the caller then writes through its stream.
   */
  static Optional<PortWriter> of(Path port) {
    if ("stream".equals(System.getProperty("vmlet.agent.frames")) || !PosixSpawn.available()) {
      return Optional.empty();
    }
    try {
      OptionalInt open = descriptorOf(port);
      if (open.isEmpty()) {
        LOG.fine("frames: " + port + " is not open exactly once here; writing through the stream");
        return Optional.empty();
      }
      int dup = PosixSpawn.LibC.fcntl(open.getAsInt(), F_DUPFD_CLOEXEC, 0);
      if (dup < 0) {
        LOG.fine("frames: cannot duplicate descriptor " + open.getAsInt() + " (errno " + Native.getLastError() + ")");
        return Optional.empty();
      }
      return Optional.of(new PortWriter(dup));
    } catch (IOException | RuntimeException | LinkageError e) {
      LOG.fine("frames: writing through the stream (" + e + ")");
      return Optional.empty();
    }
  }

  /** The one descriptor of this process open on {@code file} (its real path); empty when none or several. */
  static OptionalInt descriptorOf(Path file) throws IOException {
    Path real = file.toRealPath();
    int found = -1;
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        Path target;
        try {
          target = Files.readSymbolicLink(fd);
        } catch (IOException e) {
          continue; // closed since the listing (the listing's own descriptor, say)
        }
        if (target.equals(real)) {
          if (found >= 0) {
            return OptionalInt.empty();
          }
          found = Integer.parseInt(fd.getFileName().toString());
        }
      }
    }
    return found < 0 ? OptionalInt.empty() : OptionalInt.of(found);
  }

  @Override
  public void write(ByteBuffer frame) throws IOException {
    synchronized (this) {
      if (closed) {
        throw new IOException("the link to the host is closed");
      }
      inFlight++;
    }
    try {
      Pointer base = Native.getDirectBufferPointer(frame);
      long at = frame.position();
      long end = frame.limit();
      while (at < end) {
        long n = PosixSpawn.LibC.write(fd, base.share(at), new NativeLong(end - at)).longValue();
        if (n < 0) {
          int errno = Native.getLastError();
          if (errno == EINTR) {
            continue;
          }
          throw new IOException("write to the port failed (errno " + errno + ")");
        }
        at += n;
      }
      frame.position((int) end);
    } finally {
      synchronized (this) {
        if (--inFlight == 0 && closed) {
          PosixSpawn.LibC.close(fd);
        }
      }
    }
  }

  /** Later writes fail; the descriptor closes now, or when the last write in flight returns. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      if (inFlight == 0) {
        PosixSpawn.LibC.close(fd);
      }
    }
  }

  /** The duplicate written to (tests). */
  int fd() {
    return fd;
  }
}
