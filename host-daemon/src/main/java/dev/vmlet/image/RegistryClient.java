package dev.vmlet.image;

import dev.vmlet.spec.OciReference;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The client side of the OCI distribution protocol for one repository: blobs (HEAD, monolithic
 * upload by POST then PUT, GET with Range to resume) and manifests. Authentication follows the
 * registry's {@code WWW-Authenticate} challenge: Basic with the credentials given, or Bearer, for
 * which a token is fetched from the challenge's realm (with the credentials, when given). Plain
 * HTTP is used for a loopback registry or when asked; otherwise HTTPS.
 */
public final class RegistryClient {
  /** A user name and password; the password never appears in {@link #toString()}. */
  public record Credentials(String username, String password) {
    public Credentials {
      if (username.isEmpty() || username.contains(":")) {
        throw new IllegalArgumentException("the registry user name must be non-empty and hold no ':'");
      }
    }

    @Override
    public String toString() {
      return "Credentials[" + username + "]";
    }
  }

  /**
   * @param credentials for Basic auth or the token request; null for anonymous access
   * @param plainHttp speak plain HTTP to a registry that is not on loopback (it always is on loopback)
   */
  public record Options(Credentials credentials, boolean plainHttp) {
    public static final Options ANONYMOUS = new Options(null, false);

    /** Credentials from {@code VMLET_REGISTRY_USERNAME} and {@code VMLET_REGISTRY_PASSWORD}, when both are set. */
    public static Options fromEnvironment(boolean plainHttp) {
      String user = System.getenv("VMLET_REGISTRY_USERNAME");
      String password = System.getenv("VMLET_REGISTRY_PASSWORD");
      boolean both = user != null && !user.isEmpty() && password != null;
      return new Options(both ? new Credentials(user, password) : null, plainHttp);
    }
  }

