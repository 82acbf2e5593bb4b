package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcStatusTest {
  @TempDir Path proc;

  private ProcStatus status(String text) throws IOException {
    Files.createDirectories(proc.resolve("42"));
    Files.writeString(proc.resolve("42/status"), text);
    return ProcStatus.read(proc, 42).orElseThrow();
  }

  @Test
  void aZombieMainThreadWithLiveThreads_isStillRunning() throws IOException {
    ProcStatus s = status("Name:\tqemu-system-x86\nState:\tZ (zombie)\nTgid:\t42\nThreads:\t5\n");
    assertThat(s).isEqualTo(new ProcStatus('Z', 5));
    assertThat(s.running()).isTrue();
  }

  @Test
  void aZombieWithItsLastThread_isGone() throws IOException {
    assertThat(status("State:\tZ (zombie)\nThreads:\t1\n").running()).isFalse();
  }

  @Test
  void aSleepingProcess_isRunning_andAMissingOneIsNotThere() throws IOException {
    assertThat(status("State:\tS (sleeping)\nThreads:\t9\n").running()).isTrue();
    assertThat(ProcStatus.read(proc, 7)).isEqualTo(Optional.empty());
  }

  /**
   * A real process whose main thread exits while another thread still holds a file open for
   * writing (as QEMU's vCPU and I/O threads do while QEMU exits): it is running until that thread ends.
   */
  @Test
  void isRunning_ofARealProcessWhoseMainThreadExited_waitsForItsLastThread(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 to make such a process");
    Path script = Files.writeString(tmp.resolve("leader_exits.py"), String.join("\n",
        "import ctypes, sys, threading",
        "out = open(sys.argv[1], 'w')",
        "def hold():",
        "    sys.stdin.read()",  // until the test closes our stdin
        "    out.write('done')",
        "    out.close()",
        "threading.Thread(target=hold).start()",
        "ctypes.CDLL(None).syscall(60, 0)", // SYS_exit: only the main thread ends
        ""));
    Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), tmp.resolve("held").toString()).start();
    ProcessHandle h = p.toHandle();
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!ProcStatus.read(ProcStatus.PROC, h.pid()).map(s -> s.state() == 'Z').orElse(false)) {
      assertThat(System.nanoTime()).as("the main thread exits").isLessThan(deadline);
      Thread.onSpinWait();
    }
    assertThat(QemuProcess.isRunning(h)).as("main thread gone, a thread with an open file left").isTrue();
    assertThat(QemuProcess.awaitExit(h, Duration.ofMillis(200))).isFalse();
    p.getOutputStream().close();
    assertThat(QemuProcess.awaitExit(h, Duration.ofSeconds(20))).as("gone once its last thread ended").isTrue();
    assertThat(Files.readString(tmp.resolve("held"))).isEqualTo("done");
  }
}
