package dev.vmlet.security;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every string field a request to this daemon can carry, classified: does it name something on the
 * daemon's host, and by which rule does {@link HostPaths} decide it. A field missing from the table
 * is refused when it holds a value (and HostPathFieldsTest fails first), so a new field that names a
 * host path cannot slip past unnoticed.
 */
final class HostPathFields {
  /** How a field's value is treated. */
  enum Rule {
    /** A host disk image QEMU reads, and every file of its backing chain. */
    DISK_IMAGE(true),
    /**
     * An image of the cache by name ("micro", "debian") or from a registry ({@code oci://...}), or,
     * when it otherwise holds a '/', a host disk image as {@link #DISK_IMAGE}.
     */
    IMAGE_OR_NAME(true),
    /** A host file QEMU reads (a kernel, an initramfs). */
    HOST_FILE(true),
    /** A host directory shared into a VM with virtiofs (virtiofsd runs as root): see HostPaths#sharedDir. */
    SHARED_DIR(true),
    /** A host TAP device QEMU attaches to. */
    TAP_DEVICE(true),
    /** A host PCI device handed to a VM or to vfio-pci: admin only. */
    HOST_DEVICE(true),
    /** An @target line: @host stages and redirections need the admin role, checked where the line runs (CommandLines). */
    AT_LINE(false),
    /** A path, program, variable or user inside a guest: the guest's agent decides, never the host. */
    GUEST(false),
    /** Content the caller sends (a document, a key, a digest), not the name of a host file. */
    CONTENT(false),
    /** The name of a VM, disk, snapshot or label, or one of a fixed set of values. */
    NOT_A_PATH(false);

    final boolean host;

    Rule(boolean host) {
      this.host = host;
    }
  }

  private static final String V1 = "vmlet.v1.";