  /** Bound on the wait for a response's headers. */
  static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(2);
  /** Bound on a silence within a response's body (see {@link IdleBoundedInputStream}). */
  static final Duration BODY_IDLE = Duration.ofSeconds(60);
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);
  /** The distribution spec lets registries refuse manifests above 4 MiB; ours are a few hundred bytes. */
  static final int MAX_MANIFEST_BYTES = 4 << 20;
  private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  private final OciReference ref;
  private final Options options;
  private final URI base;
  private final HttpClient http;
  private final String scope;
  private final Duration bodyIdle;
  private volatile String authorization;

  /**
   * @param push whether the client will write (asks a token server for push as well as pull)
   */
  public RegistryClient(OciReference ref, Options options, boolean push) {
    this(ref, options, push, BODY_IDLE);
  }

  /** @param bodyIdle how long a response body may send nothing before it is given up (tests shorten it) */
  RegistryClient(OciReference ref, Options options, boolean push, Duration bodyIdle) {
    this.ref = ref;
    this.options = options;
    this.bodyIdle = bodyIdle;
    this.base = URI.create((options.plainHttp() || ref.isLoopback() ? "http" : "https") + "://" + ref.registry() + "/v2/" + ref.repository() + "/");
    this.http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NORMAL).build();
    this.scope = "repository:" + ref.repository() + (push ? ":pull,push" : ":pull");
  }

  /** The manifest as the registry sent it, and its digest (the SHA-256 of those bytes). */
  public record Manifest(byte[] bytes, String digest) {}

  /** A small answer (status, headers, a body of at most 64 KiB read within {@link #bodyIdle}). */
  private record Answer(int statusCode, java.net.http.HttpHeaders headers, byte[] body) {}

  private Answer ask(HttpRequest.Builder b, String what) throws IOException {
    HttpResponse<InputStream> r = send(b, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = bounded(r.body())) {
      return new Answer(r.statusCode(), r.headers(), in.readNBytes(64 << 10));
    } catch (IdleBoundedInputStream.Stalled e) {
      throw new IOException(ref.registry() + " stopped sending its answer to " + what + " (" + e.getMessage() + "); try again", e);
    }
  }

  private InputStream bounded(InputStream body) {
    return new IdleBoundedInputStream(body, bodyIdle);
  }

  /** Whether the repository holds the blob. */
  public boolean hasBlob(String digest) throws IOException {
    Answer r = ask(request("blobs/" + digest).method("HEAD", HttpRequest.BodyPublishers.noBody()), "checking for blob " + digest);
    if (r.statusCode() == 200) {
      return true;
    }
    if (r.statusCode() == 404) {
      return false;
    }
    throw failure("checking for blob " + digest, r);
  }

  /** Uploads {@code file} as the blob {@code digest} in one PUT (POST opens the upload session). */
  public void pushBlob(String digest, Path file) throws IOException {
    Answer start = ask(request("blobs/uploads/").POST(HttpRequest.BodyPublishers.noBody()), "starting the upload of " + digest);
    if (start.statusCode() != 202) {
      throw failure("starting the upload of " + digest, start);
    }
    String location = start.headers().firstValue("Location")
        .orElseThrow(() -> new IOException(ref.registry() + " started an upload but sent no Location"));
    URI upload = base.resolve(location);
    String sep = upload.getRawQuery() == null ? "?" : "&";
    URI put = URI.create(upload + sep + "digest=" + URLEncoder.encode(digest, StandardCharsets.UTF_8));
    Answer done = ask(HttpRequest.newBuilder(put).timeout(REQUEST_TIMEOUT)
        .header("Content-Type", "application/octet-stream").PUT(HttpRequest.BodyPublishers.ofFile(file)), "uploading " + digest);
    if (done.statusCode() != 201) {
      throw failure("uploading " + digest, done);
    }
  }

  /** Stores {@code bytes} as the manifest tagged {@code tag}; returns its digest. */
  public String putManifest(String tag, byte[] bytes) throws IOException {
    Answer r = ask(request("manifests/" + tag).header("Content-Type", OciArtifact.MANIFEST_TYPE)
        .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)), "storing the manifest " + ref.repository() + ":" + tag);
    if (r.statusCode() != 201) {
      throw failure("storing the manifest " + ref.repository() + ":" + tag, r);
    }
    return Digests.sha256(bytes);
  }

  /** The manifest {@code ref} names; a manifest asked for by digest is checked against it. */
  public Manifest manifest() throws IOException {
    HttpResponse<InputStream> r = send(request("manifests/" + ref.reference()).header("Accept", OciArtifact.MANIFEST_TYPE).GET(),
        HttpResponse.BodyHandlers.ofInputStream());
    byte[] body;
    try (InputStream in = bounded(r.body())) {
      body = in.readNBytes(MAX_MANIFEST_BYTES + 1);
    } catch (IdleBoundedInputStream.Stalled e) {
      throw new IOException(ref.registry() + " stopped sending the manifest of " + ref + " (" + e.getMessage() + "); try the pull again", e);
    }
    if (r.statusCode() == 404) {
      throw new IOException(ref + " is not in the registry (404); check the repository and tag");
    }
    if (r.statusCode() != 200) {
      throw failure("fetching the manifest of " + ref, r.statusCode(), new String(body, StandardCharsets.UTF_8));
    }
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new IOException("the manifest of " + ref + " is larger than " + MAX_MANIFEST_BYTES + " bytes; it is not a vmlet image");
    }
    String digest = Digests.sha256(body);
    if (ref.digest() != null && !ref.digest().equals(digest)) {
      throw new IOException("the registry answered " + ref + " with a manifest whose digest is " + digest + "; refusing it");
    }
    return new Manifest(body, digest);
  }

  /**
   * Appends the rest of the blob to {@code partial} (from its current length, with HTTP Range),
   * once. The caller checks the digest when the size is reached.
   *
   * @param moved told of the bytes as they are written, so a cut attempt counts too
   * @throws IOException when the connection fails or is cut; what arrived stays in {@code partial}
   */
  void fetchBlobOnce(String digest, long size, Path partial, Consumer<String> progress, LongConsumer moved) throws IOException {
    long have = Files.exists(partial) ? Files.size(partial) : 0;
    HttpRequest.Builder b = request("blobs/" + digest).GET();
    if (have > 0) {
      b.header("Range", "bytes=" + have + "-");
      progress.accept("resuming " + short12(digest) + " at byte " + have + " of " + size);
    }
    HttpResponse<InputStream> r = send(b, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = bounded(r.body())) {
      boolean append;
      if (r.statusCode() == 206 && have > 0) {
        append = true;
      } else if (r.statusCode() == 200) {
        append = false; // the registry ignored the range: start over
      } else if (r.statusCode() == 416) {
        Files.deleteIfExists(partial); // what we hold is longer than the blob: start over next time
        throw new IOException("the registry refused to resume " + digest + " at byte " + have + " (416); starting it over");
      } else {
        throw failure("fetching blob " + digest, r.statusCode(), new String(in.readNBytes(4096), StandardCharsets.UTF_8));
      }
      long written = 0;
      try (OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
        byte[] buf = new byte[1 << 16];
        long limit = size - (append ? have : 0);
        for (int n; written < limit && (n = in.read(buf, 0, (int) Math.min(buf.length, limit - written))) > 0; ) {
          out.write(buf, 0, n);
          written += n;
          moved.accept(n);
        }
      }
    } catch (IdleBoundedInputStream.Stalled e) {
      long kept = Files.exists(partial) ? Files.size(partial) : 0;
      throw new IOException(ref.registry() + " stopped sending blob " + digest + " after " + kept + " of " + size + " bytes (" + e.getMessage() + "); what arrived is kept, and the pull resumes from there", e);
    }
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT);
  }

  /** Sends; on 401 answers the challenge once and sends again. */
  private <T> HttpResponse<T> send(HttpRequest.Builder b, HttpResponse.BodyHandler<T> handler) throws IOException {
    String auth = authorization;
    if (auth != null) {
      b.setHeader("Authorization", auth);
    }
    HttpResponse<T> r = exchange(b, handler);
    if (r.statusCode() != 401) {
      return r;
    }
    discard(r);
    String challenge = r.headers().firstValue("WWW-Authenticate")
        .orElseThrow(() -> new IOException(ref.registry() + " answered 401 without a WWW-Authenticate challenge"));
    authorization = authorize(challenge);
    b.setHeader("Authorization", authorization);
    r = exchange(b, handler);
    if (r.statusCode() == 401 || r.statusCode() == 403) {
      discard(r);
      throw new IOException(ref.registry() + " refused "
          + (options.credentials() == null ? "anonymous access" : "the credentials of " + options.credentials().username())
          + " to " + ref.repository() + " (" + r.statusCode() + ")"
          + (options.credentials() == null ? "; give --username and --password-stdin" : "; check the user name and password"));
    }
    return r;
  }

  private <T> HttpResponse<T> exchange(HttpRequest.Builder b, HttpResponse.BodyHandler<T> handler) throws IOException {
    HttpRequest req = b.build();
    try {
      return http.send(req, handler);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while talking to " + ref.registry());
    } catch (java.net.http.HttpConnectTimeoutException e) {
      throw new IOException("the registry at " + ref.registry() + " did not accept a connection within " + CONNECT_TIMEOUT.toSeconds()
          + " s; check that it runs and is reachable", e);
    } catch (java.net.http.HttpTimeoutException e) {
      throw new IOException(ref.registry() + " did not answer " + req.method() + " " + req.uri().getPath() + " within "
          + REQUEST_TIMEOUT.toSeconds() + " s; try again", e);
    } catch (java.net.ConnectException e) {
      throw new IOException("cannot connect to the registry at " + req.uri().getScheme() + "://" + ref.registry()
          + (req.uri().getScheme().equals("https") ? " (for a registry that speaks plain HTTP, add --plain-http)" : ""), e);
    }
  }

  private static void discard(HttpResponse<?> r) throws IOException {
    if (r.body() instanceof InputStream in) {
      in.close();
    }
  }

  /** The Authorization header that answers {@code challenge}. */
  private String authorize(String challenge) throws IOException {
    Credentials c = options.credentials();
    if (challenge.regionMatches(true, 0, "Basic", 0, 5)) {
      if (c == null) {
        throw new IOException(ref.registry() + " needs a user name and password; give --username and --password-stdin");
      }
      return basic(c);
    }
    if (!challenge.regionMatches(true, 0, "Bearer", 0, 6)) {
      throw new IOException(ref.registry() + " asks for authentication vmlet does not speak: " + challenge);
    }
    Map<String, String> params = new HashMap<>();
    Matcher m = PARAM.matcher(challenge);
    while (m.find()) {
      params.put(m.group(1).toLowerCase(), m.group(2));
    }
    String realm = params.get("realm");
    if (realm == null) {
      throw new IOException(ref.registry() + " sent a Bearer challenge without a realm: " + challenge);
    }
    StringBuilder q = new StringBuilder(realm).append(realm.contains("?") ? "&" : "?");
    if (params.containsKey("service")) {
      q.append("service=").append(URLEncoder.encode(params.get("service"), StandardCharsets.UTF_8)).append('&');
    }
    q.append("scope=").append(URLEncoder.encode(params.getOrDefault("scope", scope), StandardCharsets.UTF_8));
    HttpRequest.Builder tb = HttpRequest.newBuilder(URI.create(q.toString())).timeout(REQUEST_TIMEOUT).GET();
    if (c != null) {
      tb.header("Authorization", basic(c));
    }
    HttpResponse<InputStream> r;
    String body;
    try {
      r = http.send(tb.build(), HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = bounded(r.body())) {
        body = new String(in.readNBytes(MAX_MANIFEST_BYTES), StandardCharsets.UTF_8);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while asking " + realm + " for a token");
    } catch (IdleBoundedInputStream.Stalled e) {
      throw new IOException("the token server " + realm + " stopped sending its answer (" + e.getMessage() + "); try again", e);
    }
    if (r.statusCode() != 200) {
      throw new IOException("the token server " + realm + " refused "
          + (c == null ? "anonymous access; give --username and --password-stdin" : "the credentials of " + c.username())
          + " (" + r.statusCode() + ")");
    }
    String token = OciArtifact.token(body);
    if (token == null) {
      throw new IOException("the token server " + realm + " answered without a token");
    }
    return "Bearer " + token;
  }

  private static String basic(Credentials c) {
    return "Basic " + Base64.getEncoder().encodeToString((c.username() + ":" + c.password()).getBytes(StandardCharsets.UTF_8));
  }

  private IOException failure(String what, Answer r) {
    return failure(what, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
  }

  private IOException failure(String what, int status, String body) {
    String b = body.strip();
    return new IOException(what + " at " + ref.registry() + " failed (" + status + ")"
        + (b.isEmpty() ? "" : ": " + (b.length() > 300 ? b.substring(0, 300) + "..." : b)));
  }

  static String short12(String digest) {
    return digest.substring(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
  }
}
