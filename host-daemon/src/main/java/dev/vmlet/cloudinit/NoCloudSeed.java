package dev.vmlet.cloudinit;

import dev.vmlet.spec.Share;
import dev.vmlet.spec.UserData;
import java.util.ArrayList;
import java.util.List;

/**
 * Renders the files of a NoCloud seed (volume label {@code cidata}): meta-data, network-config
 * (version 2) and user-data. Pure: the same VM gives the same bytes.
 *
 * <p>The user-data is multipart MIME: vmlet's cloud-config (the agent, the SSH user, the instance
 * id) first, then the user's own part unchanged. Both parts carry a Merge-Type that appends lists
 * and merges mappings, so a user's {@code runcmd} or {@code write_files} adds to vmlet's instead of
 * replacing it, and vmlet's never drops the user's.
 */
public final class NoCloudSeed {
  /** The user in the guest that SSH keys are for; sudo without password, like a cloud image's default user. */
  public static final String USER = "vmlet";
  static final String MERGE = "list(append)+dict(no_replace,recurse_list)+str()";
  /** The ISO label of the agent bundle that the user-data mounts. */
  public static final String BUNDLE_LABEL = "VMLETAGENT";

  private NoCloudSeed() {}

  public static String metaData(String instanceId, String hostname) {
    return "instance-id: " + instanceId + "\nlocal-hostname: " + hostname + "\n";
  }

  /** DHCP on the NIC with the VM's MAC, whatever the guest names it. */
  public static String networkConfig(String mac) {
    return "version: 2\nethernets:\n  vmlet0:\n    match:\n      macaddress: \"" + mac + "\"\n    dhcp4: true\n";
  }

  /** vmlet's own cloud-config part. */
  public static String vmletCloudConfig(String instanceId, List<String> sshKeys) {
    return vmletCloudConfig(instanceId, sshKeys, false);
  }

  /** vmlet's cloud-config; with {@code agentOnSerial} it tells the agent to use ttyS1. */
  public static String vmletCloudConfig(String instanceId, List<String> sshKeys, boolean agentOnSerial) {
    return vmletCloudConfig(instanceId, sshKeys, agentOnSerial, List.of());
  }

  /** With a mount at every boot for each share (the seed is rewritten at every start, so these follow the config). */
  public static String vmletCloudConfig(String instanceId, List<String> sshKeys, boolean agentOnSerial, List<Share> shares) {
    return vmletCloudConfig(instanceId, sshKeys, agentOnSerial, shares, "");
  }

