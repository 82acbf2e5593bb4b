package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.at.PipelineRunner;
import dev.vmlet.common.at.AtParser;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** @target pipelines across two real agents (unix sockets, no VM). */
class PipelineProtocolTest {
  @TempDir Path dir;
  private ProtocolHarness a;
  private ProtocolHarness b;
  private ProtocolHarness c;
  private PipelineRunner.Agents agents;

  @BeforeEach
  void start() throws Exception {
    a = new ProtocolHarness(Files.createDirectories(dir.resolve("a")));
    b = new ProtocolHarness(Files.createDirectories(dir.resolve("b")));
    c = new ProtocolHarness(Files.createDirectories(dir.resolve("c")));
    Map<String, AgentLink> links = Map.of("va", a.link, "vb", b.link, "vc", c.link);
    agents = vm -> {
      AgentLink l = links.get(vm);
      if (l == null) {
        throw new IllegalArgumentException("no VM named '" + vm + "'");
      }
      return l;
    };
  }

  @AfterEach
  void stop() throws Exception {
    a.close();
    b.close();
    c.close();
  }

  private record Ran(PipelineRunner.Result result, String stdout, String stderr) {}

  private Ran run(String line, boolean pipefail) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PipelineRunner.Result r = PipelineRunner.run(AtParser.parse(line), agents, new PipelineRunner.Output() {
      @Override
      public synchronized void stdout(byte[] data) {
        out.writeBytes(data);
      }

      @Override
      public synchronized void stderr(int stage, String vm, byte[] data) {
        err.writeBytes(data);
      }
    }, pipefail, 120);
    return new Ran(r, out.toString(), err.toString());
  }

  @Test
  void aPipeAcrossTwoAgents() throws Exception {
    Ran r = run("@va printf 'x\\ny\\nz\\n' | @vb sort -r", false);
    assertThat(r.stdout()).isEqualTo("z\ny\nx\n");
    assertThat(r.result().exitCode()).isZero();
  }

  @Test
  void threeStages_andStderrFromEachStage() throws Exception {
    Ran r = run("@va sh -c 'seq 1 1000; echo warn >&2' | @vb grep 7 | @va wc -l", false);
    assertThat(r.stdout().strip()).isEqualTo("271");
    assertThat(r.stderr()).isEqualTo("warn\n");
  }

  @Test
  void theExitStatus_isTheLastStages_orWithPipefailTheLastFailingStageNamed() throws Exception {
    assertThat(run("@va sh -c 'echo hi; exit 3' | @vb cat", false).result().exitCode()).isZero();
    Ran failed = run("@va sh -c 'echo hi; exit 3' | @vb cat", true);
    assertThat(failed.result().exitCode()).isEqualTo(3);
    assertThat(failed.result().failure()).contains("stage 1 (@va sh -c 'echo hi; exit 3') exited with 3");
    assertThat(run("@va echo hi | @vb false", false).result().exitCode()).isEqualTo(1);
  }

  @Test
  void a256MiBStreamThroughAPipe_arrivesWhole() throws Exception {
    long t0 = System.nanoTime();
    Ran r = run("@va head -c 268435456 /dev/zero | @vb wc -c", true);
    double s = (System.nanoTime() - t0) / 1e9;
    assertThat(r.stdout().strip()).isEqualTo("268435456");
    System.out.printf("256 MiB from one agent to another through the daemon's pipe: %.1f s (%.0f MB/s)%n", s, 268.435456 / s);
  }

  @Test
  void aStageThatStopsReading_endsThePipeline() throws Exception {
    Ran r = run("@va seq 1 100000000 | @vb head -n 2", false);
    assertThat(r.stdout()).isEqualTo("1\n2\n");
  }

  @Test
  void whatCannotRunYet_orDoesNotExist_isRefusedBeforeAnythingRuns() {
    assertThatThrownBy(() -> run("@va ls | @nope cat", false)).hasMessageContaining("no VM named 'nope'");
    assertThatThrownBy(() -> run("@va ls > a > b", false)).hasMessageContaining("column 1").hasMessageContaining("one '>'");
    assertThatThrownBy(() -> run("@va ls | @vb cat < f", false)).hasMessageContaining("column 18").hasMessageContaining("first stage");
    assertThatThrownBy(() -> run("@va ls > @host /tmp/x", false)).hasMessageContaining("column 10");
    assertThatThrownBy(() -> run("@role=web uptime", false)).hasMessageContaining("column 1");
  }

  @Test
  void redirects_writeFilesOnATarget_andFeedTheFirstStage() throws Exception {
    Path out = dir.resolve("out.txt");
    Path err = dir.resolve("err.txt");
    Ran r = run("@va sh -c 'seq 1 3; echo e >&2' > @vb " + out + " 2> " + err, true);
    assertThat(r.stdout()).isEmpty();
    assertThat(Files.readString(out)).isEqualTo("1\n2\n3\n");
    assertThat(Files.readString(err)).isEqualTo("e\n");
    assertThat(run("@vb wc -l < @va " + out, true).stdout().strip()).isEqualTo("3");
    // Output sent to a file leaves the next stage nothing to read.
    Ran piped = run("@va seq 1 5 > " + dir.resolve("five.txt") + " | @vb wc -l", true);
    assertThat(piped.stdout().strip()).isEqualTo("0");
    assertThat(Files.readAllLines(dir.resolve("five.txt"))).hasSize(5);
    // A file that cannot be read names itself; nothing is left half-written on a failed write.
    assertThatThrownBy(() -> run("@va cat < /no/such/file", true)).hasMessageContaining("reading @va /no/such/file");
    assertThatThrownBy(() -> run("@va echo x > /no/such/dir/f", true)).hasMessageContaining("writing @va /no/such/dir/f");
  }

  @Test
  void aPipeAcrossTwoAgents_redirectedToAFileOnAThird_andAppended() throws Exception {
    Path log = dir.resolve("log.txt");
    Ran first = run("@va printf 'b\\na\\n' | @vb sort > @vc " + log, true);
    assertThat(first.result().exitCode()).isZero();
    assertThat(Files.readString(log)).isEqualTo("a\nb\n");
    Files.setPosixFilePermissions(log, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
    run("@va echo c >> @vc " + log, true);
    assertThat(Files.readString(log)).isEqualTo("a\nb\nc\n");
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(log))).isEqualTo("rw-r-----");
    // '>>' to a file that does not exist makes it; '>' replaces.
    Path fresh = dir.resolve("fresh.txt");
    run("@vb echo one >> @vc " + fresh, true);
    assertThat(Files.readString(fresh)).isEqualTo("one\n");
    run("@vb echo two > @vc " + fresh, true);
    assertThat(Files.readString(fresh)).isEqualTo("two\n");
  }
}
