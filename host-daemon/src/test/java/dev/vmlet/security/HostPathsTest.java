package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.disk.QemuImg;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.grpc.health.v1.HealthCheckRequest;
import java.util.Set;

/** The rules for host paths per kind of caller, with a fake for what the kernel lets a local user read. */
class HostPathsTest {
  static final Access.Caller ALICE = new Access.Caller("uid 1001 (alice)", Role.OPERATOR, new Access.Local(1001, 1001));
  static final Access.Caller ROOT = new Access.Caller("uid 0 (root)", Role.ADMIN, new Access.Local(0, 0));
  static final Access.Caller CI = new Access.Caller("ci", Role.OPERATOR, null);
  static final Access.Caller WATCHER = new Access.Caller("watcher", Role.VIEWER, null);
  static final Access.Caller BOSS = new Access.Caller("boss", Role.ADMIN, null);

  @TempDir Path dir;
  Path allowed;
  Path outside;
  FakeHostFiles files;
  HostPaths paths;

  @BeforeEach
  void setUp() throws Exception {
    dir = dir.toRealPath();
    allowed = Files.createDirectories(dir.resolve("images"));
    outside = Files.createDirectories(dir.resolve("private"));
    files = new FakeHostFiles();
    paths = new HostPaths(List.of(allowed), files, dir.resolve("sysfs"));
  }

