package dev.vmlet;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The daemon's layering (shared/DESIGN.md): arrows point down only. From the top: cli; daemon;
 * api and metrics; at; vm; the leaves (qemu, qmp, disk, net, cloudinit, vfio, image, console, agent, node,
 * host, security, config, share, tpm); at the bottom spec (the plain types of a VM) and fs, which use nothing
 * of vmlet's. The client side (client/) is used by the CLI, the API and the daemon, and uses none
 * of them. A new package cycle or a wrong-way import fails here, naming the classes.
 */
class LayeringTest {
  private static JavaClasses classes;

  private static final String[] ABOVE_THE_LEAVES = {"dev.vmlet.vm..", "dev.vmlet.at..", "dev.vmlet.api..", "dev.vmlet.metrics..",
      "dev.vmlet.daemon..", "dev.vmlet.cli.."};
  private static final String[] LEAVES = {"dev.vmlet.qemu..", "dev.vmlet.qmp..", "dev.vmlet.disk..", "dev.vmlet.net..",
      "dev.vmlet.cloudinit..", "dev.vmlet.vfio..", "dev.vmlet.image..", "dev.vmlet.console..", "dev.vmlet.agent..",
      "dev.vmlet.node..", "dev.vmlet.host..", "dev.vmlet.security..", "dev.vmlet.config..", "dev.vmlet.client..", "dev.vmlet.share..", "dev.vmlet.tpm..", "dev.vmlet.fleet.."};

  @BeforeAll
  static void importTheDaemon() {
    // This module's own compiled classes (Surefire runs in the module's directory); not the jars.
    classes = new ClassFileImporter().importPath(Path.of("target/classes"));
  }

  @Test
  void thePackagesOfTheDaemon_haveNoCycles() {
    slices().matching("dev.vmlet.(*)..").should().beFreeOfCycles().check(classes);
  }

  @Test
  void theSpecAndFsPackages_useNothingElseOfVmlets() {
    noClasses().that().resideInAnyPackage("dev.vmlet.spec..", "dev.vmlet.fs..").should().dependOnClassesThat()
        .resideInAnyPackage(concat(ABOVE_THE_LEAVES, LEAVES)).check(classes);
  }

  @Test
  void theLeaves_neverUseTheLayersAboveThem() {
    noClasses().that().resideInAnyPackage(LEAVES).should().dependOnClassesThat().resideInAnyPackage(ABOVE_THE_LEAVES).check(classes);
  }

  @Test
  void theVmOwner_neverUsesTheApiTheRuntimeOrTheCommandLine() {
    noClasses().that().resideInAPackage("dev.vmlet.vm..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.vmlet.at..", "dev.vmlet.api..", "dev.vmlet.daemon..", "dev.vmlet.cli..").check(classes);
  }

  @Test
  void theAtRuntime_neverUsesTheApiTheServerOrTheCommandLine() {
    noClasses().that().resideInAPackage("dev.vmlet.at..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.vmlet.api..", "dev.vmlet.daemon..", "dev.vmlet.cli..").check(classes);
  }

  @Test
  void theMetrics_neverUseTheApiTheServerOrTheCommandLine() {
    noClasses().that().resideInAPackage("dev.vmlet.metrics..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.vmlet.api..", "dev.vmlet.at..", "dev.vmlet.daemon..", "dev.vmlet.cli..").check(classes);
  }

  @Test
  void theApi_neverUsesTheServerOrTheCommandLine() {
    noClasses().that().resideInAPackage("dev.vmlet.api..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.vmlet.daemon..", "dev.vmlet.cli..").check(classes);
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
