package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.ExecExit;

/**
 * Receives one exec's results, in order, on the link's reader thread: any number of output
 * chunks, then exactly one of {@link #exit} or {@link #failed}. Implementations must not block.
 */
public interface ExecListener extends StreamListener {
  void stdout(byte[] data);

  void stderr(byte[] data);

  void exit(ExecExit exit);

}
