package dev.tern.server;

import dev.tern.engine.SchedulerConfig;
import dev.tern.spec.Speculation;

/**
 * Settings of a {@link TernServer}.
 *
 * @param host            address to bind; 127.0.0.1 unless the operator chooses otherwise
 * @param port            TCP port; 0 picks a free one
 * @param apiKey          bearer token every request must carry (except /health), or null for none
 * @param modelName       the model id clients name in requests and /v1/models lists
 * @param maxRequestBytes larger request bodies get 413
 * @param scheduler       batching limits
 * @param speculation     how running requests speculate, or null for not at all; the server
 *                        does not close it
 */
public record ServerConfig(String host, int port, String apiKey, String modelName, long maxRequestBytes,
                           SchedulerConfig scheduler, Speculation speculation) {
    /** Loopback on {@code port}, no key, 1 MiB bodies, the default scheduler, no speculation. */
    public static ServerConfig loopback(int port, String modelName) {
        return new ServerConfig("127.0.0.1", port, null, modelName, 1 << 20, SchedulerConfig.defaults(), null);
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(host, port, key, modelName, maxRequestBytes, scheduler, speculation);
    }

    public ServerConfig withScheduler(SchedulerConfig s) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes, s, speculation);
    }

    public ServerConfig withSpeculation(Speculation s) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes, scheduler, s);
    }
}
