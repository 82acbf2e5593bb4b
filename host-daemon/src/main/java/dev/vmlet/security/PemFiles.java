package dev.vmlet.security;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/**
 * The PEM files of {@link NodePki}: written whole or not at all, keys 0600 from their first byte,
 * and read back as certificates, revocation lists and keys.
 */
final class PemFiles {
  private PemFiles() {}

  static X509Certificate convert(X509CertificateHolder h) throws GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(h);
  }

  static void writePem(Path file, Object o) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(o);
    }
    replace(file, s.toString(), "rw-r--r--");
  }

  static void writeKey(Path file, PrivateKey key) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(new JcaPKCS8Generator(key, null)); // PKCS#8: what Netty's TLS takes
    }
    replace(file, s.toString(), "rw-------");
  }

  /** Written beside, mode set, then renamed over: a reader never sees half a file or a readable key. */
  static void replace(Path file, String text, String mode) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
    Files.writeString(tmp, text, StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The first certificate in a PEM file. */
  static X509Certificate readCert(Path file) throws IOException, GeneralSecurityException {
    try (Reader r = Files.newBufferedReader(file); PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      if (!(o instanceof X509CertificateHolder h)) {
        throw new IOException(file + " holds no certificate");
      }
      return convert(h);
    }
  }

  /** The revocation list in a PEM file. */
  static X509CRL readCrl(Path file) throws IOException, GeneralSecurityException {
    try (Reader r = Files.newBufferedReader(file); PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      if (!(o instanceof X509CRLHolder h)) {
        throw new IOException(file + " holds no revocation list");
      }
      return new JcaX509CRLConverter().getCRL(h);
    }
  }

  /** A private key in a PEM file, PKCS#8 or a key pair. */
  static PrivateKey readKey(Path file) throws IOException {
    try (Reader r = Files.newBufferedReader(file); PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      JcaPEMKeyConverter c = new JcaPEMKeyConverter();
      if (o instanceof PrivateKeyInfo info) {
        return c.getPrivateKey(info);
      }
      if (o instanceof PEMKeyPair kp) {
        return c.getKeyPair(kp).getPrivate();
      }
      throw new IOException(file + " holds no private key");
    }
  }
}
