package dev.vmlet.it;

import com.google.gson.Gson;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.vmlet.security.NodePki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A token server for a registry's Bearer auth (the Docker token protocol distribution speaks): it
 * checks Basic credentials and answers {@code {"token": JWT}}, a JWT signed ES256 with a key whose
 * certificate (sent in {@code x5c}) chains to a test CA that the registry trusts. The CA and key are
 * vmlet's own {@link NodePki}. It grants every action asked for, to the one user it knows.
 */
final class TokenServer implements AutoCloseable {
  static final String SERVICE = "vmlet-test-registry";
  static final String ISSUER = "vmlet-test-token-server";
  private static final Gson GSON = new Gson();
  private final HttpServer http;
  private final NodePki pki;
  private final String user;
  private final String password;
  final AtomicInteger issued = new AtomicInteger();

  TokenServer(Path dir, String user, String password) throws Exception {
    this.pki = new NodePki(dir);
    pki.init(List.of());
    this.user = user;
    this.password = password;
    this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.createContext("/token", this::token);
    http.start();
  }

  String realm() {
    return "http://127.0.0.1:" + http.getAddress().getPort() + "/token";
  }

  /** The PEM bundle the registry checks tokens' certificates against. */
  Path rootCerts() {
    return pki.caCert();
  }

  private void token(HttpExchange ex) throws IOException {
    try (ex) {
      String expected = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
      if (!expected.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
        ex.sendResponseHeaders(401, -1);
        return;
      }
      List<Map<String, Object>> access = new ArrayList<>();
      String query = ex.getRequestURI().getRawQuery() == null ? "" : ex.getRequestURI().getRawQuery();
      for (String kv : query.split("&")) {
        if (kv.startsWith("scope=")) {
          String[] s = URLDecoder.decode(kv.substring(6), StandardCharsets.UTF_8).split(":");
          access.add(Map.of("type", s[0], "name", s[1], "actions", List.of(s[2].split(","))));
        }
      }
      byte[] body = GSON.toJson(Map.of("token", jwt(access), "expires_in", 300)).getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      issued.incrementAndGet();
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  private String jwt(List<Map<String, Object>> access) throws Exception {
    X509Certificate leaf = NodePki.readCert(pki.serverCert());
    X509Certificate ca = NodePki.readCert(pki.caCert());
    Base64.Encoder std = Base64.getEncoder();
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("typ", "JWT");
    header.put("alg", "ES256");
    header.put("x5c", List.of(std.encodeToString(leaf.getEncoded()), std.encodeToString(ca.getEncoded())));
    long now = Instant.now().getEpochSecond();
    Map<String, Object> claims = new LinkedHashMap<>();
    claims.put("iss", ISSUER);
    claims.put("sub", user);
    claims.put("aud", SERVICE);
    claims.put("exp", now + 300);
    claims.put("nbf", now - 60);
    claims.put("iat", now);
    claims.put("jti", UUID.randomUUID().toString());
    claims.put("access", access);
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    String signingInput = url.encodeToString(GSON.toJson(header).getBytes(StandardCharsets.UTF_8)) + "."
        + url.encodeToString(GSON.toJson(claims).getBytes(StandardCharsets.UTF_8));
    PrivateKey key = NodePki.readKey(pki.serverKey());
    Signature sig = Signature.getInstance("SHA256withECDSAinP1363Format");
    sig.initSign(key);
    sig.update(signingInput.getBytes(StandardCharsets.US_ASCII));
    return signingInput + "." + url.encodeToString(sig.sign());
  }

  @Override
  public void close() {
    http.stop(0);
  }
}
