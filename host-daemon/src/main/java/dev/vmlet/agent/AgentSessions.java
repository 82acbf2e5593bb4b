package dev.vmlet.agent;

import static dev.vmlet.agent.AgentLink.MIN_PROTOCOL_VERSION;
import static dev.vmlet.agent.AgentLink.PROTOCOL_VERSION;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.agent.v1.Refused;
import dev.vmlet.proto.agent.v1.Welcome;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.UUID;
import java.util.logging.Logger;
import com.google.protobuf.ByteString;
import dev.vmlet.common.session.TokenProof;
import java.security.MessageDigest;

/**
 * Which agent session one link is in. A Hello is accepted only with the VM's own instance id and
 * a protocol version both sides speak; with the VM's token, the session begins only once the
 * agent proves it holds it (an HMAC of a fresh challenge). Hello and Proof come on the link's
 * reader thread; the heartbeat thread and the link's end end sessions.
 */
final class AgentSessions {
  private static final Logger LOG = Logger.getLogger(AgentSessions.class.getName());
  private static final SecureRandom RANDOM = new SecureRandom();

  /** What a session change does to the link. */
  interface Link {
    void send(Frame f) throws IOException;

    /** A new session replaced the one whose requests are in flight: they fail with the reason. */
    void failAll(String reason);
  }

  /** A session that waits for the agent's proof of the VM's token. */
  private record Pending(Hello hello, String session, byte[] challenge, long arrivedAtMs) {}

  private final String vmName;
  private final String instanceId;
  private final Duration heartbeat;
  private final byte[] token;
  private final AgentLink.Events events;
  private final Link link;
  private final Object lock = new Object();
  private volatile Hello hello;
  private volatile String sessionId = "";
  private Pending pending;

  /** @param token the VM's token, or null when the agent need not prove anything */
  AgentSessions(String vmName, String instanceId, Duration heartbeat, byte[] token, AgentLink.Events events, Link link) {
    this.vmName = vmName;
    this.instanceId = instanceId;
    this.heartbeat = heartbeat;
    this.token = token == null ? null : token.clone();
    this.events = events;
    this.link = link;
  }

  /** The agent's Hello in the current session; null when there is none. */
  Hello hello() {
    return hello;
  }

  /** Ends the current session; false when there was none. */
  boolean end() {
    synchronized (lock) {
      if (hello == null) {
        return false;
      }
      hello = null;
      return true;
    }
  }

  void onHello(Hello h) throws IOException {
    long arrivedAtMs = System.currentTimeMillis();
    if (!h.getInstanceId().equals(instanceId)) {
      LOG.warning("VM " + vmName + ": Hello from instance '" + h.getInstanceId() + "', expected " + instanceId + "; ignored");
      return;
    }
    int agentMax = h.getProtocolVersion();
    int agentMin = h.getMinProtocolVersion() == 0 ? agentMax : h.getMinProtocolVersion();
    if (agentMax < MIN_PROTOCOL_VERSION || agentMin > PROTOCOL_VERSION) {
      refuse("the agent " + h.getAgentVersion() + " in VM " + vmName + " speaks protocol versions " + agentMin + ".." + agentMax
          + ", this daemon " + MIN_PROTOCOL_VERSION + ".." + PROTOCOL_VERSION + ": "
          + (agentMin > PROTOCOL_VERSION ? "upgrade the daemon" : "rebuild the agent (vmlet image build agent-bundle) and restart the VM"));
      return;
    }
    if (token != null) {
      challenge(h, agentMax, arrivedAtMs);
      return;
    }
    Hello previous;
    boolean repeated;
    synchronized (lock) {
      previous = hello;
      repeated = sameAgent(previous, h);
      if (!repeated) {
        sessionId = UUID.randomUUID().toString();
        hello = h;
      }
    }
    link.send(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId(sessionId)
        .setProtocolVersion(Math.min(agentMax, PROTOCOL_VERSION)).setHeartbeatIntervalMs((int) heartbeat.toMillis())
        .setHostTimeUnixMs(System.currentTimeMillis())).build());
    if (repeated) {
      return; // sent before our Welcome reached it: the same session
    }
    if (previous != null) {
      String why = NewSession.why(vmName, previous, h);
      LOG.info(why);
      link.failAll(why + "; requests in flight failed");
    }
    LOG.info("VM " + vmName + ": agent " + h.getAgentVersion() + " ready (" + h.getGuest().getKernel() + "), session " + sessionId);
    events.ready(h, arrivedAtMs);
  }

  private static boolean sameAgent(Hello a, Hello b) {
    return a != null && a.getAgentStartId().equals(b.getAgentStartId()) && a.getSessionNumber() == b.getSessionNumber()
        && a.getBootId().equals(b.getBootId());
  }

  /** With a token: Welcome carries a challenge; the session begins at a right proof. */
  private void challenge(Hello h, int agentMax, long arrivedAtMs) throws IOException {
    Welcome.Builder w = Welcome.newBuilder().setHeartbeatIntervalMs((int) heartbeat.toMillis())
        .setHostTimeUnixMs(System.currentTimeMillis())
        .setProtocolVersion(Math.min(agentMax, PROTOCOL_VERSION));
    synchronized (lock) {
      if (sameAgent(hello, h)) {
        w.setSessionId(sessionId); // proven already: a Hello sent before our Welcome arrived
      } else {
        if (pending == null || !sameAgent(pending.hello(), h)) {
          byte[] c = new byte[32];
          RANDOM.nextBytes(c);
          pending = new Pending(h, UUID.randomUUID().toString(), c, arrivedAtMs);
        }
        w.setSessionId(pending.session()).setChallenge(ByteString.copyFrom(pending.challenge()));
      }
    }
    link.send(Frame.newBuilder().setWelcome(w).build());
  }

  /** @return false when no proof was asked for: the frame answers nothing */
  boolean onProof(Frame f) throws IOException {
    Pending p;
    synchronized (lock) {
      p = pending;
      pending = null;
    }
    if (p == null || token == null) {
      return false;
    }
    byte[] expected = TokenProof.expected(token, p.challenge(), p.session());
    if (!MessageDigest.isEqual(expected, f.getProof().getHmac().toByteArray())) {
      String why = "the agent in VM " + vmName + " could not prove it runs in the VM this daemon made (wrong or missing VM token);"
          + " its session was refused";
      LOG.warning(why);
      refuse(why);
      return true;
    }
    Hello previous;
    synchronized (lock) {
      previous = hello;
      sessionId = p.session();
      hello = p.hello();
    }
    if (previous != null) {
      String why = NewSession.why(vmName, previous, p.hello());
      LOG.info(why);
      link.failAll(why + "; requests in flight failed");
    }
    LOG.info("VM " + vmName + ": agent " + p.hello().getAgentVersion() + " ready, token proven, session " + sessionId);
    events.ready(p.hello(), p.arrivedAtMs());
    return true;
  }

  private void refuse(String why) throws IOException {
    link.send(Frame.newBuilder().setRefused(Refused.newBuilder().setMessage(why)
        .setMinProtocolVersion(MIN_PROTOCOL_VERSION).setMaxProtocolVersion(PROTOCOL_VERSION)).build());
    events.refused(why);
  }
}
