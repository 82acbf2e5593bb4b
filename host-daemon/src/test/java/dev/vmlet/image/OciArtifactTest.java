package dev.vmlet.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The manifest has the fields and values {@code oras push --artifact-type} writes (oras-go's
 * DescriptorEmptyJSON for the config, the title annotation on each file's layer), and a manifest
 * from a registry is checked before anything in it is used.
 */
class OciArtifactTest {
  private static final String D1 = "sha256:" + "1".repeat(64);
  private static final String D2 = "sha256:" + "2".repeat(64);

  @Test
  void manifest_hasTheShapeOrasWrites() {
    byte[] bytes = OciArtifact.manifest(List.of(new OciArtifact.Layer("vmlinuz.zst", D1, 10)), Map.of(OciArtifact.IMAGE_NAME, "micro"));
    JsonObject m = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8)).getAsJsonObject();
    assertThat(m.get("schemaVersion").getAsInt()).isEqualTo(2);
    assertThat(m.get("mediaType").getAsString()).isEqualTo("application/vnd.oci.image.manifest.v1+json");
    assertThat(m.get("artifactType").getAsString()).isEqualTo("application/vnd.vmlet.image.v1");
    JsonObject config = m.getAsJsonObject("config");
    assertThat(config.get("mediaType").getAsString()).isEqualTo("application/vnd.oci.empty.v1+json");
    assertThat(config.get("size").getAsInt()).isEqualTo(2);
    byte[] data = Base64.getDecoder().decode(config.get("data").getAsString());
    assertThat(new String(data, StandardCharsets.US_ASCII)).isEqualTo("{}");
    assertThat(config.get("digest").getAsString()).isEqualTo(Digests.sha256(data));
    JsonObject layer = m.getAsJsonArray("layers").get(0).getAsJsonObject();
    assertThat(layer.get("mediaType").getAsString()).isEqualTo("application/zstd");
    assertThat(layer.get("digest").getAsString()).isEqualTo(D1);
    assertThat(layer.get("size").getAsLong()).isEqualTo(10);
    assertThat(layer.getAsJsonObject("annotations").get("org.opencontainers.image.title").getAsString()).isEqualTo("vmlinuz.zst");
    assertThat(m.getAsJsonObject("annotations").get("dev.vmlet.image.name").getAsString()).isEqualTo("micro");
  }

  @Test
  void manifest_sameInput_sameDigest() {
    List<OciArtifact.Layer> layers = List.of(new OciArtifact.Layer("a.zst", D1, 1), new OciArtifact.Layer("b.zst", D2, 2));
    Map<String, String> ann = Map.of(OciArtifact.CREATED, "2026-01-01T00:00:00Z", OciArtifact.IMAGE_NAME, "micro");
    assertThat(OciArtifact.manifest(layers, ann)).isEqualTo(OciArtifact.manifest(layers, Map.copyOf(ann)));
  }

  @Test
  void parse_roundTrip_givesTheLayersAndFileNames() {
    byte[] bytes = OciArtifact.manifest(List.of(new OciArtifact.Layer("initrd.img.zst", D2, 7)), Map.of());
    OciArtifact.Parsed p = OciArtifact.parse(bytes);
    assertThat(p.layers()).containsExactly(new OciArtifact.Layer("initrd.img.zst", D2, 7));
    assertThat(p.layers().get(0).fileName()).isEqualTo("initrd.img");
  }

  @Test
  void parse_anotherArtifactType_saysItIsNotAVmletImage() {
    String json = manifestJson("application/vnd.cncf.helm.config.v1+json", "application/zstd", "x.zst", D1);
    assertThatThrownBy(() -> OciArtifact.parse(json.getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("not a vmlet image").hasMessageContaining("helm");
  }

  @Test
  void parse_aTitleThatLeavesTheDirectory_isRefused() {
    String json = manifestJson(OciArtifact.ARTIFACT_TYPE, "application/zstd", "../../etc/passwd.zst", D1);
    assertThatThrownBy(() -> OciArtifact.parse(json.getBytes(StandardCharsets.UTF_8))).hasMessageContaining("not a plain file name");
  }

  @Test
  void parse_aLayerOfAnotherType_orWithoutDigest_isRefused() {
    assertThatThrownBy(() -> OciArtifact.parse(manifestJson(OciArtifact.ARTIFACT_TYPE, "application/vnd.oci.image.layer.v1.tar",
        "x.zst", D1).getBytes(StandardCharsets.UTF_8))).hasMessageContaining("application/zstd layers");
    assertThatThrownBy(() -> OciArtifact.parse(manifestJson(OciArtifact.ARTIFACT_TYPE, "application/zstd", "x.zst", "md5:00")
        .getBytes(StandardCharsets.UTF_8))).hasMessageContaining("no sha256 digest");
    assertThatThrownBy(() -> OciArtifact.parse("[]".getBytes(StandardCharsets.UTF_8))).hasMessageContaining("not a JSON object");
  }

  @Test
  void token_readsTokenOrAccessToken() {
    assertThat(OciArtifact.token("{\"token\":\"t1\"}")).isEqualTo("t1");
    assertThat(OciArtifact.token("{\"access_token\":\"t2\"}")).isEqualTo("t2");
    assertThat(OciArtifact.token("nonsense")).isNull();
  }

  private static String manifestJson(String artifactType, String layerType, String title, String digest) {
    return """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s",
         "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},
         "layers":[{"mediaType":"%s","digest":"%s","size":3,"annotations":{"org.opencontainers.image.title":"%s"}}]}
        """.formatted(artifactType, OciArtifact.EMPTY_DIGEST, layerType, digest, title);
  }
}
