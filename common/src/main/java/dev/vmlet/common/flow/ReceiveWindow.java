package dev.vmlet.common.flow;

/**
 * The receiving half of one stream's credit: checks that the sender stays within what it was
 * granted, and batches grants so that one WindowUpdate covers many frames.
 */
public final class ReceiveWindow {
  /** Bytes consumed before a grant goes back: a quarter of the window. */
  public static final int GRANT_BATCH = SendWindow.INITIAL / 4;

  private long outstanding; // received and not yet granted back
  private long consumed;    // consumed and not yet granted back

  /**
   * Counts {@code n} bytes that arrived.
   *
   * @return false if the sender went past its window (it must then be failed)
   */
  public synchronized boolean received(int n) {
    outstanding += n;
    return outstanding <= SendWindow.INITIAL;
  }

  /**
   * Counts {@code n} bytes the consumer took.
   *
   * @return bytes to grant back now (0: not yet, to batch grants)
   */
  public synchronized int consumed(int n) {
    consumed += n;
    if (consumed < GRANT_BATCH) {
      return 0;
    }
    int grant = (int) consumed;
    consumed = 0;
    outstanding -= grant;
    return grant;
  }
}
