package dev.vmlet.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import io.grpc.protobuf.services.HealthStatusManager;

/**
 * The health and reflection .proto files shipped in proto/third_party are those of the gRPC Java
 * this daemon serves them with, so a client built from proto/ alone speaks what the daemon speaks.
 */
class ShippedProtosTest {
  @ParameterizedTest
  @ValueSource(strings = {"grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"})
  void aShippedFile_isTheOneInTheGrpcJarTheDaemonUses(String file) throws Exception {
    Path shipped = Path.of("..", "proto", "third_party", file);
    try (InputStream served = HealthStatusManager.class.getClassLoader().getResourceAsStream(file)) {
      assertThat(served).as("%s in the grpc-services jar", file).isNotNull();
      assertThat(Files.readString(shipped))
          .as("%s differs from the grpc-services jar: copy it again (see proto/third_party/README.md)", shipped)
          .isEqualTo(new String(served.readAllBytes(), StandardCharsets.UTF_8));
    }
  }
}