  /**
   * With the guest's proxy ("" for none) for apt (cloud-init's apt module writes it to apt's
   * configuration) and for login shells (/etc/environment, which pam_env reads). The agent takes it
   * from the SMBIOS OEM strings instead, as it does in the micro image.
   */
  public static String vmletCloudConfig(String instanceId, List<String> sshKeys, boolean agentOnSerial, List<Share> shares,
      String httpProxy) {
    StringBuilder sb = new StringBuilder("#cloud-config\n");
    sb.append("users:\n  - default\n  - name: ").append(USER).append('\n')
        .append("    gecos: vmlet\n    shell: /bin/bash\n    lock_passwd: true\n")
        .append("    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    ssh_authorized_keys:\n");
    for (String k : sshKeys) {
      sb.append("      - \"").append(k.strip()).append("\"\n");
    }
    sb.append("write_files:\n  - path: /etc/vmlet/instance-id\n    permissions: \"0644\"\n    content: \"")
        .append(instanceId).append("\\n\"\n");
    if (agentOnSerial) {
      sb.append("  - path: /etc/vmlet/agent-port\n    permissions: \"0644\"\n    content: \"serial\\n\"\n");
    }
    if (!httpProxy.isEmpty()) {
      // GuestSettings allows no quotes, backslashes or spaces in the URL: it needs no escaping here.
      sb.append("  - path: /etc/environment\n    append: true\n    content: |\n");
      for (String v : List.of("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")) {
        sb.append("      ").append(v).append('=').append(httpProxy).append('\n');
      }
      sb.append("      no_proxy=localhost,127.0.0.1,::1\n      NO_PROXY=localhost,127.0.0.1,::1\n");
      sb.append("apt:\n  http_proxy: \"").append(httpProxy).append("\"\n  https_proxy: \"").append(httpProxy).append("\"\n");
    }
    // The agent bundle is a read-only disk; install.sh copies it and starts the unit. bootcmd runs in
    // cloud-init's first stage, a minute before runcmd would under TCG; cloud-init-per makes it once
    // per instance, so a reboot finds the agent installed and started by systemd alone.
    sb.append("bootcmd:\n  - [cloud-init-per, instance, vmlet-agent-install, sh, -c, \"mkdir -p /run/vmlet-bundle && mount -o ro LABEL=")
        .append(BUNDLE_LABEL).append(" /run/vmlet-bundle && /run/vmlet-bundle/install.sh; umount /run/vmlet-bundle\"]\n");
    for (int i = 0; i < shares.size(); i++) {
      // Share keeps guest paths to letters, digits and . _ / + @ -: nothing here needs quoting.
      Share s = shares.get(i);
      // 9p: 9P2000.L over virtio, 512 KiB messages (the default 8 KiB makes large files crawl).
      sb.append("  - [sh, -c, \"mkdir -p ").append(s.guestPath()).append(s.ninep() ? " && mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,"
          : " && mount -t virtiofs -o ").append(s.readOnly() ? "ro" : "rw").append(' ').append(Share.tag(i)).append(' ')
          .append(s.guestPath()).append("\"]\n");
    }
    return sb.toString();
  }

  /** The user-data: vmlet's part, then the user's (when there is one), as multipart MIME. */
  public static String userData(String instanceId, List<String> sshKeys, UserData user) {
    return userData(instanceId, sshKeys, user, false);
  }

  /** With {@code agentOnSerial}, the agent is told to use the legacy serial port (ttyS1). */
  public static String userData(String instanceId, List<String> sshKeys, UserData user, boolean agentOnSerial) {
    return userData(instanceId, sshKeys, user, agentOnSerial, List.of());
  }

  /** With the mounts of the VM's shares. */
  public static String userData(String instanceId, List<String> sshKeys, UserData user, boolean agentOnSerial, List<Share> shares) {
    return userData(instanceId, sshKeys, user, agentOnSerial, shares, "");
  }

  /** With the guest's proxy, "" for none. */
  public static String userData(String instanceId, List<String> sshKeys, UserData user, boolean agentOnSerial, List<Share> shares,
      String httpProxy) {
    String boundary = "==vmlet-" + instanceId + "==";
    List<String[]> parts = new ArrayList<>();
    parts.add(new String[] {"text/cloud-config", "vmlet.cfg", vmletCloudConfig(instanceId, sshKeys, agentOnSerial, shares, httpProxy)});
    if (user != null) {
      parts.add(new String[] {user.contentType(), user.contentType().endsWith("shellscript") ? "user.sh" : "user.cfg", user.text()});
    }
    StringBuilder sb = new StringBuilder();
    sb.append("Content-Type: multipart/mixed; boundary=\"").append(boundary).append("\"\nMIME-Version: 1.0\n\n");
    for (String[] p : parts) {
      sb.append("--").append(boundary).append('\n')
          .append("Content-Type: ").append(p[0]).append("; charset=\"utf-8\"\n")
          .append("MIME-Version: 1.0\n")
          .append("Content-Transfer-Encoding: 8bit\n")
          .append("Content-Disposition: attachment; filename=\"").append(p[1]).append("\"\n")
          .append("Merge-Type: ").append(MERGE).append("\n\n")
          .append(p[2]);
      if (!p[2].endsWith("\n")) {
        sb.append('\n');
      }
    }
    sb.append("--").append(boundary).append("--\n");
    return sb.toString();
  }
}
