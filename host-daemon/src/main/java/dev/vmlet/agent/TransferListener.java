package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileInfo;

/**
 * Receives one file transfer's answers, in order, on the link's reader thread: for a pull, {@link
 * #info} then any number of {@link #data}; then exactly one of {@link #done} or {@link #failed}.
 * A slow implementation slows the whole link (that is its flow control in this version).
 */
public interface TransferListener extends StreamListener {
  default void info(FileInfo info) {}

  default void data(byte[] data) {}

  /** A push with resume: how many bytes the guest kept from an interrupted push. */
  default void offset(long offset) {}

  void done(FileDone done);
}
