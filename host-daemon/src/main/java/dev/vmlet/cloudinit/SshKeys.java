package dev.vmlet.cloudinit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.generators.Ed25519KeyPairGenerator;
import org.bouncycastle.crypto.params.Ed25519KeyGenerationParameters;
import org.bouncycastle.crypto.util.OpenSSHPrivateKeyUtil;
import org.bouncycastle.crypto.util.OpenSSHPublicKeyUtil;
import java.nio.file.StandardCopyOption;

/** A VM's own ed25519 SSH key pair, made with Bouncy Castle and written in OpenSSH's formats. */
public final class SshKeys {
  private SshKeys() {}

  /**
   * Writes {@code dir/id_ed25519} (mode 0600) and {@code dir/id_ed25519.pub} unless they exist.
   *
   * @return the public key line
   */
  public static String ensure(Path dir, String comment) throws IOException {
    Path priv = dir.resolve("id_ed25519");
    Path pub = dir.resolve("id_ed25519.pub");
    if (Files.isRegularFile(priv) && Files.isRegularFile(pub)) {
      return Files.readString(pub).strip();
    }
    Files.createDirectories(dir);
    Ed25519KeyPairGenerator gen = new Ed25519KeyPairGenerator();
    gen.init(new Ed25519KeyGenerationParameters(new SecureRandom()));
    AsymmetricCipherKeyPair pair = gen.generateKeyPair();
    String pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(70, "\n".getBytes(StandardCharsets.US_ASCII))
            .encodeToString(OpenSSHPrivateKeyUtil.encodePrivateKey(pair.getPrivate()))
        + "\n-----END OPENSSH PRIVATE KEY-----\n";
    String line = "ssh-ed25519 " + Base64.getEncoder().encodeToString(OpenSSHPublicKeyUtil.encodePublicKey(pair.getPublic()))
        + " " + comment;
    Path tmp = Files.createTempFile(dir, "key", ".tmp", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, pem);
    Files.move(tmp, priv, StandardCopyOption.ATOMIC_MOVE);
    Files.writeString(pub, line + "\n");
    return line;
  }
}
