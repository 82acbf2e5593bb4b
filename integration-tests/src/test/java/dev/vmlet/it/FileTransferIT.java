package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.proto.v1.VmSpec;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PushFile and PullFile through the daemon's gRPC API into a real micro VM and back, under TCG. */
class FileTransferIT {
  @TempDir static Path tmp;
  static TestDaemon d;
  static final String VM = "it-files";

  @BeforeAll
  static void start() throws Exception {
    d = TestDaemon.start(tmp);
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(VM).setMemoryMib(512)).setStart(true).build());
    Guests.waitReady(d.client, VM);
  }

  @AfterAll
  static void stop() throws Exception {
    if (d != null) {
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(VM).setForce(true).build());
      d.close();
    }
  }

  static FileTransferResult push(String path, byte[] data, String sha, boolean cancelHalfway) throws Exception {
    return Guests.push(d.client, VM, path, data, sha, cancelHalfway);
  }

  @Test
  void a64MiBFile_goesInAndComesBack_withTheSameDigestOnBothEnds() throws Exception {
    byte[] data = new byte[64 << 20];
    new Random(7).nextBytes(data);
    String sha = Guests.sha(data);
    long t0 = System.nanoTime();
    FileTransferResult in = push("/tmp/big.bin", data, sha, false);
    double pushS = (System.nanoTime() - t0) / 1e9;
    assertThat(in.getSha256()).isEqualTo(sha);
    assertThat(Guests.sh(d.client, VM, "sha256sum /tmp/big.bin | cut -d' ' -f1").strip()).isEqualTo(sha);

    long t1 = System.nanoTime();
    Guests.Pulled pulled = Guests.pull(d.client, VM, "/tmp/big.bin");
    long size = pulled.data().length;
    FileTransferResult done = pulled.done();
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    digest.update(pulled.data());
    double pullS = (System.nanoTime() - t1) / 1e9;
    assertThat(size).isEqualTo(data.length);
    assertThat(HexFormat.of().formatHex(digest.digest())).isEqualTo(sha);
    assertThat(done).isNotNull();
    assertThat(done.getSha256()).isEqualTo(sha);
    System.out.printf("64 MiB in a micro VM under TCG through gRPC: push %.1f MB/s, pull %.1f MB/s%n",
        67.108864 / pushS, 67.108864 / pullS);
  }

  @Test
  void aWrongDigest_orACancelledUpload_leavesNothingInTheGuest() throws Exception {
    byte[] data = new byte[4 << 20];
    new Random(1).nextBytes(data);
    assertThatThrownBy(() -> push("/tmp/wrong.bin", data, "0".repeat(64), false))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getDescription()).contains("changed on its way"));
    push("/tmp/cancelled.bin", data, null, true);
    Thread.sleep(2000);
    assertThat(Guests.sh(d.client, VM, "ls -a /tmp | grep -c -e wrong -e cancelled -e vmlet-part; true").strip()).isEqualTo("0");
  }
}
