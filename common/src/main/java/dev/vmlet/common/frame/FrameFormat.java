package dev.vmlet.common.frame;

/**
 * Constants of the agent link's wire format. One frame on the wire:
 *
 * <pre>
 *  0        4                8                12               16
 *  +--------+----------------+----------------+----------------+==================+
 *  | "VML1" | length (u32 BE)| ~length (u32)  | CRC32C(payload)| payload (length) |
 *  +--------+----------------+----------------+----------------+==================+
 * </pre>
 *
 * <p>The payload is one serialized {@code vmlet.agent.v1.Frame}. The magic lets a reader that starts in
 * the middle of old bytes find the next frame; the complemented length makes a false magic in
 * garbage very unlikely to pass as a header; the CRC catches the rest. A length above {@link
 * #MAX_PAYLOAD} is refused before any buffer is allocated for it.
 */
public final class FrameFormat {
  /** "VML1" in ASCII. */
  public static final int MAGIC = 0x564D4C31;

  public static final int HEADER_SIZE = 16;

  /** Largest payload either side accepts or sends: 1 MiB. */
  public static final int MAX_PAYLOAD = 1 << 20;

  private FrameFormat() {}
}
