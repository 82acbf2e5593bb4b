package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.GetGuestInfoResponse;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.client.ExecClient;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.VmSpec;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.cli.Main;
import dev.vmlet.cli.PromptAccess;
import dev.vmlet.client.Nodes;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunResult;
import dev.vmlet.proto.v1.VmState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;

/**
 * The agent through the daemon's gRPC API in a real micro VM under TCG: PushFile and PullFile,
 * streamed exec with stdin and cancel, guest info.
 */
class AgentApiIT {
  @TempDir static Path tmp;
  static TestDaemon d;
  static final String VM = "it-files";

  @BeforeAll
  static void start() throws Exception {
    d = TestDaemon.withHostExec(tmp);
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
    // A fixed wait, not a poll: the cancelled upload's file may not exist yet when push returns, so
    // "gone" could be seen before it was ever made; nothing announces the guest's clean-up.
    Thread.sleep(2000);
    assertThat(Guests.sh(d.client, VM, "ls -a /tmp | grep -c -e wrong -e cancelled -e vmlet-part; true").strip()).isEqualTo("0");
  }

  @Test
  void execOutput_reachesTheClientAsItIsProduced_notAtTheEnd() throws Exception {
    ExecClient exec = ExecClient.start(d.client.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS), ExecRequest.newBuilder()
        .setName(VM).setShell("for i in 1 2 3; do echo $i; sleep 1; done").build());
    ExecResponse first = exec.next();
    long firstAt = System.nanoTime();
    assertThat(first.getStdout().toStringUtf8()).isEqualTo("1\n");
    ExecResponse r;
    ExecResponse last = null;
    while ((r = exec.next()) != null) {
      last = r;
    }
    long gapMs = (System.nanoTime() - firstAt) / 1_000_000;
    assertThat(last.getExit().getExitCode()).isZero();
    // Two more seconds of sleeping happened in the guest after the first line reached us.
    assertThat(gapMs).as("ms between the first line and the exit").isGreaterThan(1500);
  }

  @Test
  void stdinGoesIn_andCancelKillsTheProgram_throughTheApi() throws Exception {
    byte[] data = new byte[1 << 20];
    new Random(3).nextBytes(data);
    ExecClient sum = ExecClient.start(d.client.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS),
        ExecRequest.newBuilder().setName(VM).addArgv("sha256sum").setStdin(true).build());
    for (int off = 0; off < data.length; off += 64 * 1024) {
      sum.stdin(data, off, 64 * 1024);
    }
    sum.closeStdin();
    StringBuilder out = new StringBuilder();
    ExecResponse r;
    while ((r = sum.next()) != null) {
      out.append(r.getStdout().toStringUtf8());
    }
    assertThat(out.toString()).startsWith(Guests.sha(data));

    ExecClient sleep = ExecClient.start(d.client.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS),
        ExecRequest.newBuilder().setName(VM).addArgv("sleep").addArgv("100").setStdin(true).build());
    // pidof, not pgrep: the micro image's busybox has no pgrep, and "not found" printed nothing on stdout.
    Poll.until("'sleep 100' to run in the guest", Duration.ofSeconds(30),
        () -> !Guests.sh(d.client, VM, "pidof sleep || true").isBlank());
    long t0 = System.nanoTime();
    sleep.cancel();
    ExecResponse exit = null;
    while ((r = sleep.next()) != null) {
      exit = r;
    }
    assertThat(exit.getExit().getCancelled()).isTrue();
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
    assertThat(Guests.sh(d.client, VM, "pidof sleep || true")).isBlank();
  }

  @Test
  void aTtyExec_getsATerminal_inTheGuest() throws Exception {
    ExecClient exec = ExecClient.start(d.client.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS), ExecRequest.newBuilder()
        .setName(VM).setShell("tty; stty size; read x; echo \"typed $x\"").setTty(true).setRows(30).setCols(100).setStdin(true).build());
    byte[] line = "abc\n".getBytes();
    exec.stdin(line, 0, line.length);
    StringBuilder out = new StringBuilder();
    ExecResponse r;
    ExecResponse last = null;
    while ((r = exec.next()) != null) {
      out.append(r.getStdout().toStringUtf8());
      last = r;
    }
    assertThat(out.toString()).contains("/dev/pts/").contains("30 100").contains("typed abc");
    assertThat(last.getExit().getExitCode()).isZero();
  }

  @Test
  void guestInfo_andTheExecRoundTrip() throws Exception {
    GetGuestInfoResponse info = d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getGuestInfo(VmRef.newBuilder().setName(VM).build());
    assertThat(info.getGuest().getHostname()).isEqualTo(VM);
    assertThat(info.getAddressesList()).anySatisfy(a -> assertThat(a.getAddress()).isEqualTo("10.0.2.15"));
    assertThat(info.getMemoryTotalBytes()).isBetween(300L << 20, 512L << 20);
    assertThat(info.getAgentIsRoot()).isTrue();
    long[] ms = new long[5];
    for (int i = 0; i < ms.length; i++) {
      long t0 = System.nanoTime();
      assertThat(Guests.exec(d.client, VM, "true").exitCode()).isZero();
      ms[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    Arrays.sort(ms);
    System.out.printf("exec round trip of 'true' in a micro VM under TCG: median %d ms (of 5: %s)%n", ms[2],
        Arrays.toString(ms));
  }

  @Test
  void cpRecursive_copiesATreeInAndOut_withModesAndLinks() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("tree/src"));
    Files.createDirectories(src.resolve("a/b"));
    Files.createDirectories(src.resolve("empty"));
    Files.writeString(src.resolve("top.txt"), "top\n");
    Files.write(src.resolve("a/b/data.bin"), new byte[300_000]);
    Files.writeString(src.resolve("a/run.sh"), "#!/bin/sh\necho hi\n");
    Files.setPosixFilePermissions(src.resolve("a/run.sh"), PosixFilePermissions.fromString("rwxr-x---"));
    String socket = "--socket=" + d.paths.socket();
    assertThat(Main.run("cp", socket, "-r", src.toString(), VM + ":/tmp/tree")).isZero();
    assertThat(Guests.sh(d.client, VM, "cd /tmp/tree && find . | sort && stat -c %a a/run.sh && cat top.txt"))
        .isEqualTo(".\n./a\n./a/b\n./a/b/data.bin\n./a/run.sh\n./empty\n./top.txt\n750\ntop\n");
    Guests.sh(d.client, VM, "ln -s run.sh /tmp/tree/a/link; chown 65534:65534 /tmp/tree/top.txt");

    Path back = tmp.resolve("tree/back");
    assertThat(Main.run("cp", socket, "-r", "-p", VM + ":/tmp/tree", back.toString())).isZero();
    assertThat(Files.getAttribute(back.resolve("top.txt"), "unix:uid")).isEqualTo(65534);
    assertThat(Files.readAllBytes(back.resolve("a/b/data.bin"))).hasSize(300_000);
    assertThat(Files.readString(back.resolve("top.txt"))).isEqualTo("top\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(back.resolve("a/run.sh"))))
        .isEqualTo("rwxr-x---");
    assertThat(Files.isDirectory(back.resolve("empty"))).isTrue();
    assertThat(Files.readSymbolicLink(back.resolve("a/link")).toString()).isEqualTo("run.sh");
    // A file is not a tree; a tree that is not there is NOT_FOUND.
    assertThat(Main.run("cp", socket, "-r", VM + ":/no/such/dir", back.resolve("x").toString())).isNotZero();
  }

  @Test
  void cpResume_sendsOnlyWhatTheGuestLacks_andTheDigestCoversTheWholeFile() throws Exception {
    byte[] data = new byte[3 << 20];
    new Random(17).nextBytes(data);
    Path local = tmp.resolve("resume.bin");
    Files.write(local, data);
    Files.write(tmp.resolve("prefix.bin"), Arrays.copyOf(data, 1 << 20));
    String socket = "--socket=" + d.paths.socket();
    // What an interrupted push leaves in the guest: the first MiB, hidden next to the destination.
    assertThat(Main.run("cp", socket, tmp.resolve("prefix.bin").toString(), VM + ":/tmp/.res.bin.vmlet-resume")).isZero();
    assertThat(Main.run("cp", socket, "--resume", local.toString(), VM + ":/tmp/res.bin")).isZero();
    assertThat(Guests.sh(d.client, VM, "sha256sum /tmp/res.bin | cut -d' ' -f1; ls -a /tmp | grep -c vmlet-resume").strip())
        .isEqualTo(Guests.sha(data) + "\n0");
    // A kept part that is not the source's beginning fails the whole-file digest: nothing is written.
    Guests.sh(d.client, VM, "head -c 1048576 /dev/zero > /tmp/.bad.bin.vmlet-resume");
    assertThat(Main.run("cp", socket, "--resume", local.toString(), VM + ":/tmp/bad.bin")).isNotZero();
    assertThat(Guests.sh(d.client, VM, "ls /tmp/bad.bin 2>&1 || true")).contains("No such file");
  }

  @Test
  void aPipeBetweenTwoMicroVms_throughRunCommandLine() throws Exception {
    String other = "it-files-2";
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(other)).setStart(true).build());
    try {
      Guests.waitReady(d.client, other);
      StringBuilder out = new StringBuilder();
      RunResult result = null;
      var it = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest
          .newBuilder().setLine("@" + VM + " sh -c 'seq 1 5000; hostname >&2' | @" + other + " sh -c 'tail -n 1; hostname'")
          .setPipefail(true).build());
      String stderr = "";
      while (it.hasNext()) {
        var r = it.next();
        out.append(r.getStdout().toStringUtf8());
        if (r.hasStderr()) {
          stderr += r.getStderr().getVm() + ":" + r.getStderr().getData().toStringUtf8();
        }
        if (r.hasResult()) {
          result = r.getResult();
        }
      }
      assertThat(out.toString()).isEqualTo("5000\n" + other + "\n");
      assertThat(stderr).isEqualTo(VM + ":" + VM + "\n");
      assertThat(result.getExitCode()).isZero();
      assertThatThrownBy(() -> d.client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@" + VM + " ls |").build()).hasNext())
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getDescription()).contains("column"));
      assertThatThrownBy(() -> d.client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@" + VM + " ls | @no-such-vm wc").build()).hasNext())
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getDescription()).contains("column 16"));
    } finally {
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(other).setForce(true).build());
    }
  }

  /** Runs a line through the daemon; stdout, then "vm:" + stderr per chunk, then the result. */
  private static String[] line(String line) {
    StringBuilder out = new StringBuilder();
    StringBuilder err = new StringBuilder();
    RunResult result = null;
    var it = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS)
        .runCommandLine(RunCommandLineRequest.newBuilder().setLine(line).setPipefail(true).build());
    while (it.hasNext()) {
      var r = it.next();
      out.append(r.getStdout().toStringUtf8());
      if (r.hasStderr()) {
        err.append(r.getStderr().getVm()).append(':').append(r.getStderr().getData().toStringUtf8());
      }
      if (r.hasResult()) {
        result = r.getResult();
      }
    }
    return new String[] {out.toString(), err.toString(), String.valueOf(result.getExitCode())};
  }

  @Test
  void theHost_andControlFlags_inLines() throws Exception {
    Path file = tmp.resolve("from-the-vm.txt");
    String[] r = line("@" + VM + " hostname | @host tr a-z A-Z > @spirit " + file);
    assertThat(r[2]).as("exit code; stderr: %s", r[1]).isEqualTo("0");
    assertThat(Files.readString(file)).isEqualTo(VM.toUpperCase() + "\n");
    // The host's file into the VM's stdin, and --info of the VM into a file on the host.
    assertThat(line("@" + VM + " wc -c < @host " + file)[0].strip()).isEqualTo(String.valueOf(VM.length() + 1));
    Path info = tmp.resolve("info.json");
    line("@" + VM + " --info > @host " + info);
    assertThat(Files.readString(info)).contains("\"name\": \"" + VM + "\"");
    assertThat(line("@" + VM + " --pause")[2]).isEqualTo("0");
    assertThat(d.client.vms().getVm(VmRef.newBuilder().setName(VM).build()).getState())
        .isEqualTo(VmState.PAUSED);
    line("@" + VM + " --resume");
    assertThat(line("@" + VM + " echo back")[0]).isEqualTo("back\n");
    assertThatThrownBy(() -> line("@host --pause")).hasMessageContaining("not a VM");
  }

  @Test
  void thePrompt_runsEachLine_andShowsErrorsWithACaret() throws Exception {
    String input = "@" + VM + " echo hi | @" + VM + " tr a-z A-Z\n@" + VM + " ls |\n@no-such-vm true\n@" + VM + " sh -c 'exit 3'\nexit\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = PromptAccess.run(d.client, new ByteArrayInputStream(input.getBytes()), out);
    String shown = out.toString();
    assertThat(shown).contains("HI\n");
    assertThat(shown).contains("  @" + VM + " ls |\n  " + " ".repeat(VM.length() + 5) + "^\n").contains("empty stage after '|'");
    assertThat(shown).contains("no VM named 'no-such-vm'");
    assertThat(shown).contains("vmlet [3]> ");
    assertThat(code).isEqualTo(3);
    assertThat(shown).startsWith("vmlet> ");
  }

  @Test
  void aLineForAnotherNode_isRunByThatNodesDaemon() throws Exception {
    Nodes nodes = Nodes.ofSockets(Map.of("n1", d.paths.socket()));
    try (TestDaemon other = TestDaemon.withNodes(tmp.resolve("other"), nodes)) {
      StringBuilder out = new StringBuilder();
      var it = other.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest
          .newBuilder().setLine("@n1/" + VM + " hostname | @n1/" + VM + " tr a-z A-Z").build());
      int code = -1;
      while (it.hasNext()) {
        var r = it.next();
        out.append(r.getStdout().toStringUtf8());
        code = r.hasResult() ? r.getResult().getExitCode() : code;
      }
      assertThat(out.toString()).isEqualTo(VM.toUpperCase() + "\n");
      assertThat(code).isZero();
      assertThatThrownBy(() -> other.client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@n9/x true").build()).hasNext()).hasMessageContaining("no node named 'n9'");
      assertThatThrownBy(() -> other.client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@n1/" + VM + " ls | @here cat").build()).hasNext()).hasMessageContaining("a line across nodes");
      assertThatThrownBy(() -> other.client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@n1/no-such-vm true").build()).hasNext()).hasMessageContaining("node n1: column 1");
    }
  }

  @Test
  void theVmToken_isInTheGuest_forRootOnly() throws Exception {
    String f = "/sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/token/raw";
    assertThat(Guests.sh(d.client, VM, "wc -c < " + f + "; stat -c '%a %U' " + f)).isEqualTo("32\n400 root\n");
  }
}
