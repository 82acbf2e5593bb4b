package dev.vmlet.spec;

import java.nio.file.Path;

/** Finds built images in the cache. */
@FunctionalInterface
public interface ImageResolver {
  /**
   * The micro image's boot files.
   *
   * @throws VmException FAILED_PRECONDITION when the image is not built, with the command to build it
   */
  BootImage resolve(String image);

  /**
   * The directory of the built Debian cloud image (root.qcow2, vmlinuz, initrd.img).
   *
   * @throws VmException FAILED_PRECONDITION when it is not built, with the command to build it
   */
  default Path debian() {
    throw new VmException(VmException.Kind.FAILED_PRECONDITION, "the debian image is not built; run: vmlet image build debian");
  }

  /**
   * The agent bundle ISO that cloud-init installs the agent from.
   *
   * @throws VmException FAILED_PRECONDITION when it is not built, with the command to build it
   */
  default Path agentBundle() {
    throw new VmException(VmException.Kind.FAILED_PRECONDITION, "the agent bundle is not built; run: vmlet image build agent-bundle");
  }
}
