package dev.vmlet.security;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.logging.Logger;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;

/**
 * Accepts client certificates issued by the node CA, valid now, not revoked, made for client
 * authentication and carrying a known role. The revocation list is read again whenever its file
 * changes, so {@code vmlet certs revoke} takes effect on the next connection without a restart.
 */
public final class ClientTrust implements X509TrustManager {
  private static final Logger LOG = Logger.getLogger(ClientTrust.class.getName());
  private final X509Certificate ca;
  private final Path crlFile;
  private X509CRL crl;
  private long crlStamp = -1;

  public ClientTrust(X509Certificate ca, Path crlFile) {
    this.ca = ca;
    this.crlFile = crlFile;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("no client certificate");
    }
    X509Certificate c = chain[0];
    try {
      c.verify(ca.getPublicKey());
    } catch (GeneralSecurityException e) {
      throw new CertificateException("the client certificate was not issued by this node's CA", e);
    }
    c.checkValidity(); // expired or not yet valid
    if (c.getExtendedKeyUsage() == null || !c.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.2")) {
      throw new CertificateException("the certificate is not for client authentication");
    }
    X509CRL revoked = crl();
    if (revoked != null && revoked.isRevoked(c)) {
      throw new CertificateException("the client certificate " + NodePki.nameAndRole(c)[0] + " was revoked");
    }
    try {
      Role.parse(NodePki.nameAndRole(c)[1]);
    } catch (IllegalArgumentException e) {
      throw new CertificateException("the client certificate names no role: " + e.getMessage());
    }
  }

  private synchronized X509CRL crl() throws CertificateException {
    try {
      long stamp = Files.exists(crlFile) ? Files.getLastModifiedTime(crlFile).toMillis() ^ Files.size(crlFile) : 0;
      if (stamp != crlStamp) {
        crl = stamp == 0 ? null : NodePki.readCrl(crlFile);
        if (crl != null) {
          crl.verify(ca.getPublicKey());
        }
        crlStamp = stamp;
        LOG.info("revocation list " + crlFile + " (re)loaded: " + (crl == null || crl.getRevokedCertificates() == null ? 0
            : crl.getRevokedCertificates().size()) + " revoked");
      }
      return crl;
    } catch (IOException | GeneralSecurityException e) {
      // A list that cannot be read or checked lets nobody in rather than everybody.
      throw new CertificateException("the revocation list " + crlFile + " cannot be used: " + e.getMessage(), e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    throw new CertificateException("this trust manager checks clients only");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[] {ca};
  }
}
