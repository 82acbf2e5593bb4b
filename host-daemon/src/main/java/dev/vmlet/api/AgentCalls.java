package dev.vmlet.api;

import dev.vmlet.agent.AgentException;
import io.grpc.Status;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A request/answer call to a VM's agent, waited for with a bound, its failure as a gRPC status. */
final class AgentCalls {
  private AgentCalls() {}

  interface Request<T> {
    CompletableFuture<T> send() throws IOException;
  }

  static <T> T await(String vm, Request<T> request, int seconds) {
    try {
      return request.send().get(seconds, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof AgentException a) {
        throw AgentStatus.of(a).asRuntimeException();
      }
      throw Status.UNAVAILABLE.withDescription(e.getCause().getMessage()).asRuntimeException();
    } catch (TimeoutException e) {
      throw Status.DEADLINE_EXCEEDED.withDescription("the agent of VM '" + vm + "' did not answer within " + seconds + " s")
          .asRuntimeException();
    } catch (IOException e) {
      throw Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    }
  }
}
