package dev.vmlet.qemu;

import java.nio.file.Path;

/**
 * The host files of one running VM. Sockets and the pidfile live in the run directory (short
 * paths: unix sockets allow 107 bytes), logs in the state directory.
 */
public record VmFiles(Path runDir, Path stateDir) {
  /** The VM's secret agent token (32 random bytes, 0600), handed to the guest through fw_cfg. */
  public Path agentToken() {
    return stateDir.resolve("agent-token");
  }

  /**
   * The file QEMU reads SMBIOS OEM string {@code index} from (0600; a credential or the proxy):
   * {@code -smbios type=11,path=} keeps the secret off QEMU's command line, which every user sees.
   */
  public Path oemString(int index) {
    return stateDir.resolve("smbios").resolve("oem-" + index);
  }

  /**
   * The VM's identity for its guest (instance id, hostname, MAC, a random seed), rewritten at every
   * start and handed to the guest through fw_cfg: a VM resumed from a template reads it live.
   */
  public Path identity() {
    return stateDir.resolve("identity");
  }

  /** Where a clone's QEMU waits for the template's saved state (migrate-incoming), or a template's is saved from. */
  public Path migrationSocket() {
    return runDir.resolve("migrate.sock");
  }

  /** Present while the VM has yet to resume from its template: holds the template's directory. */
  public Path resumeFrom() {
    return stateDir.resolve("resume-from");
  }

  /** The template a clone was made from (its name); absent for a VM that was not cloned. */
  public Path templateName() {
    return stateDir.resolve("template");
  }

  public Path qmpSocket() {
    return runDir.resolve("qmp.sock");
  }

  public Path agentSocket() {
    return runDir.resolve("agent.sock");
  }

  /** The host end of the agent's legacy serial port (agent_port serial). */
  public Path agentSerialSocket() {
    return runDir.resolve("agent-serial.sock");
  }

  /** The host end of qemu-guest-agent's channel: vmlet does not use it; it is there for QGA clients. */
  public Path qgaSocket() {
    return runDir.resolve("qga.sock");
  }

  /** The vhost-user socket of share {@code index}'s virtiofsd, which QEMU connects to. */
  public Path shareSocket(int index) {
    return runDir.resolve("fs" + index + ".sock");
  }

  /** The output of share {@code index}'s virtiofsd. */
  public Path shareLog(int index) {
    return stateDir.resolve("virtiofsd-" + index + ".log");
  }

  /** The control socket of the VM's swtpm (tpm), which QEMU connects to. */
  public Path tpmSocket() {
    return runDir.resolve("tpm.sock");
  }

  /** The TPM's state (swtpm's files), kept across restarts. */
  public Path tpmState() {
    return stateDir.resolve("tpm");
  }

  /** The output of the VM's swtpm. */
  public Path tpmLog() {
    return stateDir.resolve("swtpm.log");
  }

  public Path pidFile() {
    return runDir.resolve("qemu.pid");
  }

  public Path consoleSocket() {
    return runDir.resolve("console.sock");
  }

  public Path disk(String name) {
    return stateDir.resolve("disks").resolve(name + ".qcow2");
  }

  /** The VM's own UEFI variable store, qcow2 so that snapshots can include it. */
  public Path uefiVars() {
    return stateDir.resolve("uefi-vars.qcow2");
  }

  /** A cloud image's own files, linked from the cache at create so a rebuild never changes them. */
  public Path baseDir() {
    return stateDir.resolve("base");
  }

  /** The VM's SSH key pair (id_ed25519, id_ed25519.pub). */
  public Path sshDir() {
    return stateDir.resolve("ssh");
  }

  /** The NoCloud seed of a cloud image, rewritten at every start. */
  public Path seedIso() {
    return stateDir.resolve("cidata.iso");
  }

  public Path consoleLog() {
    return stateDir.resolve("console.log");
  }

  public Path qemuLog() {
    return stateDir.resolve("qemu.log");
  }
}
