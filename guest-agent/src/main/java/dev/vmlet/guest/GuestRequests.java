package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.PowerReply;
import dev.vmlet.proto.agent.v1.PowerRequest;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * The requests about the guest as a whole: GuestInfoRequest (answered from a worker, since reading
 * the facts touches /proc and the file systems) and PowerRequest (answered first, then the guest
 * powers off or reboots).
 */
final class GuestRequests {
  private static final Logger LOG = Logger.getLogger(GuestRequests.class.getName());

  private final Streams streams;
  private final GuestPlatform platform;

  GuestRequests(Streams streams, GuestPlatform platform) {
    this.streams = streams;
    this.platform = platform;
  }

  void info(Frame f) {
    int id = f.getStreamId();
    if (streams.allowed(id, Policy.Operation.INFO)) {
      FrameSink sink = streams.sink(id);
      streams.submit(() -> sink.sendOrLog(Frame.newBuilder().setStreamId(id).setGuestInfo(GuestFacts.info(Agent.VERSION)).build()));
    }
  }

  void power(Frame f) {
    int id = f.getStreamId();
    if (streams.allowed(id, Policy.Operation.POWER)) {
      boolean reboot = f.getPower().getAction() == PowerRequest.Action.REBOOT;
      streams.sink(id).sendOrLog(Frame.newBuilder().setStreamId(id).setPowerReply(PowerReply.getDefaultInstance()).build());
      streams.submit(() -> power(reboot));
    }
  }

  private void power(boolean reboot) {
    try {
      Thread.sleep(200); // the reply goes out first
      LOG.info((reboot ? "rebooting" : "powering off") + " the guest, as the host asked");
      new ProcessBuilder(platform.powerArgv(reboot)).inheritIO().start();
    } catch (IOException e) {
      LOG.severe("cannot " + (reboot ? "reboot" : "power off") + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
