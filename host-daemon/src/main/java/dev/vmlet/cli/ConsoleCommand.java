package dev.vmlet.cli;

import com.google.protobuf.ByteString;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ConsoleInput;
import dev.vmlet.proto.v1.ConsoleOutput;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "console", mixinStandardHelpOptions = true,
    description = {"Attach to a VM's serial console. Ctrl-] detaches.",
        "The micro image runs a root shell there; its output is also kept in the VM's console log."})
final class ConsoleCommand implements Callable<Integer> {
  private static final int DETACH = 0x1d; // Ctrl-]

  @Mixin ClientOptions client;

  @Parameters(paramLabel = "NAME", description = "The VM.")
  String name;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      CountDownLatch done = new CountDownLatch(1);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      StreamObserver<ConsoleInput> in = c.vmsAsync().openConsole(new StreamObserver<>() {
        @Override
        public void onNext(ConsoleOutput out) {
          System.out.write(out.getData().toByteArray(), 0, out.getData().size());
          System.out.flush();
        }

        @Override
        public void onError(Throwable t) {
          failure.set(t);
          done.countDown();
        }

        @Override
        public void onCompleted() {
          done.countDown();
        }
      });
      in.onNext(ConsoleInput.newBuilder().setName(name).build());
      Terminal terminal = rawIfTerminal();
      System.err.print("Connected to the console of " + name + "; Ctrl-] detaches.\r\n");
      Thread keys = new Thread(() -> {
        byte[] buf = new byte[1024];
        try {
          int n;
          while ((n = System.in.read(buf)) > 0) {
            for (int i = 0; i < n; i++) {
              if (buf[i] == DETACH) {
                if (i > 0) {
                  in.onNext(ConsoleInput.newBuilder().setData(ByteString.copyFrom(buf, 0, i)).build());
                }
                in.onCompleted();
                return;
              }
            }
            in.onNext(ConsoleInput.newBuilder().setData(ByteString.copyFrom(buf, 0, n)).build());
          }
          in.onCompleted();
        } catch (IOException | RuntimeException e) {
          in.onError(e);
        }
      }, "console-keys");
      keys.setDaemon(true);
      keys.start();
      try {
        done.await();
      } finally {
        if (terminal != null) {
          terminal.close();
        }
      }
      System.err.println();
      if (failure.get() instanceof StatusRuntimeException e) {
        throw new CliException(Main.describe(e));
      }
      return 0;
    }
  }

  /** Raw mode when input is the user's terminal; null when it is a pipe or raw mode cannot be set. */
  private static Terminal rawIfTerminal() {
    if (!Terminal.available()) {
      return null;
    }
    try {
      return Terminal.raw();
    } catch (IOException e) {
      return null;
    }
  }
}
