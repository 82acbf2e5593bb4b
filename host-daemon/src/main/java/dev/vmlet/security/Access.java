package dev.vmlet.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Map;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One interceptor for every call: who the caller is (a client certificate's CN and role over TLS;
 * the daemon's own user on the unix socket, which is 0600 and so admin), whether the role may call
 * the method ({@link #REQUIRED}; a method missing from the table is denied), whether it may name
 * the host paths and devices its request names ({@link HostPaths}: the service then gets the request
 * with those paths resolved), and an audit line for every mutating call, and every call that named
 * a host path, with its outcome.
 */
public final class Access implements ServerInterceptor {
  /**
   * The caller of the current call.
   *
   * @param role null for a local user who may not use the daemon
   * @param local the process's uid and gid on a unix socket (or in-process); null for a remote
   *     caller over TLS, which has no account on this host
   */
  public record Caller(String name, Role role, Local local) {
    public boolean isAdmin() {
      return role == Role.ADMIN;
    }
  }

  /** A process on this host as the kernel reported it (SO_PEERCRED). */
  public record Local(int uid, int gid) {}

  public static final Context.Key<Caller> CALLER = Context.key("vmlet-caller");

  /** Members of this group may use the local socket as operators. */
  public static final String LOCAL_GROUP = LocalUsers.GROUP;

  private static final String VM = "vmlet.v1.VmService/";
  private static final String NODE = "vmlet.v1.NodeService/";

  /** method -> the least role that may call it. */
  static final Map<String, Role> REQUIRED = Map.ofEntries(
      Map.entry(VM + "GetVm", Role.VIEWER), Map.entry(VM + "ListVms", Role.VIEWER), Map.entry(VM + "WatchVms", Role.VIEWER),
      Map.entry(VM + "ListSnapshots", Role.VIEWER), Map.entry(VM + "DryRun", Role.VIEWER), Map.entry(VM + "GetGuestInfo", Role.VIEWER),
      Map.entry(VM + "WaitAgentReady", Role.VIEWER), Map.entry(VM + "ListTemplates", Role.VIEWER),
      Map.entry(VM + "GetTemplate", Role.VIEWER), Map.entry(VM + "CreateTemplate", Role.OPERATOR),
      Map.entry(VM + "DeleteTemplate", Role.OPERATOR),
      Map.entry(VM + "CreateVm", Role.OPERATOR), Map.entry(VM + "StartVm", Role.OPERATOR), Map.entry(VM + "StopVm", Role.OPERATOR),
      Map.entry(VM + "RebootVm", Role.OPERATOR), Map.entry(VM + "PauseVm", Role.OPERATOR), Map.entry(VM + "ResumeVm", Role.OPERATOR),
      Map.entry(VM + "DeleteVm", Role.OPERATOR), Map.entry(VM + "ResizeDisk", Role.OPERATOR),
      Map.entry(VM + "CreateSnapshot", Role.OPERATOR), Map.entry(VM + "RestoreSnapshot", Role.OPERATOR),
      Map.entry(VM + "DeleteSnapshot", Role.OPERATOR), Map.entry(VM + "Exec", Role.OPERATOR), Map.entry(VM + "PushFile", Role.OPERATOR),
      Map.entry(VM + "PullFile", Role.OPERATOR), Map.entry(VM + "ListFiles", Role.OPERATOR),
      Map.entry(VM + "OpenConsole", Role.OPERATOR), Map.entry(VM + "RunCommandLine", Role.OPERATOR),
      Map.entry(NODE + "GetCapabilities", Role.VIEWER), Map.entry(NODE + "ListGpus", Role.VIEWER),
      Map.entry(NODE + "DescribeNode", Role.VIEWER), Map.entry(NODE + "ListNodes", Role.VIEWER),
      Map.entry(NODE + "ListFleetVms", Role.VIEWER),
      Map.entry(NODE + "PassthroughGpu", Role.ADMIN), Map.entry(NODE + "ReclaimGpu", Role.ADMIN),
      Map.entry("grpc.health.v1.Health/Check", Role.VIEWER), Map.entry("grpc.health.v1.Health/Watch", Role.VIEWER),
      Map.entry("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Role.VIEWER));

  /** The one place a refused host path becomes a gRPC status. */
  static Status status(HostPathException e) {
    Status s = switch (e.kind()) {
      case DENIED -> Status.PERMISSION_DENIED;
      case INVALID -> Status.INVALID_ARGUMENT;
      case UNCLASSIFIED -> Status.INTERNAL;
    };
    return s.withDescription(e.getMessage());
  }

  /** Calls that change something: audited. */
  static boolean mutating(String method) {
    Role r = REQUIRED.get(method);
    return r != null && r != Role.VIEWER && !method.endsWith("/PullFile") && !method.endsWith("/ListFiles")
        && !method.endsWith("/OpenConsole");
  }

  /** Long-lived streams a caller may hold open at once (each holds a program, a transfer or a console). */
  public static final int DEFAULT_STREAMS_PER_CALLER = 64;
  private static final Set<String> STREAMS = Set.of(VM + "Exec", VM + "RunCommandLine", VM + "OpenConsole",
      VM + "PushFile", VM + "PullFile", VM + "WatchVms");

  /** The largest request message per method; 64 KiB for the others. */
  static final Map<String, Integer> MAX_MESSAGE = Map.of(VM + "PushFile", 4 << 20, VM + "Exec", 1 << 20, VM + "OpenConsole", 1 << 20,
      VM + "CreateVm", 1 << 20, VM + "DryRun", 1 << 20);
  static final int DEFAULT_MAX_MESSAGE = 64 << 10;

  private final AuditLog audit;
  private final int streamsPerCaller;
  private final HostPaths hostPaths;
  private final ConcurrentHashMap<String, AtomicInteger> open =
      new ConcurrentHashMap<>();

  public Access(AuditLog audit) {
    this(audit, DEFAULT_STREAMS_PER_CALLER, HostPaths.strict());
  }

  /** @param hostPaths decides every request's host paths before the service sees it */
  public Access(AuditLog audit, int streamsPerCaller, HostPaths hostPaths) {
    this.audit = audit;
    this.streamsPerCaller = streamsPerCaller;
    this.hostPaths = hostPaths;
  }

  /** Each caller with streams open now and how many (for the daemon's metrics). */
  public Map<String, Integer> openStreams() {
    Map<String, Integer> out = new TreeMap<>();
    open.forEach((caller, n) -> {
      if (n.get() > 0) {
        out.put(caller, n.get());
      }
    });
    return out;
  }

  /**
   * Who is calling: from the TLS session's client certificate; on the unix socket from the
   * kernel's peer credentials: root and the daemon's own user are admin, members of group
   * {@link LocalUsers#GROUP} operator, anyone else is refused.
   */
  static Caller caller(ServerCall<?, ?> call) throws SSLPeerUnverifiedException {
    SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (tls == null) {
      int[] peer = call.getAttributes().get(PeerCredentials.UID_GID);
      if (peer == null) {
        return new Caller("local", Role.ADMIN, LocalUsers.self()); // in-process: no socket at all
      }
      return LocalUsers.caller(peer[0], peer[1]);
    }
    Certificate[] peer = tls.getPeerCertificates();
    String[] nr = NodePki.nameAndRole((X509Certificate) peer[0]);
    return new Caller(nr[0], Role.parse(nr[1]), null);
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    Caller who;
    try {
      who = caller(call);
    } catch (SSLPeerUnverifiedException | RuntimeException e) {
      call.close(Status.UNAUTHENTICATED.withDescription("no usable client certificate: " + e.getMessage()), new Metadata());
      return new ServerCall.Listener<>() { };
    }
    if (who.role() == null) {
      Status refused = Status.PERMISSION_DENIED.withDescription(who.name() + " may not use this daemon: add the user to group "
          + LocalUsers.GROUP + " (operator), or connect as root or as the daemon's user (admin)");
      call.close(refused, new Metadata());
      return new ServerCall.Listener<>() { };
    }
    Role needed = REQUIRED.get(method);
    boolean audited = mutating(method) || (needed == null) || !who.role().allows(needed);
    AuditLog.Entry entry = audit.begin(who, method, audited);
    if (needed == null || !who.role().allows(needed)) {
      Status denied = Status.PERMISSION_DENIED.withDescription(needed == null ? method + " is not open to any role"
          : method.substring(method.indexOf('/') + 1) + " needs the " + needed.label() + " role; " + who.name() + " is "
              + who.role().label());
      // Read the request first, so that the audit line names the VM the caller reached for.
      call.request(1);
      return new ServerCall.Listener<>() {
        private boolean closed;

        private void deny() {
          if (!closed) {
            closed = true;
            audit.end(entry, denied);
            call.close(denied, new Metadata());
          }
        }

        @Override
        public void onMessage(Q message) {
          entry.vm(AuditLog.vmOf(message));
          if (message instanceof Message m) {
            entry.paths(HostPathFields.named(m), "not-reached");
          }
          deny();
        }

        @Override
        public void onHalfClose() {
          deny();
        }

        @Override
        public void onCancel() {
          deny();
        }
      };
    }
    AtomicInteger streams = STREAMS.contains(method)
        ? open.computeIfAbsent(who.name(), k -> new AtomicInteger()) : null;
    if (streams != null && streams.incrementAndGet() > streamsPerCaller) {
      streams.decrementAndGet();
      Status busy = Status.RESOURCE_EXHAUSTED.withDescription(who.name() + " has " + streamsPerCaller
          + " exec, transfer, console or watch streams open already; close some first");
      audit.end(entry, busy);
      call.close(busy, new Metadata());
      return new ServerCall.Listener<>() { };
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (streams != null && released.compareAndSet(false, true)) {
        streams.decrementAndGet();
      }
    };
    ServerCall<Q, A> watched = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        release.run();
        audit.end(entry, status);
        super.close(status, trailers);
      }
    };
    Context ctx = Context.current().withValue(CALLER, who);
    ServerCall.Listener<Q> inner = Contexts.interceptCall(ctx, watched, headers, next);
    int maxMessage = MAX_MESSAGE.getOrDefault(method, DEFAULT_MAX_MESSAGE);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
      private boolean refused;

      @Override
      public void onMessage(Q message) {
        if (refused) {
          return;
        }
        if (message instanceof MessageLite m && m.getSerializedSize() > maxMessage) {
          refused = true;
          watched.close(Status.RESOURCE_EXHAUSTED.withDescription("a " + method.substring(method.indexOf('/') + 1) + " message of "
              + m.getSerializedSize() + " bytes is over this method's limit of " + maxMessage + " bytes"), new Metadata());
          return;
        }
        entry.vm(AuditLog.vmOf(message));
        Q approved;
        try {
          HostPaths.Decision d = hostPaths.decide(who, message);
          entry.paths(d.named(), "allowed");
          @SuppressWarnings("unchecked")
          Q same = (Q) d.request(); // the same type, with each host path resolved
          approved = same;
        } catch (HostPathException e) {
          refused = true;
          entry.paths(e.named(), "denied");
          watched.close(status(e), new Metadata());
          return;
        } catch (RuntimeException e) {
          refused = true; // a bug in deciding fails closed
          watched.close(Status.INTERNAL.withDescription("cannot decide the host paths of this request: " + e), new Metadata());
          return;
        }
        super.onMessage(approved);
      }

      @Override
      public void onHalfClose() {
        if (!refused) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        release.run();
        super.onCancel();
      }
    };
  }
}