  static CreateVmRequest base(String path) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("sx2")
        .addDisks(DiskSpec.newBuilder().setName("d0").setBaseImage(path))).build();
  }

  static CreateVmRequest kernel(String path) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("k1").setKernel(KernelBoot.newBuilder().setPath(path)))
        .build();
  }

  private Path file(Path in, String name) throws Exception {
    return Files.writeString(in.resolve(name), "x");
  }

  private CreateVmRequest decided(Access.Caller caller, CreateVmRequest req) {
    return (CreateVmRequest) paths.decide(caller, req).request();
  }

  private static HostPathException refusal(Runnable call) {
    try {
      call.run();
    } catch (HostPathException e) {
      return e;
    }
    throw new AssertionError("allowed");
  }

  @Test
  void aLocalOperator_mayNotUseAFileItCannotRead_andIsToldWhatToUseInstead() throws Exception {
    Path secret = file(outside, "secret.img");
    HostPathException e = refusal(() -> paths.decide(ALICE, base(secret.toString())));
    assertThat(e.kind()).isEqualTo(HostPathException.Kind.DENIED);
    assertThat(e.getMessage()).isEqualTo("spec.disks[0].base_image " + secret + ": uid 1001 (alice) cannot read it; use a file you"
        + " can read, or an image by name (vmlet image list), or ask the node's admin");
    assertThat(e.named()).extracting(HostPathFields.Named::where).containsExactly("spec.disks[0].base_image");
  }

  @Test
  void aLocalOperator_isAskedAboutAMissingFileInTheSameWords_asTheDaemonMustNotTellWhatExists() {
    String missing = outside.resolve("nothing-here.img").toString();
    assertThat(refusal(() -> paths.decide(ALICE, base(missing))).getMessage())
        .isEqualTo("spec.disks[0].base_image " + missing + ": uid 1001 (alice) cannot read it; use a file you can read, or an image"
            + " by name (vmlet image list), or ask the node's admin");
    assertThat(files.looked).containsExactly("read " + missing + " as 1001");
  }

  @Test
  void aLocalOperator_mayUseItsOwnFile_andTheDaemonGetsItsRealPath() throws Exception {
    Path own = file(outside, "own.img");
    Path link = Files.createSymbolicLink(dir.resolve("link.img"), own);
    files.readable.add(link);
    files.readable.add(own);
    files.raw(own);
    HostPaths.Decision d = paths.decide(ALICE, base(link.toString()));
    assertThat(((CreateVmRequest) d.request()).getSpec().getDisks(0).getBaseImage()).isEqualTo(own.toString());
    assertThat(d.named()).containsExactly(new HostPathFields.Named("spec.disks[0].base_image", link.toString(), own.toString()));
    assertThat(files.looked).containsExactly("read " + link + " as 1001", "read " + own + " as 1001", "layer " + own + " as 1001");
  }

  @Test
  void aLinkThatLeadsElsewhere_onceResolved_isHeldToTheRuleThere() throws Exception {
    Path secret = file(outside, "secret");
    Path link = Files.createSymbolicLink(dir.resolve("kernel"), secret);
    files.readable.add(link); // as if the link pointed at her own file when she was asked about it
    assertThat(refusal(() -> paths.decide(ALICE, kernel(link.toString()))).getMessage())
        .isEqualTo("spec.kernel.path " + link + ": uid 1001 (alice) cannot read it; use a file you can read, or an image by name"
            + " (vmlet image list), or ask the node's admin");
  }

  @Test
  void aLocalOperatorsImage_isHeldToTheRuleFileByFile_throughItsBackingChain() throws Exception {
    Path top = file(outside, "top.qcow2");
    Path backing = outside.resolve("root-only.img");
    files.readable.add(top);
    files.layers.put(top, new QemuImg.Layer("qcow2", backing.toString(), null));
    assertThat(refusal(() -> paths.decide(ALICE, base(top.toString()))).getMessage()).isEqualTo("spec.disks[0].base_image " + top
        + ": its backing file " + backing + ": uid 1001 (alice) cannot read it as an image: Could not open '" + backing
        + "': Permission denied");
    files.raw(backing);
    assertThat(decided(ALICE, base(top.toString())).getSpec().getDisks(0).getBaseImage()).isEqualTo(top.toString());
  }

  @Test
  void aNonAdminsImage_isRawOrQcow2_withoutDataFilesOrBackingFilesThatAreNotFiles() throws Exception {
    Path img = file(outside, "img");
    files.readable.add(img);
    files.layers.put(img, new QemuImg.Layer("vmdk", null, null));
    assertThat(refusal(() -> paths.decide(ALICE, base(img.toString()))).getMessage())
        .contains("its format is vmdk; images from non-admin callers must be raw or qcow2");
    files.layers.put(img, new QemuImg.Layer("qcow2", null, "/etc/shadow"));
    assertThat(refusal(() -> paths.decide(ALICE, base(img.toString()))).getMessage())
        .contains("it has an external data file (/etc/shadow)");
    files.layers.put(img, new QemuImg.Layer("qcow2", "json:{\"file.filename\":\"/etc/shadow\"}", null));
    assertThat(refusal(() -> paths.decide(ALICE, base(img.toString()))).getMessage())
        .contains("its backing file 'json:{\"file.filename\":\"/etc/shadow\"}' is not a plain file");
    files.layers.put(img, new QemuImg.Layer("qcow2", img.toString(), null)); // a loop
    assertThat(refusal(() -> paths.decide(ALICE, base(img.toString()))).getMessage())
        .contains("its backing chain is longer than " + HostPaths.MAX_CHAIN + " files");
  }

  @Test
  void theIssuesScenario_aRemoteOperatorNamingAWorldReadableFile_isRefused_withoutTheDaemonLookingAtIt() throws Exception {
    Path worldReadable = file(outside, "worldread.img");
    files.readable.add(worldReadable);
    files.raw(worldReadable);
    HostPathException e = refusal(() -> paths.decide(CI, base(worldReadable.toString())));
    assertThat(e.kind()).isEqualTo(HostPathException.Kind.DENIED);
    assertThat(e.getMessage()).isEqualTo("spec.disks[0].base_image " + worldReadable + ": host paths from remote callers (ci is"
        + " operator) are refused unless under a directory the node allows (vmlet daemon --allow-path DIR; this node allows "
        + allowed + "); use an image by name (micro, debian), or ask the node's admin");
    assertThat(files.looked).isEmpty();
    assertThat(refusal(() -> paths.decide(WATCHER, base(worldReadable.toString()))).kind()).isEqualTo(HostPathException.Kind.DENIED);
    assertThat(refusal(() -> paths.decide(CI, kernel("/boot/vmlinuz"))).getMessage()).startsWith("spec.kernel.path /boot/vmlinuz: host"
        + " paths from remote callers");
    CreateVmRequest asImage = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("a").setImage(worldReadable.toString()))
        .build();
    assertThat(refusal(() -> paths.decide(CI, asImage)).getMessage()).startsWith("spec.image " + worldReadable + ": host paths");
  }

  @Test
  void anOciImage_isAName_notAHostPath_forARemoteCaller() throws Exception {
    String ref = "oci://127.0.0.1:5000/vmlet/micro:1";
    CreateVmRequest req = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("a").setImage(ref)).build();
    HostPaths.Decision d = paths.decide(CI, req);
    assertThat(((CreateVmRequest) d.request()).getSpec().getImage()).isEqualTo(ref);
    assertThat(d.named()).isEmpty();
    assertThat(HostPathFields.named(req)).isEmpty();
    assertThat(files.looked).isEmpty();
  }

  @Test
  void aRemoteOperator_mayNameAFileUnderAnAllowedDirectory_butNotOneALinkThereLeadsOutOf() throws Exception {
    Path img = file(allowed, "debian-custom.img");
    files.raw(img);
    assertThat(decided(CI, base(img.toString())).getSpec().getDisks(0).getBaseImage()).isEqualTo(img.toString());
    assertThat(files.looked).containsExactly("layer " + img + " as the daemon");
    Path escape = Files.createSymbolicLink(allowed.resolve("escape.img"), file(outside, "secret.img"));
    assertThat(refusal(() -> paths.decide(CI, base(escape.toString()))).getMessage()).startsWith("spec.disks[0].base_image "
        + escape + ": it resolves to " + outside.resolve("secret.img") + ", outside; host paths from remote callers");
    assertThat(refusal(() -> paths.decide(CI, base(allowed + "/../private/secret.img"))).getMessage()).contains(": host paths from");
  }

  @Test
  void aRemoteOperatorsImage_mayNotReachOutOfTheAllowedDirectories_throughItsBackingChain() throws Exception {
    Path top = file(allowed, "top.qcow2");
    Path secret = outside.resolve("secret.img");
    files.layers.put(top, new QemuImg.Layer("qcow2", secret.toString(), null));
    assertThat(refusal(() -> paths.decide(CI, base(top.toString()))).getMessage()).startsWith("spec.disks[0].base_image " + top
        + ": its backing file " + secret + ": host paths from remote callers");
    assertThat(files.looked).containsExactly("layer " + top + " as the daemon");
  }

  @Test
  void anAdmin_mayNameAnyPath_localOrRemote_resolved_andNothingIsLookedAtOnItsBehalf() throws Exception {
    Path secret = file(outside, "secret.img");
    Path link = Files.createSymbolicLink(dir.resolve("to-secret"), secret);
    assertThat(decided(BOSS, base(link.toString())).getSpec().getDisks(0).getBaseImage()).isEqualTo(secret.toString());
    assertThat(decided(ROOT, kernel(secret.toString())).getSpec().getKernel().getPath()).isEqualTo(secret.toString());
    assertThat(decided(BOSS, base("/no/such/file.img")).getSpec().getDisks(0).getBaseImage()).isEqualTo("/no/such/file.img");
    assertThat(files.looked).isEmpty();
  }

  @Test
  void aRelativePath_isNotAPath_theDaemonWouldResolveFromItsOwnDirectory() {
    HostPathException e = refusal(() -> paths.decide(BOSS, base("etc/shadow")));
    assertThat(e.kind()).isEqualTo(HostPathException.Kind.INVALID);
    assertThat(e.getMessage()).isEqualTo("spec.disks[0].base_image must be an absolute path, got 'etc/shadow'");
    assertThat(refusal(() -> paths.decide(ALICE, kernel("/boot/\0vmlinuz"))).kind()).isEqualTo(HostPathException.Kind.INVALID);
  }

  @Test
  void anImageByName_namesNothingOnTheHost() {
    CreateVmRequest micro = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("m").setImage("micro")).build();
    HostPaths.Decision d = paths.decide(CI, micro);
    assertThat(d.request()).isSameAs(micro);
    assertThat(d.named()).isEmpty();
  }

  @Test
  void aTapDevice_isALocalOperatorsOwn_onlyAndNeverARemoteOperators() throws Exception {
    CreateVmRequest tap = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("t").setTap("tap0")).build();
    Path dev = Files.createDirectories(dir.resolve("sysfs/sys/class/net/tap0"));
    Files.writeString(dev.resolve("owner"), "1001\n");
    assertThat(paths.decide(ALICE, tap).named()).extracting(HostPathFields.Named::value).containsExactly("tap0");
    Files.writeString(dev.resolve("group"), "27\n");
    assertThat(refusal(() -> paths.decide(ALICE, tap)).getMessage()).isEqualTo("spec.tap tap0: uid 1001 (alice) may use only a TAP"
        + " device of its own (this one's owner: uid 1001, group: gid 27); make one with: ip tuntap add dev tap0 mode tap user 1001,"
        + " or ask the node's admin");
    Files.writeString(dev.resolve("owner"), "-1\n");
    files.groups = Set.of(1001, 27);
    assertThat(paths.decide(ALICE, tap).named()).hasSize(1); // no owner, and a group of hers
    Files.writeString(dev.resolve("group"), "-1\n");
    assertThat(refusal(() -> paths.decide(ALICE, tap)).getMessage()).contains("(this one's owner: none, group: none)");
    assertThat(refusal(() -> paths.decide(CI, tap)).getMessage()).isEqualTo("spec.tap tap0: a TAP device may be named over TCP by"
        + " the admin role only; ci is operator; use user-mode networking (no tap), or ask the node's admin");
    assertThat(paths.decide(BOSS, tap).named()).hasSize(1);
    CreateVmRequest up = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("t").setTap("..")).build();
    assertThat(refusal(() -> paths.decide(ALICE, up)).kind()).isEqualTo(HostPathException.Kind.INVALID);
  }

  @Test
  void aGpu_isTheAdminsAlone() {
    CreateVmRequest gpu = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("g").addGpus("0000:01:00.0")).build();
    assertThat(refusal(() -> paths.decide(ALICE, gpu)).getMessage()).isEqualTo("spec.gpus[0] 0000:01:00.0: handing a host device"
        + " over needs the admin role; uid 1001 (alice) is operator");
    assertThat(refusal(() -> paths.decide(CI, gpu)).kind()).isEqualTo(HostPathException.Kind.DENIED);
    assertThat(paths.decide(ROOT, gpu).named()).hasSize(1);
  }

  @Test
  void requestsOfOtherServices_passUntouched() {
    var health = HealthCheckRequest.newBuilder().setService("/etc/shadow").build();
    assertThat(paths.decide(CI, health).request()).isSameAs(health);
  }
}
