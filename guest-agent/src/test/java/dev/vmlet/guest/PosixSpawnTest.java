package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The real posix_spawn of this host's libc through JNA's direct mapping: argv and the environment
 * as one native block each, a session of the program's own, its output and exit code.
 */
class PosixSpawnTest {
  @Test
  void cStrings_isANullTerminatedArrayOfTheStringsInOrder() {
    try (Memory m = PosixSpawn.cStrings(List.of("sh", "-c", "écho ok"))) {
      assertThat(m.getPointer(0).getString(0, "UTF-8")).isEqualTo("sh");
      assertThat(m.getPointer(Native.POINTER_SIZE).getString(0, "UTF-8")).isEqualTo("-c");
      assertThat(m.getPointer(2L * Native.POINTER_SIZE).getString(0, "UTF-8")).isEqualTo("écho ok");
      assertThat(m.getPointer(3L * Native.POINTER_SIZE)).isNull();
    }
  }

  @Test
  void cStrings_ofNothing_isOnlyTheTerminatingNull() {
    try (Memory m = PosixSpawn.cStrings(List.of())) {
      assertThat(m.size()).isEqualTo(Native.POINTER_SIZE);
      assertThat(m.getPointer(0)).isEqualTo((Pointer) null);
    }
  }

  @Test
  void pollEventsAndRevents_areTheTwoHalvesOfAPollfdsSecondInt() {
    int word = PosixSpawn.pollEvents((short) 0x1);
    assertThat(PosixSpawn.pollRevents(word)).isZero();
    // what the kernel writes back: revents set beside events
    int back = word | (java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN ? 0x11 << 16 : 0x11);
    assertThat(PosixSpawn.pollRevents(back)).isEqualTo(0x11);
  }

  /** What a shell line started with PosixSpawn printed on stdout, and its exit code. */
  private record Ran(String out, int exit) {}

  /** Runs {@code script} with sh through PosixSpawn, stdin closed, and waits for it. */
  private static Ran sh(String script, Map<String, String> env, String dir) throws Exception {
    PosixSpawn p = PosixSpawn.start("/bin/sh", List.of("sh", "-c", script), env, dir, false);
    p.stdin().close();
    String out = readAll(p.stdout());
    return new Ran(out, p.waitFor());
  }

  /**
   * No blocked signal and none ignored in the program but glibc's own two (32 and 33, which glibc's
   * sigfillset leaves out of POSIX_SPAWN_SETSIGDEF and its spawn sets to SIG_IGN; a glibc program
   * installs its handlers for them at start). Resetting only the signals the agent ignores, to save
   * the child's 64 sigaction calls, was tried: glibc's child queries every signal either way.
   */
  @Test
  void start_givesTheProgramNoIgnoredAndNoBlockedSignal() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    Ran ran = sh("grep -E '^Sig(Ign|Blk)' /proc/self/status", Map.of("PATH", "/usr/bin:/bin"), null);
    String out = ran.out();
    assertThat(ran.exit()).isZero();
    assertThat(out).contains("SigBlk:\t0000000000000000");
    long ignored = Long.parseUnsignedLong(out.replaceAll("(?s).*SigIgn:\\s*([0-9a-f]+).*", "$1").trim(), 16);
    assertThat(ignored & ~0x180000000L).as("ignored signals other than glibc's 32 and 33: %x", ignored).isZero();
  }

  @Test
  void start_runsTheProgramInASessionOfItsOwn_withExactlyTheEnvironmentGiven() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    Ran ran = sh("echo \"$ONLY\" $(ps -o sid= -p $$ 2>/dev/null || cat /proc/$$/stat | cut -d' ' -f6) $$; env | wc -l; pwd; exit 3",
        Map.of("ONLY", "given", "PATH", "/usr/bin:/bin"), "/tmp");
    String out = ran.out();
    assertThat(ran.exit()).isEqualTo(3);
    String[] lines = out.split("\n");
    String[] first = lines[0].trim().split("\\s+");
    assertThat(first[0]).isEqualTo("given");
    assertThat(first[1]).as("session id is the program's pid").isEqualTo(first[2]);
    assertThat(lines[1].trim()).as("variables: ONLY, PATH and what sh sets itself").isIn("2", "3", "4");
    assertThat(lines[2]).isEqualTo("/tmp");
  }

  @Test
  void start_givesTheOutputAPipeOfMoreThanLinuxs64KiB_soAProgramWritingMoreEndsWithNobodyReading() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    // 200,000 bytes fit in the 256 KiB pipe asked for, not in the 64 KiB of the default: head
    // would block on its write and never reach the echo.
    PosixSpawn p = PosixSpawn.start("/bin/sh", List.of("sh", "-c", "head -c 200000 /dev/zero; echo written >&2"),
        Map.of("PATH", "/usr/bin:/bin"), null, false);
    p.stdin().close();
    try {
      String err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try {
          return readAll(p.stderr());
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }).get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(err).isEqualTo("written\n");
      byte[] out = p.stdout().readAllBytes();
      assertThat(out).hasSize(200_000);
      assertThat(p.waitFor()).isZero();
    } finally {
      p.kill();
    }
  }

  @Test
  void start_withTheEnvironmentKept_buildsItsBlockOnceForTheSameMap_andAnewForAnotherMap() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    Map<String, String> base = Map.of("ONLY", "base", "PATH", "/usr/bin:/bin");
    assertThat(run(base)).isEqualTo("base");
    long block = PosixSpawn.keptEnvironmentAddress();
    assertThat(block).isNotZero();
    assertThat(run(base)).isEqualTo("base");
    assertThat(PosixSpawn.keptEnvironmentAddress()).as("the same map: the same block").isEqualTo(block);

    Map<String, String> changed = Map.of("ONLY", "changed", "PATH", "/usr/bin:/bin");
    assertThat(run(changed)).as("another map (the VM's settings changed): its own variables").isEqualTo("changed");
    assertThat(PosixSpawn.keptEnvironmentAddress()).isNotEqualTo(block);
  }

  /** $ONLY as a program started with {@code env} kept sees it. */
  private static String run(Map<String, String> env) throws Exception {
    PosixSpawn p = PosixSpawn.start("/bin/sh", List.of("sh", "-c", "echo \"$ONLY\""), env, true, null, false);
    p.stdin().close();
    String out = readAll(p.stdout()).trim();
    assertThat(p.waitFor()).isZero();
    return out;
  }

  private static String readAll(InputStream in) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    in.transferTo(b);
    return b.toString(StandardCharsets.UTF_8);
  }
}
