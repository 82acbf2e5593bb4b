package dev.vmlet.security;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import java.security.cert.X509CRLEntry;

/**
 * The node's certificate authority, in a directory: {@code ca.pem}/{@code ca.key} (EC P-256, 10
 * years), {@code server.pem}/{@code server.key} (1 year, SANs for the node's names and addresses),
 * {@code clients/NAME.pem}/{@code NAME.key} (1 year; the role in the subject's OU), and {@code
 * crl.pem}, which the daemon reloads when it changes. Keys are written 0600.
 */
public final class NodePki {
  static final Duration CA_LIFETIME = Duration.ofDays(3650);
  static final Duration CERT_LIFETIME = Duration.ofDays(365);
  private static final String SIG = "SHA256withECDSA";
  private final Path dir;

  public NodePki(Path dir) {
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  public Path caCert() {
    return dir.resolve("ca.pem");
  }

  public Path serverCert() {
    return dir.resolve("server.pem");
  }

  public Path serverKey() {
    return dir.resolve("server.key");
  }

  public Path crl() {
    return dir.resolve("crl.pem");
  }

  public Path clientCert(String name) {
    return dir.resolve("clients").resolve(name + ".pem");
  }

  public Path clientKey(String name) {
    return dir.resolve("clients").resolve(name + ".key");
  }

  /** Whether a daemon can serve TLS from here: the CA's certificate and the server's pair (no CA key needed). */
  public boolean servable() {
    return Files.exists(caCert()) && Files.exists(serverCert()) && Files.exists(serverKey());
  }

  public boolean initialised() {
    return Files.exists(caCert()) && Files.exists(dir.resolve("ca.key")) && Files.exists(serverCert());
  }

  /**
   * Makes the CA, the server certificate and an empty revocation list.
   *
   * @param names extra DNS names or IP addresses for the server certificate (the host name,
   *     localhost, 127.0.0.1 and ::1 are always in)
   * @throws IOException when a CA exists already (it would orphan every issued certificate)
   */
  public void init(List<String> names) throws IOException, GeneralSecurityException {
    if (Files.exists(caCert())) {
      throw new IOException("a node CA exists already in " + dir + "; remove the directory to start over (every issued"
          + " certificate then stops working)");
    }
    Files.createDirectories(dir.resolve("clients"));
    KeyPair ca = keyPair();
    X500Name caName = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "vmlet").addRDN(BCStyle.CN,
        "vmlet node CA " + hostname()).build();
    Instant now = Instant.now();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caName, serial(), Date.from(now.minusSeconds(300)),
        Date.from(now.plus(CA_LIFETIME)), caName, ca.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
    X509Certificate caCert = PemFiles.convert(b.build(signer(ca.getPrivate())));
    PemFiles.writeKey(dir.resolve("ca.key"), ca.getPrivate());
    PemFiles.writePem(caCert(), caCert);
    List<GeneralName> sans = new ArrayList<>();
    List<String> all = new ArrayList<>(List.of(hostname(), "localhost", "127.0.0.1", "::1"));
    all.addAll(names);
    for (String n : all) {
      sans.add(n.matches("[0-9.]+|.*:.*") ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(n).getHostAddress())
          : new GeneralName(GeneralName.dNSName, n));
    }
    KeyPair server = keyPair();
    X509Certificate cert = issue(caCert, ca.getPrivate(), subject(hostname(), "server"), server, now, now.plus(CERT_LIFETIME),
        KeyPurposeId.id_kp_serverAuth, new GeneralNames(sans.toArray(GeneralName[]::new)));
    PemFiles.writeKey(serverKey(), server.getPrivate());
    PemFiles.writePem(serverCert(), cert);
    writeCrl(List.of());
  }

  /** A client certificate for {@code name} with {@code role}, valid from now for {@code lifetime}. */
  public X509Certificate issueClient(String name, Role role, Duration lifetime) throws IOException, GeneralSecurityException {
    Instant now = Instant.now();
    return issueClient(name, role, now.minusSeconds(300), now.plus(lifetime));
  }

  /** A client certificate with explicit validity (tests make expired ones). */
  public X509Certificate issueClient(String name, Role role, Instant notBefore, Instant notAfter)
      throws IOException, GeneralSecurityException {
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
      throw new IllegalArgumentException("a client name is 1-63 letters, digits, '.', '_' or '-', got '" + name + "'");
    }
    requireInit();
    KeyPair kp = keyPair();
    X509Certificate cert = issue(readCert(caCert()), caKey(), subject(name, role.label()), kp, notBefore, notAfter,
        KeyPurposeId.id_kp_clientAuth, null);
    Files.createDirectories(dir.resolve("clients"));
    PemFiles.writeKey(clientKey(name), kp.getPrivate());
    PemFiles.writePem(clientCert(name), cert);
    return cert;
  }

  /** Adds the client's certificate to the revocation list (the daemon reloads it). */
  public void revoke(String name) throws IOException, GeneralSecurityException {
    requireInit();
    if (!Files.exists(clientCert(name))) {
      throw new IOException("no client certificate named '" + name + "' in " + dir.resolve("clients"));
    }
    List<BigInteger> revoked = new ArrayList<>(revokedSerials());
    BigInteger serial = readCert(clientCert(name)).getSerialNumber();
    if (!revoked.contains(serial)) {
      revoked.add(serial);
    }
    writeCrl(revoked);
  }

  private List<BigInteger> revokedSerials() throws IOException, GeneralSecurityException {
    if (!Files.exists(crl())) {
      return List.of();
    }
    X509CRL c = readCrl(crl());
    return c.getRevokedCertificates() == null ? List.of()
        : c.getRevokedCertificates().stream().map(X509CRLEntry::getSerialNumber).toList();
  }

  private void writeCrl(List<BigInteger> serials) throws IOException, GeneralSecurityException {
    X509Certificate ca = readCert(caCert());
    Instant now = Instant.now();
    X509v2CRLBuilder b = new X509v2CRLBuilder(new X509CertificateHolder(ca.getEncoded()).getSubject(), Date.from(now));
    b.setNextUpdate(Date.from(now.plus(Duration.ofDays(3650))));
    for (BigInteger s : serials) {
      b.addCRLEntry(s, Date.from(now), CRLReason.cessationOfOperation);
    }
    X509CRL crl = new JcaX509CRLConverter().getCRL(b.build(signer(caKey())));
    PemFiles.writePem(crl(), crl);
  }

  private void requireInit() throws IOException {
    if (!initialised()) {
      throw new IOException("no node CA in " + dir + "; make one with: vmlet certs init");
    }
  }

  private PrivateKey caKey() throws IOException {
    return readKey(dir.resolve("ca.key"));
  }

  private static X509Certificate issue(X509Certificate ca, PrivateKey caKey, X500Name subject, KeyPair kp, Instant from, Instant to,
      KeyPurposeId purpose, GeneralNames sans) throws IOException, GeneralSecurityException {
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, serial(), Date.from(from), Date.from(to), subject, kp.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
    b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
    b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
    if (sans != null) {
      b.addExtension(Extension.subjectAlternativeName, false, sans);
    }
    return PemFiles.convert(b.build(signer(caKey)));
  }

  private static X500Name subject(String cn, String ou) {
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "vmlet").addRDN(BCStyle.OU, ou).addRDN(BCStyle.CN, cn).build();
  }

  /** The CN and OU (role) of a certificate's subject. */
  public static String[] nameAndRole(X509Certificate c) {
    X500Name n = X500Name.getInstance(c.getSubjectX500Principal().getEncoded());
    String cn = n.getRDNs(BCStyle.CN).length == 0 ? "" : IETFUtils.valueToString(n.getRDNs(BCStyle.CN)[0].getFirst().getValue());
    String ou = n.getRDNs(BCStyle.OU).length == 0 ? "" : IETFUtils.valueToString(n.getRDNs(BCStyle.OU)[0].getFirst().getValue());
    return new String[] {cn, ou};
  }

  private static KeyPair keyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
  }

  private static ContentSigner signer(PrivateKey key) throws IOException {
    try {
      return new JcaContentSignerBuilder(SIG).build(key);
    } catch (OperatorCreationException e) {
      throw new IOException(e);
    }
  }


  private static String hostname() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  /** See {@link PemFiles#readCert}. */
  public static X509Certificate readCert(Path file) throws IOException, GeneralSecurityException {
    return PemFiles.readCert(file);
  }

  /** See {@link PemFiles#readCrl}. */
  public static X509CRL readCrl(Path file) throws IOException, GeneralSecurityException {
    return PemFiles.readCrl(file);
  }

  /** See {@link PemFiles#readKey}. */
  public static PrivateKey readKey(Path file) throws IOException {
    return PemFiles.readKey(file);
  }
}