  /** Full field name -> rule, for every string field reachable from a request of VmService or NodeService. */
  static final Map<String, Rule> TABLE = Map.ofEntries(
      Map.entry(V1 + "VmSpec.image", Rule.IMAGE_OR_NAME),
      Map.entry(V1 + "DiskSpec.base_image", Rule.DISK_IMAGE),
      Map.entry(V1 + "KernelBoot.path", Rule.HOST_FILE),
      Map.entry(V1 + "KernelBoot.initrd", Rule.HOST_FILE),
      Map.entry(V1 + "VmSpec.tap", Rule.TAP_DEVICE),
      Map.entry(V1 + "VmSpec.drivers_iso", Rule.HOST_FILE),
      Map.entry(V1 + "Share.host_path", Rule.SHARED_DIR),
      Map.entry(V1 + "Share.guest_path", Rule.GUEST),
      Map.entry(V1 + "VmSpec.gpus", Rule.HOST_DEVICE),
      Map.entry(V1 + "GpuRequest.address", Rule.HOST_DEVICE),
      Map.entry(V1 + "RunCommandLineRequest.line", Rule.AT_LINE),
      Map.entry(V1 + "CloudInit.user_data", Rule.CONTENT),
      Map.entry(V1 + "CloudInit.ssh_authorized_key", Rule.CONTENT),
      Map.entry(V1 + "CloudInit.ssh_authorized_keys", Rule.CONTENT),
      Map.entry(V1 + "Credential.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "VmSpec.http_proxy", Rule.GUEST), // a URL the guest uses, checked by VmConfig
      Map.entry(V1 + "PushFileRequest.sha256", Rule.CONTENT),
      Map.entry(V1 + "KernelBoot.cmdline", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.argv", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.EnvEntry.key", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.EnvEntry.value", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.working_dir", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.shell", Rule.GUEST),
      Map.entry(V1 + "ExecRequest.user", Rule.GUEST),
      Map.entry(V1 + "ListFilesRequest.path", Rule.GUEST),
      Map.entry(V1 + "PullFileRequest.path", Rule.GUEST),
      Map.entry(V1 + "PushFileHeader.path", Rule.GUEST),
      Map.entry(V1 + "VmSpec.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "VmSpec.LabelsEntry.key", Rule.NOT_A_PATH),
      Map.entry(V1 + "VmSpec.LabelsEntry.value", Rule.NOT_A_PATH),
      Map.entry(V1 + "PortForward.host_address", Rule.NOT_A_PATH), // an address to listen on, checked by VmConfig
      Map.entry(V1 + "DiskSpec.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "ListVmsRequest.LabelsEntry.key", Rule.NOT_A_PATH),
      Map.entry(V1 + "ListVmsRequest.LabelsEntry.value", Rule.NOT_A_PATH),
      Map.entry(V1 + "VmRef.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "StopVmRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "DeleteVmRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "ExecRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "WaitAgentReadyRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "WatchVmsRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "ConsoleInput.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "ResizeDiskRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "ResizeDiskRequest.disk", Rule.NOT_A_PATH),
      Map.entry(V1 + "SnapshotRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "CreateVmRequest.template", Rule.NOT_A_PATH),
      Map.entry(V1 + "CreateTemplateRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "CreateTemplateRequest.vm", Rule.NOT_A_PATH),
      Map.entry(V1 + "TemplateRef.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "SnapshotRequest.snapshot", Rule.NOT_A_PATH),
      Map.entry(V1 + "ListFilesRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "PullFileRequest.name", Rule.NOT_A_PATH),
      Map.entry(V1 + "PushFileHeader.name", Rule.NOT_A_PATH));

  private static final Map<Descriptor, Boolean> MAY_NAME_HOST = new ConcurrentHashMap<>();

  private HostPathFields() {}

  /** Sees one string value of a request and returns it, or what replaces it. */
  interface Visitor {
    /**
     * @param where the field's path from the request, e.g. {@code spec.disks[0].base_image}
     * @param rule null when the field is not in the table
     */
    String visit(String where, Rule rule, String value);
  }

  /** A field of a request that names something on the host, and what it was resolved to. */
  record Named(String where, String value, String resolved) {}

  /** The rule of a field; null when the table lacks it. */
  static Rule rule(FieldDescriptor f) {
    return TABLE.get(f.getFullName());
  }

  /** Whether requests of this type are classified here at all: ours are; health and reflection are not. */
  static boolean classified(Message m) {
    return m.getDescriptorForType().getFile().getPackage().startsWith("vmlet.");
  }

  /** What a request names on the host (an image name without '/', or an oci:// reference, is not a path), as sent. */
  static List<Named> named(Message request) {
    List<Named> out = new ArrayList<>();
    if (classified(request)) {
      map(request, "", (where, rule, value) -> {
        if (rule != null && rule.host && !(rule == Rule.IMAGE_OR_NAME && !HostPaths.isHostPath(value))) {
          out.add(new Named(where, value, value));
        }
        return value;
      });
    }
    return out;
  }

  /**
   * Calls {@code v} for every non-empty string whose field is host-bearing or unclassified, and
   * returns the message with the values it returned; the same instance when none changed.
   */
  @SuppressWarnings("unchecked")
  static <M extends Message> M map(M m, String prefix, Visitor v) {
    Descriptor d = m.getDescriptorForType();
    if (!mayNameHost(d)) {
      return m;
    }
    Message.Builder b = null;
    for (FieldDescriptor f : d.getFields()) {
      String where = prefix + f.getName();
      int n = f.isRepeated() ? m.getRepeatedFieldCount(f) : 1;
      for (int i = 0; i < n; i++) {
        String at = f.isRepeated() ? where + "[" + i + "]" : where;
        Object value = f.isRepeated() ? m.getRepeatedField(f, i) : m.getField(f);
        Object out = value;
        if (f.getJavaType() == FieldDescriptor.JavaType.STRING) {
          Rule rule = rule(f);
          if (!((String) value).isEmpty() && (rule == null || rule.host)) {
            out = v.visit(at, rule, (String) value);
          }
        } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && (f.isRepeated() || m.hasField(f))) {
          out = map((Message) value, at + ".", v);
        }
        if (!out.equals(value)) {
          b = b != null ? b : m.toBuilder();
          if (f.isRepeated()) {
            b.setRepeatedField(f, i, out);
          } else {
            b.setField(f, out);
          }
        }
      }
    }
    return b == null ? m : (M) b.build();
  }

  /** Whether a message of this type can hold a host-bearing or unclassified string; cached, as it never changes. */
  static boolean mayNameHost(Descriptor d) {
    Boolean known = MAY_NAME_HOST.get(d);
    if (known != null) {
      return known;
    }
    boolean may = mayNameHost(d, new HashSet<>());
    MAY_NAME_HOST.put(d, may);
    return may;
  }

  private static boolean mayNameHost(Descriptor d, Set<Descriptor> seen) {
    if (!seen.add(d)) {
      return false;
    }
    for (FieldDescriptor f : d.getFields()) {
      if (f.getJavaType() == FieldDescriptor.JavaType.STRING && (rule(f) == null || rule(f).host)) {
        return true;
      }
      if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && mayNameHost(f.getMessageType(), seen)) {
        return true;
      }
    }
    return false;
  }
}
