package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.function.BooleanSupplier;
import java.util.logging.Logger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The parts of a cloud image's boot after QEMU starts that the daemon can only observe from outside:
 * cloud-init finishing (asked through the agent) and the SSH port answering with a banner. Each
 * watch runs on its own daemon thread, is bounded, and stops when the VM stops.
 */
final class BootTimeline {
  private static final Logger LOG = Logger.getLogger(BootTimeline.class.getName());
  static final int WATCH_SECONDS = 900;

  volatile long cloudInitDoneAtMs;
  volatile long sshReadyAtMs;
  volatile String cloudInitStatus = "";
  private volatile String sshHost;
  private volatile int sshPort;

  private final Clock clock;

  BootTimeline(Clock clock) {
    this.clock = clock;
  }

  /** Asks the agent to wait for cloud-init ({@code cloud-init status --wait}) and records when it returns. */
  void watchCloudInit(String vm, AgentLink link) {
    ExecStart wait = ExecStart.newBuilder().addArgv("cloud-init").addArgv("status").addArgv("--wait")
        .setTimeoutSeconds(WATCH_SECONDS).build();
    StringBuilder out = new StringBuilder();
    try {
      link.exec(wait, new ExecListener() {
        @Override
        public void stdout(byte[] data) {
          synchronized (out) {
            if (out.length() < 4096) {
              out.append(new String(data, StandardCharsets.UTF_8));
            }
          }
        }

        @Override
        public void stderr(byte[] data) {
          stdout(data);
        }

        @Override
        public void exit(ExecExit exit) {
          cloudInitDoneAtMs = clock.millis();
          synchronized (out) {
            cloudInitStatus = out.toString().replaceAll("[.\\s]+", " ").strip();
          }
          LOG.info("VM " + vm + ": cloud-init finished (exit " + exit.getExitCode() + "): " + cloudInitStatus);
        }

        @Override
        public void failed(String reason) {
          LOG.info("VM " + vm + ": cannot ask cloud-init for its status: " + reason);
        }
      });
    } catch (IOException e) {
      LOG.info("VM " + vm + ": cannot ask cloud-init for its status: " + e.getMessage());
    }
  }

  /** Polls host:port once a second until it sends an SSH banner, the VM stops, or time runs out. */
  void watchSsh(String vm, String host, int port, BooleanSupplier running) {
    sshHost = host;
    sshPort = port;
    Thread t = new Thread(() -> {
      long deadline = clock.millis() + WATCH_SECONDS * 1000L;
      while (running.getAsBoolean() && clock.millis() < deadline) {
        if (SshProbe.answersBanner(host, port)) {
          sshReadyAtMs = clock.millis();
          LOG.info("VM " + vm + ": SSH answers on " + host + ":" + port);
          return;
        }
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "ssh-watch-" + vm);
    t.setDaemon(true);
    t.start();
  }

  /**
   * What the daemon can tell about a boot whose agent never phoned home: whether SSH answered (the
   * guest is up, so the agent's install or start is the problem), what {@code cloud-init status}
   * says over SSH when the daemon holds the VM's key, and the console's last lines. It may take
   * up to 20 s (the SSH probe): never call it holding the VM's lock.
   */
  static String whyNoAgent(BootTimeline t, long startedAtMs, Path consoleLog, Path identity) {
    StringBuilder sb = new StringBuilder();
    if (t != null) {
      sb.append(t.sshReadyAtMs == 0 ? "; SSH has not answered either (the guest may still be booting, or failed to)"
          : String.format("; SSH answered %.1f s after start, so the guest is up: check the agent's install with"
              + " journalctl -u cloud-init -u vmlet-agent (vmlet ssh)", (t.sshReadyAtMs - startedAtMs) / 1000.0));
      if (t.sshReadyAtMs != 0 && identity != null && Files.exists(identity)) {
        sb.append("; cloud-init status over SSH:\n  ")
            .append(String.join("\n  ", SshProbe.cloudInitStatus(t.sshHost, t.sshPort, identity).lines().toList()));
      }
    }
    sb.append("; console: ").append(consoleLog);
    try {
      List<String> lines = Files.readAllLines(consoleLog, StandardCharsets.ISO_8859_1);
      lines = lines.subList(Math.max(0, lines.size() - 5), lines.size());
      if (!lines.isEmpty()) {
        sb.append(", last lines:\n  ").append(String.join("\n  ", lines.stream().map(String::strip).toList()));
      }
    } catch (IOException e) {
      // no console log yet
    }
    return sb.toString();
  }
}
