package dev.tern.server;

import dev.tern.engine.ContextShift;
import dev.tern.engine.SchedulerConfig;
import dev.tern.spec.Speculation;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

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
 * @param reasoning       chat answers of models whose template thinks in {@code <think>} tags
 *                        carry the thinking as {@code reasoning_content}, apart from the content
 * @param templateKwargs  chat template variables every request gets unless its own
 *                        {@code chat_template_kwargs} set them (llama-server's {@code --chat-template-kwargs})
 * @param slots           whether {@code GET /slots} shows what each running request does (llama-server's
 *                        {@code --slots}, on by default; it shows prompts to whoever holds the key)
 * @param contextShift    what a request's full context does (llama-server's {@code --context-shift} and
 *                        {@code --keep}); a request's {@code n_keep} and {@code n_discard} adjust it when it shifts
 * @param slotFiles       where {@code POST /slots/{id}?action=save|restore} keeps its files (llama-server's
 *                        {@code --slot-save-path}), or null for nowhere (the actions answer 501)
 */
public record ServerConfig(String host, int port, String apiKey, String modelName, long maxRequestBytes,
                           SchedulerConfig scheduler, Speculation speculation, boolean reasoning,
                           Map<String, Object> templateKwargs, boolean slots, ContextShift contextShift,
                           SlotFiles slotFiles) {
    public ServerConfig {
        templateKwargs = Collections.unmodifiableMap(new LinkedHashMap<>(templateKwargs));
        Objects.requireNonNull(contextShift, "contextShift");
    }

    /** Loopback on {@code port}, no key, 1 MiB bodies, the default scheduler, no speculation, reasoning apart. */
    public static ServerConfig loopback(int port, String modelName) {
        return new ServerConfig("127.0.0.1", port, null, modelName, 1 << 20, SchedulerConfig.defaults(), null, true, Map.of(),
                true, ContextShift.NONE, null);
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(host, port, key, modelName, maxRequestBytes,
                scheduler, speculation, reasoning, templateKwargs, slots, contextShift, slotFiles);
    }

    public ServerConfig withScheduler(SchedulerConfig s) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                s, speculation, reasoning, templateKwargs, slots, contextShift, slotFiles);
    }

    public ServerConfig withSpeculation(Speculation s) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, s, reasoning, templateKwargs, slots, contextShift, slotFiles);
    }

    public ServerConfig withReasoning(boolean r) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, speculation, r, templateKwargs, slots, contextShift, slotFiles);
    }

    public ServerConfig withSlots(boolean on) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, speculation, reasoning, templateKwargs, on, contextShift, slotFiles);
    }

    public ServerConfig withTemplateKwargs(Map<String, Object> kwargs) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, speculation, reasoning, kwargs, slots, contextShift, slotFiles);
    }

    public ServerConfig withContextShift(ContextShift shift) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, speculation, reasoning, templateKwargs, slots, shift, slotFiles);
    }

    public ServerConfig withSlotFiles(Path dir, byte[] modelFingerprint) {
        return new ServerConfig(host, port, apiKey, modelName, maxRequestBytes,
                scheduler, speculation, reasoning, templateKwargs, slots,
                contextShift, new SlotFiles(dir, modelFingerprint));
    }
}
