package dev.vmlet.vm;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.ImageResolver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

/** A host for manager tests in a temporary directory: its paths, a micro image of dummy files, no KVM. */
final class TestHost {
  private TestHost() {}

  /** The daemon's state, run and cache directories under {@code dir}. */
  static VmletPaths paths(Path dir) {
    return new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
  }

  /** Writes a kernel and initrd (not real ones) under {@code dir}/img and resolves every image to them. */
  static ImageResolver images(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("img"));
    Files.writeString(dir.resolve("img/vmlinuz"), "not a kernel");
    Files.writeString(dir.resolve("img/initrd.img"), "not an initrd");
    // A root daemon's QEMU runs as vmlet-qemu, which must get through JUnit's 0700 directory.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    return name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img"));
  }

  /** An accelerator probe that finds no KVM: TCG. */
  static AccelProbe noKvm(Path dir) {
    return new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1));
  }
}
