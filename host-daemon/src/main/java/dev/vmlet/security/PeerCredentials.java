package dev.vmlet.security;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import java.io.IOException;

/**
 * Plaintext server credentials for the unix socket that put the caller's uid and gid (the
 * kernel's SO_PEERCRED) into each connection's attributes, where {@link Access} reads them.
 * grpc-java has no public way to this (grpc/grpc-java#2646); this uses its Internal* negotiator
 * hooks, the same ones its own TLS negotiator is made of.
 */
public final class PeerCredentials {
  /** The connecting process's uid and gid on a unix socket. */
  public static final Attributes.Key<int[]> UID_GID = Attributes.Key.create("vmlet.peer-uid-gid");

  private PeerCredentials() {}

  public static ServerCredentials serverCredentials() {
    return InternalNettyServerCredentials.create(new InternalProtocolNegotiator.ProtocolNegotiator() {
      @Override
      public AsciiString scheme() {
        return AsciiString.of("http");
      }

      @Override
      public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelLogger log = grpcHandler.getNegotiationLogger();
        ChannelHandler grpc = InternalProtocolNegotiators.grpcNegotiationHandler(grpcHandler);
        return InternalProtocolNegotiators.waitUntilActiveHandler(new Handler(grpc, log), log);
      }

      @Override
      public void close() {
      }
    });
  }

  private static final class Handler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {
    Handler(ChannelHandler next, ChannelLogger log) {
      super(next, log);
    }

    @Override
    protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
      ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
      Attributes.Builder attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder();
      if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
        try {
          var creds = ch.peerCredentials();
          int[] gids = creds.gids();
          attrs.set(UID_GID, new int[] {creds.uid(), gids.length > 0 ? gids[0] : -1});
        } catch (IOException e) {
          // no credentials: Access refuses the calls
        }
      }
      replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne, attrs.build()));
      fireProtocolNegotiationEvent(ctx);
    }
  }
}
