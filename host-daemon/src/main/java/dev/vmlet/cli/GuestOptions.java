package dev.vmlet.cli;

import dev.vmlet.spec.CloudInitConfig;
import dev.vmlet.spec.Credential;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Reads what launch's guest options name: credentials and their files, SSH public keys, the ssh-agent's keys. */
final class GuestOptions {
  private GuestOptions() {}

  /** --credential NAME=VALUE and --credential-file NAME=PATH; a message names the option, never the value. */
  static List<Credential> credentials(List<String> inline, List<String> files) {
    List<Credential> out = new ArrayList<>();
    for (String c : inline) {
      int eq = c.indexOf('=');
      if (eq < 0) {
        throw new CliException("--credential needs NAME=VALUE; the one given has no '=' (its value is not shown)");
      }
      out.add(credential("--credential", c.substring(0, eq), c.substring(eq + 1).getBytes(StandardCharsets.UTF_8)));
    }
    for (String c : files) {
      int eq = c.indexOf('=');
      if (eq < 0) {
        throw new CliException("--credential-file " + c + ": expected NAME=PATH, e.g. db.password=./secret.txt");
      }
      Path file = Path.of(c.substring(eq + 1));
      byte[] value;
      try {
        if (Files.size(file) > Credential.MAX_VALUE) {
          throw new CliException("--credential-file " + c + ": the file has " + Files.size(file) + " bytes; at most "
              + Credential.MAX_VALUE + " fit in the VM's SMBIOS tables");
        }
        value = Files.readAllBytes(file);
      } catch (IOException e) {
        throw new CliException("--credential-file " + c + ": cannot read the file: " + e.getMessage());
      }
      out.add(credential("--credential-file", c.substring(0, eq), value));
    }
    return out;
  }

  private static Credential credential(String option, String name, byte[] value) {
    try {
      return new Credential(name, value);
    } catch (VmException e) {
      throw new CliException(option + ": " + e.getMessage());
    }
  }

  /** A key line as given, or the content of the .pub file it names. */
  static String readSshKey(String keyOrFile) {
    if (CloudInitConfig.PUBLIC_KEY.matcher(keyOrFile.strip()).matches()) {
      return keyOrFile.strip();
    }
    try {
      String line = Files.readString(Path.of(keyOrFile)).strip();
      if (!CloudInitConfig.PUBLIC_KEY.matcher(line).matches()) {
        throw new CliException("--ssh-key " + keyOrFile + ": the file does not hold one public key line like"
            + " 'ssh-ed25519 AAAA... me@host' (give the .pub file, not the private key)");
      }
      return line;
    } catch (IOException e) {
      throw new CliException("--ssh-key " + keyOrFile + ": not a key line and not a readable file: " + e.getMessage());
    }
  }

  /**
   * The public keys of the ssh-agent at {@code authSock} ({@code ssh-add -L}); none without an
   * agent, with an agent that holds no keys, or without ssh-add (said on stderr, not fatal: the VM's
   * own key still works).
   */
  static List<String> sshAgentKeys(String authSock) {
    if (authSock == null || authSock.isEmpty()) {
      return List.of();
    }
    ProcessBuilder pb = new ProcessBuilder("ssh-add", "-L").redirectErrorStream(true);
    pb.environment().put("SSH_AUTH_SOCK", authSock);
    try {
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readNBytes(256 * 1024);
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        System.err.println("note: ssh-add -L did not answer in 10 s; your ssh-agent's keys are not added (--ssh-key FILE adds one)");
        return List.of();
      }
      if (p.exitValue() != 0) {
        return List.of(); // 1: the agent has no identities; 2: no agent at SSH_AUTH_SOCK
      }
      List<String> keys = new ArrayList<>();
      for (String line : new String(out, StandardCharsets.UTF_8).split("\n")) {
        if (CloudInitConfig.PUBLIC_KEY.matcher(line.strip()).matches()) {
          keys.add(line.strip());
        }
      }
      return keys;
    } catch (IOException e) {
      System.err.println("note: cannot run ssh-add (" + e.getMessage() + "); your ssh-agent's keys are not added;"
          + " install openssh-client or pass --ssh-key FILE");
      return List.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }
}
