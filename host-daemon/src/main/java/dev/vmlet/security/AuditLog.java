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
import java.util.List;
import java.util.logging.Logger;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The append-only record of who changed what: one line per mutating (or refused) call, and per call
 * that named something on the host, written when it ends: time, caller and role, method, VM,
 * outcome, and then the host paths the request named with the decision on them ({@code paths=...
 * paths_decision=allowed|denied|not-reached}). Values are escaped, so a path cannot forge a line.
 */
public final class AuditLog {
  private static final Logger LOG = Logger.getLogger(AuditLog.class.getName());
  private final Path file;
  private final ConcurrentHashMap<String, LongAdder> refused =
      new ConcurrentHashMap<>();
  private final LongAdder writeFailures = new LongAdder();

  /** A call in flight. */
  public static final class Entry {
    final Instant at = Instant.now();
    final Access.Caller caller;
    final String method;
    final boolean always;
    volatile String vm = "";
    volatile List<HostPathFields.Named> paths = List.of();
    volatile String pathsDecision = "";

    Entry(Access.Caller caller, String method, boolean always) {
      this.caller = caller;
      this.method = method;
      this.always = always;
    }

    /** What the request named on the host, and what became of it: a call that names any is audited. */
    void paths(List<HostPathFields.Named> named, String decision) {
      if (!named.isEmpty()) {
        paths = List.copyOf(named);
        pathsDecision = decision;
      }
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

  /** Method to how many of its calls were recorded as refused (PERMISSION_DENIED), for the daemon's metrics. */
  public Map<String, Long> refusedByMethod() {
    Map<String, Long> out = new TreeMap<>();
    refused.forEach((m, n) -> out.put(m, n.sum()));
    return out;
  }

  /** How many audit lines could not be written. */
  public long writeFailures() {
    return writeFailures.sum();
  }

  /** @param always written whatever happens; otherwise only when the request names something on the host */
  Entry begin(Access.Caller caller, String method, boolean always) {
    return new Entry(caller, method, always);
  }

  void end(Entry e, Status status) {
    if (e == null || (!e.always && e.paths.isEmpty())) {
      return;
    }
    if (status.getCode() == Status.Code.PERMISSION_DENIED) {
      refused.computeIfAbsent(e.method, m -> new LongAdder()).increment();
    }
    String line = e.at + " caller=" + e.caller.name() + " role=" + e.caller.role().label() + " method=" + e.method + " vm="
        + (e.vm.isEmpty() ? "-" : e.vm) + " outcome=" + status.getCode()
        + (e.paths.isEmpty() ? "" : " paths=" + String.join(",", e.paths.stream().map(AuditLog::field).toList())
            + " paths_decision=" + e.pathsDecision)
        + "\n";
    synchronized (this) {
      try {
        Files.createDirectories(file.getParent());
        Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
            StandardOpenOption.WRITE);
      } catch (IOException ex) {
        writeFailures.increment();
        LOG.severe("cannot write the audit log " + file + ": " + ex.getMessage() + "; lost: " + line.strip());
      }
    }
  }

  /** One named path: {@code where=value}, and {@code ->resolved} when resolving changed it. */
  private static String field(HostPathFields.Named n) {
    return n.where() + "=" + escape(n.value()) + (n.resolved().equals(n.value()) ? "" : "->" + escape(n.resolved()));
  }

  /** Whitespace, control characters, ',' and backslashes as \xHH: one call stays one line of space-separated fields. */
  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= ' ' || c == 0x7f || c == '\\' || c == ',' || Character.isWhitespace(c) || Character.isISOControl(c)) {
        b.append(String.format("\\x%02x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
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
