package dev.vmlet.security;

import dev.vmlet.disk.QemuImg;
import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@link HostFiles} on the real host: {@code test -r} and {@code qemu-img info} run as the user
 * through {@code setpriv}, with no capabilities and no_new_privs, each bounded in time. Only root
 * can become another user; a daemon that is not root says it cannot tell, and the path is refused.
 */
final class UserFiles implements HostFiles {
  static final String SETPRIV = "/usr/bin/setpriv";
  static final String TEST = "/usr/bin/test";
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final String qemuImg;
  private final Access.Local daemon;
  private final ProcessRunner runner = ProcessRunner.system();

  /** @param qemuImg the qemu-img binary the daemon's VMs use */
  UserFiles(String qemuImg) {
    this.qemuImg = qemuImg;
    this.daemon = LocalUsers.self();
  }

  @Override
  public String cannotRead(Access.Local who, Path file) {
    if (daemon.uid() != 0) {
      return notRoot();
    }
    List<String> cmd = new ArrayList<>(as(who));
    cmd.addAll(List.of(TEST, "-r", file.toString()));
    ProcessResult r;
    try {
      r = runner.run(ProcessRequest.of(TIMEOUT, cmd));
    } catch (InterruptedIOException e) {
      return "interrupted while checking whether it may read it";
    } catch (IOException e) {
      return "cannot check whether it may read it: " + e.getMessage();
    }
    if (r.timedOut()) {
      return "checking whether it may read it took over " + TIMEOUT.toSeconds() + " s";
    }
    return r.succeeded() ? null : "cannot read it (it does not exist, or that user may not read it)";
  }

  @Override
  public QemuImg.Layer layer(Access.Local who, Path image) throws IOException {
    if (who == null) {
      return new QemuImg(qemuImg).layer(image);
    }
    if (daemon.uid() != 0) {
      throw new IOException(notRoot());
    }
    return new QemuImg(as(who), qemuImg).layer(image);
  }

  @Override
  public Set<Integer> groups(Access.Local who) {
    return LocalUsers.groupsOf(who.uid(), who.gid());
  }

  private String notRoot() {
    return "may not use it: this daemon runs as uid " + daemon.uid() + ", not root, so it cannot check what another user"
        + " may read";
  }

  /**
   * The user's uid and gid as the kernel reported them for the connection, and its supplementary
   * groups as a login of that user would get them (initgroups: that needs a passwd entry; without
   * one, no supplementary groups at all).
   */
  static List<String> as(Access.Local who) {
    return List.of(SETPRIV, "--reuid=" + who.uid(), "--regid=" + who.gid(),
        LocalUsers.nameOf(who.uid()).isPresent() ? "--init-groups" : "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--");
  }
}
