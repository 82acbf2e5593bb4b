package dev.vmlet.console;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * An append-only log that never grows past about twice its limit: when the file reaches the
 * limit it becomes {@code NAME.1} (replacing the previous one) and a new file starts. Not
 * thread-safe: one console reader owns it.
 */
public final class BoundedLog implements AutoCloseable {
  private final Path file;
  private final long limit;
  private OutputStream out;
  private long size;

  public BoundedLog(Path file, long limit) throws IOException {
    this.file = file;
    this.limit = limit;
    open();
  }

  private void open() throws IOException {
    out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    size = Files.size(file);
  }

  public void append(byte[] data, int off, int len) throws IOException {
    if (size + len > limit && size > 0) {
      out.close();
      Files.move(file, file.resolveSibling(file.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
      open();
    }
    out.write(data, off, len);
    out.flush();
    size += len;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
