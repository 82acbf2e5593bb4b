package dev.vmlet.image;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.vmlet.spec.OciReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A vmlet image as an OCI artifact, in the shape {@code oras push} gives files: an image manifest
 * with {@code artifactType} {@value #ARTIFACT_TYPE}, the empty config ({@code {}}, media type
 * {@value #EMPTY_TYPE}, its bytes inline as {@code data}, as ORAS writes it), and one layer per
 * file of the image, zstd-compressed ({@value #LAYER_TYPE}) and named by the
 * {@code org.opencontainers.image.title} annotation ({@code vmlinuz.zst}). So
 * {@code oras pull} writes the same {@code .zst} files, and files pushed with
 * {@code oras push --artifact-type application/vnd.vmlet.image.v1 vmlinuz.zst:application/zstd ...}
 * are a vmlet image.
 *
 * <pre>
 * {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 *  "artifactType":"application/vnd.vmlet.image.v1",
 *  "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:4413...","size":2,"data":"e30="},
 *  "layers":[{"mediaType":"application/zstd","digest":"sha256:...","size":N,
 *             "annotations":{"org.opencontainers.image.title":"vmlinuz.zst"}}, ...],
 *  "annotations":{"org.opencontainers.image.created":"...","dev.vmlet.image.name":"micro"}}
 * </pre>
 */
public final class OciArtifact {
  public static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
  public static final String ARTIFACT_TYPE = "application/vnd.vmlet.image.v1";
  public static final String EMPTY_TYPE = "application/vnd.oci.empty.v1+json";
  public static final String EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  public static final byte[] EMPTY = "{}".getBytes(StandardCharsets.US_ASCII);
  public static final String LAYER_TYPE = "application/zstd";
  public static final String TITLE = "org.opencontainers.image.title";
  public static final String CREATED = "org.opencontainers.image.created";
  /** Which image of the cache was pushed (micro, debian, ...); informative. */
  public static final String IMAGE_NAME = "dev.vmlet.image.name";
  /** A title: a plain file name ending in .zst, so a pulled file can only land in the image's own directory. */
  private static final Pattern TITLE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}\\.zst");
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private OciArtifact() {}

  /** One file of the image: its title ({@code NAME.zst}) and the compressed blob's digest and size. */
  public record Layer(String title, String digest, long size) {
    public Layer {
      if (!TITLE_NAME.matcher(title).matches()) {
        throw new IllegalArgumentException("layer title '" + title + "' is not a plain file name ending in .zst");
      }
      if (!OciReference.DIGEST.matcher(digest).matches()) {
        throw new IllegalArgumentException("layer " + title + " has no sha256 digest: '" + digest + "'");
      }
      if (size < 0) {
        throw new IllegalArgumentException("layer " + title + " has a negative size");
      }
    }

    /** The file's name once decompressed. */
    public String fileName() {
      return title.substring(0, title.length() - ".zst".length());
    }
  }

  /** A manifest as read: its layers and annotations. */
  public record Parsed(List<Layer> layers, Map<String, String> annotations) {}

  /** The manifest's bytes for {@code layers}; the same input gives the same bytes (and digest). */
  public static byte[] manifest(List<Layer> layers, Map<String, String> annotations) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("schemaVersion", 2);
    m.put("mediaType", MANIFEST_TYPE);
    m.put("artifactType", ARTIFACT_TYPE);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("mediaType", EMPTY_TYPE);
    config.put("digest", EMPTY_DIGEST);
    config.put("size", EMPTY.length);
    config.put("data", "e30=");
    m.put("config", config);
    List<Object> ls = new ArrayList<>();
    for (Layer l : layers) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("mediaType", LAYER_TYPE);
      d.put("digest", l.digest());
      d.put("size", l.size());
      d.put("annotations", Map.of(TITLE, l.title()));
      ls.add(d);
    }
    m.put("layers", ls);
    if (!annotations.isEmpty()) {
      m.put("annotations", new java.util.TreeMap<>(annotations));
    }
    return GSON.toJson(m).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Reads a manifest from a registry, which is not trusted: every field vmlet uses is checked.
   *
   * @throws IllegalArgumentException saying what is wrong, e.g. that it is not a vmlet image
   */
  public static Parsed parse(byte[] bytes) {
    JsonObject m;
    try {
      m = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8)).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new IllegalArgumentException("the manifest is not a JSON object: " + e.getMessage());
    }
    if (!m.has("schemaVersion") || m.get("schemaVersion").getAsInt() != 2) {
      throw new IllegalArgumentException("the manifest's schemaVersion is not 2");
    }
    String mediaType = string(m, "mediaType");
    if (mediaType != null && !mediaType.equals(MANIFEST_TYPE)) {
      throw new IllegalArgumentException("the manifest is a " + mediaType + ", not an OCI image manifest (" + MANIFEST_TYPE + ")");
    }
    String artifactType = string(m, "artifactType");
    if (!ARTIFACT_TYPE.equals(artifactType)) {
      throw new IllegalArgumentException("this artifact is not a vmlet image: its artifactType is "
          + (artifactType == null ? "missing" : "'" + artifactType + "'") + ", not " + ARTIFACT_TYPE);
    }
    if (!m.has("layers") || !m.get("layers").isJsonArray() || m.getAsJsonArray("layers").isEmpty()) {
      throw new IllegalArgumentException("the manifest has no layers");
    }
    List<Layer> layers = new ArrayList<>();
    Set<String> titles = new HashSet<>();
    for (JsonElement e : m.getAsJsonArray("layers")) {
      JsonObject d = e.getAsJsonObject();
      String type = string(d, "mediaType");
      String title = d.has("annotations") ? string(d.getAsJsonObject("annotations"), TITLE) : null;
      if (!LAYER_TYPE.equals(type)) {
        throw new IllegalArgumentException("layer " + title + " is a " + type + "; vmlet images hold " + LAYER_TYPE + " layers");
      }
      if (title == null) {
        throw new IllegalArgumentException("a layer has no " + TITLE + " annotation");
      }
      Layer l = new Layer(title, string(d, "digest"), d.get("size").getAsLong());
      if (!titles.add(l.title())) {
        throw new IllegalArgumentException("two layers are titled " + title);
      }
      layers.add(l);
    }
    Map<String, String> annotations = new LinkedHashMap<>();
    if (m.has("annotations") && m.get("annotations").isJsonObject()) {
      m.getAsJsonObject("annotations").entrySet().forEach(a -> annotations.put(a.getKey(), a.getValue().getAsString()));
    }
    return new Parsed(layers, annotations);
  }

  /** The token of a token server's JSON answer ({@code token}, or OAuth2's {@code access_token}), or null. */
  static String token(String json) {
    try {
      JsonObject o = JsonParser.parseString(json).getAsJsonObject();
      String t = string(o, "token");
      return t != null && !t.isEmpty() ? t : string(o, "access_token");
    } catch (JsonParseException | IllegalStateException e) {
      return null;
    }
  }

  private static String string(JsonObject o, String key) {
    JsonElement e = o.get(key);
    return e == null || !e.isJsonPrimitive() ? null : e.getAsString();
  }
}
