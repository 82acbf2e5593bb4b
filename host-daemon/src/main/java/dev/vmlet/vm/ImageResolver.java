package dev.vmlet.vm;

/** Finds the boot files of a named image. */
@FunctionalInterface
public interface ImageResolver {
  /**
   * @throws VmException FAILED_PRECONDITION when the image is not built, with the command to build it
   */
  BootImage resolve(String image);
}
