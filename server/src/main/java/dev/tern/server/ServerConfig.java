package dev.tern.server;

import dev.tern.engine.SchedulerConfig;

/**
 * Settings of a {@link TernServer}.
 *
 * @param host            address to bind; 127.0.0.1 unless the operator chooses otherwise
 * @param port            TCP port; 0 picks a free one
 * @param apiKey          bearer token every request must carry (except /health), or null for none
 * @param modelName       the model id clients name in requests and /v1/models lists
 * @param maxRequestBytes larger request bodies get 413
 * @param scheduler       batching limits
 */
public record ServerConfig(String host, int port, String apiKey, String modelName, long maxRequestBytes,
                           SchedulerConfig scheduler) {
    /** Loopback on {@code port}, no key, 1 MiB bodies, the default scheduler. */
    public static ServerConfig loopback(int port, String modelName) {
        return new ServerConfig("127.0.0.1", port, null, modelName, 1 << 20, SchedulerConfig.defaults());
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(host, port, key, modelName, maxRequestBytes, scheduler);
    }

    public ServerConfig withScheduler(SchedulerConfig s) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes, s);
    }
}
