package dev.tern.server;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.ConnectionMetaData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Notices a client that has closed its connection while its non-streaming answer is computed.
 * Over HTTP/1.1 Jetty does not read a connection while a handler runs, so the close would go
 * unseen until the answer is written, with the generation running to its end for nobody. A
 * one-byte non-blocking read of the socket sees the end of the stream at once. Clients do not
 * pipeline requests behind a POST, so the read normally finds nothing; if it does take a byte of
 * a next request, that connection is closed after this answer so the client sends it again.
 */
final class ClientProbe {
    /** How often the connection is looked at: a cheap system call, a tenth of a second of generation saved. */
    static final long INTERVAL_MILLIS = 100;
    private static final ClientProbe NONE = new ClientProbe(null);
    private final SocketChannel channel;
    private boolean stopped;
    private long lastNanos = System.nanoTime();

    private ClientProbe(SocketChannel channel) {
        this.channel = channel;
    }

    /**
     * The probe of the request's connection; one that never reports a close unless it is HTTP/1 on
     * a plain socket (an HTTP/2 connection carries other streams, whose bytes must not be taken).
     */
    static ClientProbe of(Context ctx) {
        try {
            ConnectionMetaData connection = ServletContextRequest.getServletContextRequest(ctx.req()).getConnectionMetaData();
            if (connection.getHttpVersion().getVersion() < 20
                    && connection.getConnection().getEndPoint() instanceof SocketChannelEndPoint endPoint) {
                return new ClientProbe(endPoint.getChannel());
            }
        } catch (IllegalStateException e) {
            // Not a Jetty servlet request (an embedding that wraps it): nothing to probe.
        }
        return NONE;
    }

    /** True once the client has closed or reset the connection; looks at most every {@link #INTERVAL_MILLIS}. */
    boolean clientGone(Context ctx) {
        long now = System.nanoTime();
        if (channel == null || stopped || now - lastNanos < INTERVAL_MILLIS * 1_000_000) {
            return false;
        }
        lastNanos = now;
        try {
            int read = channel.read(ByteBuffer.allocate(1));
            if (read > 0) {
                stopped = true;
                ctx.header("Connection", "close");
            }
            return read < 0;
        } catch (IOException e) {
            return true;
        }
    }
}
