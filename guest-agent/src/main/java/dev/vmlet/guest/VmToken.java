package dev.vmlet.guest;

import dev.vmlet.common.session.TokenProof;
import dev.vmlet.proto.agent.v1.Welcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * The token the daemon gave this VM (QEMU's fw_cfg shows it to root only), and the proof made
 * with it that the agent runs in that VM: HMAC-SHA256 of the Welcome's challenge and session id.
 * A token that cannot be read gives an empty proof, which the host refuses.
 */
final class VmToken {
  private static final Logger LOG = Logger.getLogger(VmToken.class.getName());

  /** Where QEMU's fw_cfg puts the VM's token in the guest (root only). */
  static final Path FW_CFG_TOKEN = Path.of("/sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/token/raw");

  private volatile Path file = FW_CFG_TOKEN;

  /** Reads the token from {@code file} instead of fw_cfg (tests, and guests without fw_cfg). */
  void file(Path file) {
    this.file = file;
  }

  /** The proof for {@code welcome}; empty when there is no token to read. */
  byte[] proof(Welcome welcome) {
    Path f = file;
    byte[] token;
    try {
      token = Files.readAllBytes(f);
    } catch (IOException e) {
      LOG.severe("the host asks for the VM token, which cannot be read at " + f + " (" + e.getMessage() + ")");
      return new byte[0];
    }
    return TokenProof.hmac(token, welcome.getChallenge().toByteArray(), welcome.getSessionId());
  }
}
