package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.VmSpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.NodeServiceProto;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.proto.v1.VmServiceProto;

/**
 * The table of host-path fields against the API itself: every string field that any request of
 * our services can carry must be classified, so a new field that names a host path fails here
 * before it can reach the daemon unchecked.
 */
class HostPathFieldsTest {
  static final List<ServiceDescriptor> SERVICES = List.of(
      VmServiceProto.getDescriptor().findServiceByName("VmService"),
      NodeServiceProto.getDescriptor().findServiceByName("NodeService"));

  /** Every string field reachable from the request of every method, by full name. */
  static Set<String> stringFields() {
    Set<String> out = new TreeSet<>();
    Set<Descriptor> seen = new HashSet<>();
    for (ServiceDescriptor s : SERVICES) {
      for (MethodDescriptor m : s.getMethods()) {
        collect(m.getInputType(), seen, out);
      }
    }
    return out;
  }

  private static void collect(Descriptor d, Set<Descriptor> seen, Set<String> out) {
    if (!seen.add(d)) {
      return;
    }
    for (FieldDescriptor f : d.getFields()) {
      if (f.getJavaType() == FieldDescriptor.JavaType.STRING) {
        out.add(f.getFullName());
      } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        collect(f.getMessageType(), seen, out);
      }
    }
  }

  @Test
  void everyStringFieldOfEveryRequest_isClassified() {
    List<String> missing = new ArrayList<>(stringFields());
    missing.removeAll(HostPathFields.TABLE.keySet());
    assertThat(missing).as("string fields of requests missing from HostPathFields.TABLE: classify each (host path and its"
        + " rule, or not a path) and, for a host path, say in docs/api.md which rule it follows").isEmpty();
  }

  @Test
  void theTable_namesOnlyFieldsThatExist() {
    assertThat(stringFields()).containsAll(HostPathFields.TABLE.keySet());
  }

  @Test
  void everyMethodTheInterceptorOpens_belongsToAServiceWalkedHere() {
    Set<String> walked = new HashSet<>();
    for (ServiceDescriptor s : SERVICES) {
      s.getMethods().forEach(m -> walked.add(s.getFullName() + "/" + m.getName()));
    }
    assertThat(Access.REQUIRED.keySet().stream().filter(m -> m.startsWith("vmlet."))).allMatch(walked::contains);
  }

  @Test
  void theHostPathFields_areTheOnesDocumented() {
    assertThat(HostPathFields.TABLE.entrySet().stream().filter(e -> e.getValue().host).map(e -> e.getKey() + " " + e.getValue()))
        .containsExactlyInAnyOrder(
            "vmlet.v1.VmSpec.image IMAGE_OR_NAME",
            "vmlet.v1.DiskSpec.base_image DISK_IMAGE",
            "vmlet.v1.KernelBoot.path HOST_FILE",
            "vmlet.v1.KernelBoot.initrd HOST_FILE",
            "vmlet.v1.VmSpec.drivers_iso HOST_FILE",
            "vmlet.v1.VmSpec.tap TAP_DEVICE",
            "vmlet.v1.Share.host_path SHARED_DIR",
            "vmlet.v1.VmSpec.gpus HOST_DEVICE",
            "vmlet.v1.GpuRequest.address HOST_DEVICE");
  }

  @Test
  void named_listsTheHostValuesWithWhereTheySit_butNotAnImageByName() {
    CreateVmRequest byPath = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("a").setImage("/srv/a.img")
        .addDisks(DiskSpec.newBuilder().setName("d0").setSizeMib(8)).addDisks(DiskSpec.newBuilder().setName("d1").setBaseImage("/b.img"))
        .setKernel(KernelBoot.newBuilder().setPath("/k").setCmdline("console=ttyS0")).putLabels("role", "web").setTap("tap0")
        .addGpus("01:00.0")).build();
    assertThat(HostPathFields.named(byPath).stream().map(n -> n.where() + "=" + n.value())).containsExactly(
        "spec.image=/srv/a.img", "spec.disks[1].base_image=/b.img", "spec.kernel.path=/k", "spec.tap=tap0", "spec.gpus[0]=01:00.0");
    CreateVmRequest byName = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("a").setImage("micro")).build();
    assertThat(HostPathFields.named(byName)).isEmpty();
  }

  @Test
  void map_replacesOnlyWhatTheVisitorChanged_andKeepsTheRest() {
    CreateVmRequest req = CreateVmRequest.newBuilder().setStart(true).setSpec(VmSpec.newBuilder().setName("a").putLabels("k", "v")
        .addDisks(DiskSpec.newBuilder().setName("d0").setBaseImage("/x/link.img").setSizeMib(8))).build();
    CreateVmRequest out = HostPathFields.map(req, "", (where, rule, value) -> value.equals("/x/link.img") ? "/x/real.img" : value);
    assertThat(out.getSpec().getDisks(0).getBaseImage()).isEqualTo("/x/real.img");
    assertThat(out.toBuilder().setSpec(out.getSpec().toBuilder().setDisks(0, req.getSpec().getDisks(0))).build()).isEqualTo(req);
    assertThat(HostPathFields.map(req, "", (where, rule, value) -> value)).isSameAs(req);
  }

  @Test
  void requestsWithNoHostField_areNotWalkedAtAll() {
    assertThat(HostPathFields.mayNameHost(ExecRequest.getDescriptor())).isFalse();
    assertThat(HostPathFields.mayNameHost(PushFileRequest.getDescriptor())).isFalse();
    assertThat(HostPathFields.mayNameHost(CreateVmRequest.getDescriptor())).isTrue();
  }
}
