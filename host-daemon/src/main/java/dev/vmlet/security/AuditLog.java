package dev.vmlet.security;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * The append-only record of who changed what: one line per mutating (or refused) call, written
 * when it ends: time, caller and role, method, VM, outcome.
 */
public final class AuditLog {
  private static final Logger LOG = Logger.getLogger(AuditLog.class.getName());
  private final Path file;

  /** A call in flight. */
  public static final class Entry {
    final Instant at = Instant.now();
    final Access.Caller caller;
    final String method;
    volatile String vm = "";

    Entry(Access.Caller caller, String method) {
      this.caller = caller;
      this.method = method;
    }

    void vm(String name) {
      if (vm.isEmpty() && name != null) {
        vm = name;
      }
    }
  }

  public AuditLog(Path file) {
    this.file = file;
  }

  public Path file() {
    return file;
  }

  Entry begin(Access.Caller caller, String method) {
    return new Entry(caller, method);
  }

  void end(Entry e, Status status) {
    if (e == null) {
      return;
    }
    String line = e.at + " caller=" + e.caller.name() + " role=" + e.caller.role().label() + " method=" + e.method + " vm="
        + (e.vm.isEmpty() ? "-" : e.vm) + " outcome=" + status.getCode() + "\n";
    synchronized (this) {
      try {
        Files.createDirectories(file.getParent());
        Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
            StandardOpenOption.WRITE);
      } catch (IOException ex) {
        LOG.severe("cannot write the audit log " + file + ": " + ex.getMessage() + "; lost: " + line.strip());
      }
    }
  }

  /** The VM a request is about: its {@code name} field (or the first message's of a stream), when it has one. */
  static String vmOf(Object message) {
    if (!(message instanceof Message m)) {
      return null;
    }
    Descriptors.FieldDescriptor f = m.getDescriptorForType().findFieldByName("name");
    if (f != null && f.getType() == Descriptors.FieldDescriptor.Type.STRING) {
      String v = (String) m.getField(f);
      if (!v.isEmpty()) {
        return v;
      }
    }
    for (Descriptors.FieldDescriptor sub : m.getDescriptorForType().getFields()) {
      if (sub.getType() == Descriptors.FieldDescriptor.Type.MESSAGE && !sub.isRepeated() && m.hasField(sub)) {
        String v = vmOf(m.getField(sub));
        if (v != null) {
          return v;
        }
      }
    }
    return null;
  }
}
