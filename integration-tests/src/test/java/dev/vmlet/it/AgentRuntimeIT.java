package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's runtime as the micro image and the agent bundle get it (build-agent-runtime.sh, run
 * for real on this host's JDK and the built agent jar; no VM): the jar keeps only the native
 * libraries of Linux x86-64, and the agent starts from its one class-data archive, the JDK's default
 * archive gone, with JNA's library from the runtime's own lib/.
 */
class AgentRuntimeIT {
  @TempDir Path tmp;

  @Test
  void theRuntime_keepsLinuxX8664NativesOnly_andTheAgentStartsFromItsOneClassArchive() throws Exception {
    Path script = tmp.resolve("build-agent-runtime.sh");
    try (InputStream in = AgentRuntimeIT.class.getResourceAsStream("/dev/vmlet/image/build-agent-runtime.sh")) {
      assertThat(in).as("the script on the class path (host-daemon's jar)").isNotNull();
      Files.copy(in, script);
    }
    Path agentJar = Path.of(System.getProperty("vmlet.agentJar"));
    Path dest = tmp.resolve("agent");
    run(tmp, List.of("bash", script.toString(), agentJar.toString(), dest.toString()), 300);

    // The agent jar as built carries JNA's and jSerialComm's natives for every system; the runtime's
    // copy only the two a Linux x86-64 guest loads, and every class.
    assertThat(natives(agentJar)).hasSizeGreaterThan(20);
    assertThat(natives(dest.resolve("vmlet-agent.jar")))
        .containsExactlyInAnyOrder("com/sun/jna/linux-x86-64/libjnidispatch.so", "Linux/x86_64/libjSerialComm.so");
    assertThat(classes(dest.resolve("vmlet-agent.jar"))).isEqualTo(classes(agentJar));

    assertThat(dest.resolve("agent.jsa")).isRegularFile();
    assertThat(dest.resolve("runtime/lib/server/classes.jsa")).doesNotExist();
    assertThat(dest.resolve("runtime/lib/classlist")).doesNotExist();

    // agent.sh's own command line with -Xshare:on, which fails the start when the archive cannot be
    // used (-Xshare:auto would go on without it): the JDK's classes and the agent's come from it.
    String agentSh = Files.readString(dest.resolve("agent.sh"));
    assertThat(agentSh).contains("-Xshare:auto -XX:SharedArchiveFile=agent.jsa ");
    // C1 alone, its compiler thread at nice 19 (an exec in a 1-vCPU guest no longer waits for it).
    assertThat(agentSh).contains("-XX:TieredStopAtLevel=1 -XX:ThreadPriorityPolicy=1 -XX:CompilerThreadPriority=19 ");
    String exec = agentSh.lines().filter(l -> l.startsWith("exec ")).findFirst().orElseThrow()
        .replace("-Xshare:auto", "-Xshare:on -Xlog:class+load=info").replace("\"$@\"", "--warm-up");
    String out = run(dest, List.of("sh", "-c", exec), 120);
    assertThat(out).contains("java.lang.Object source: shared objects file", "dev.vmlet.guest.AgentMain source: shared objects file",
        "warm-up done");
    // JNA (the native set-up) from the archive too, and its library from the runtime's lib/, not
    // unpacked from the jar into a temporary file at each start (which also ran ldconfig -p).
    assertThat(out).contains("com.sun.jna.Native source: shared objects file",
        "JNA's library " + dest.resolve("lib/libjnidispatch.so"));
  }

  private static List<String> natives(Path jar) throws Exception {
    try (ZipFile z = new ZipFile(jar.toFile())) {
      return z.stream().map(ZipEntry::getName).filter(n -> n.matches(".*\\.(so|dll|dylib|jnilib|a)")).toList();
    }
  }

  private static long classes(Path jar) throws Exception {
    try (ZipFile z = new ZipFile(jar.toFile())) {
      return z.stream().filter(e -> e.getName().endsWith(".class")).count();
    }
  }

  /** Runs {@code command} in {@code dir}, bounded; returns its output (stderr with it) when it exits 0. */
  private static String run(Path dir, List<String> command, long timeoutSeconds) throws Exception {
    Path log = Files.createTempFile(dir, "out-", ".log");
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(command + " still running after " + timeoutSeconds + " s");
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("exit of %s, output:%n%s", command, out).isZero();
    return out;
  }
}
