package dev.tern.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.SchedulerConfig;
import dev.tern.engine.SessionFile;
import dev.tern.kv.BlockPool;
import dev.tern.model.ModelConfig;
import dev.tern.server.ServerConfig;
import dev.tern.server.TernServer;
import dev.tern.spec.Speculation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code tern serve}: an OpenAI-compatible HTTP server with continuous batching. */
@Command(name = "serve", description = "Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions).")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ServerOptions server;

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "The model, as vLLM's serve takes it (instead of -m)")
    Path model;

    @Override
    public Integer call() throws InterruptedException {
        if (model != null) {
            if (modelOptions.model != null) {
                throw new TernException("give the model once: with -m or as the argument");
            }
            modelOptions.model = model;
        }
        Tern tern = server.load(modelOptions);
        TernServer s;
        try {
            s = server.start(tern, server.config(tern, modelOptions.resolvedModel()), spec.commandLine().getErr());
        } catch (RuntimeException e) {
            server.closeSpeculation();
            tern.close();
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            s.close();
            server.closeSpeculation();
            tern.close();
        }));
        spec.commandLine().getOut().println("tern: serving " + server.modelName(modelOptions.resolvedModel()) + " on " + s.url()
                + " (" + s.stats().kvBlocksLimit() + " KV blocks of " + BlockPool.BLOCK_SIZE + " positions)");
        spec.commandLine().getOut().flush();
        s.awaitStop();
        return 0;
    }

    /** Options of a server, shared by serve and bench-serve's in-process mode. */
    static final class ServerOptions {
        @Option(names = "--host", description = "Address to bind (default: ${DEFAULT-VALUE}, loopback only)")
        String host = "127.0.0.1";

        @Option(names = "--port", description = "TCP port (default: ${DEFAULT-VALUE})")
        int port = 8080;

        @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' on every request but /health")
        String apiKey;

        @Option(names = {"--parallel", "-np", "--max-num-seqs"}, description = "Requests generating at once (default: ${DEFAULT-VALUE})")
        int parallel = 8;

        @Option(names = "--kv-memory", description = "KV cache budget, e.g. 512M or 2G (default: a quarter of the heap, at most --parallel full contexts)")
        String kvMemory;

        @Option(names = "--queue", description = "Requests that may wait; more get 429 (default: ${DEFAULT-VALUE})")
        int queue = 64;

        @Option(names = {"--batch-tokens", "-b", "--batch-size", "--max-num-batched-tokens"}, description = "Tokens per forward pass (default: ${DEFAULT-VALUE})")
        int batchTokens = 512;

        @Option(names = "--warmup", description = "Seconds of untimed passes before serving, so that the first requests"
                + " do not wait for the JIT; 0 = none (default: ${DEFAULT-VALUE})")
        double warmup = 3;

        @Option(names = {"--model-name", "-a", "--alias", "--served-model-name"}, description = "Model id clients use (default: the file name without .gguf)")
        String modelName;

        @Option(names = {"--jinja", "--metrics", "-cb", "--cont-batching"}, description = "Accepted for llama-server command lines:"
                + " chat templates are always Jinja, /metrics always served, batching always continuous")
        boolean[] alwaysOn;

        @Option(names = "--no-prefix-cache", description = "Do not reuse the KV cache of common prompt prefixes")
        boolean noPrefixCache;

        @Option(names = "--no-slots", description = "Turn off GET /slots (what each running request does, its prompt included)")
        boolean noSlots;

        @Option(names = "--slot-save-path", paramLabel = "DIR", description = "Where POST /slots/ID?action=save|restore keeps"
                + " its KV cache files, as llama-server's (created if missing; default: none, the actions answer 501)")
        Path slotSavePath;

        @Option(names = "--reasoning-format", description = "auto: a thinking model's <think> block goes to"
                + " reasoning_content, apart from the content; none: it stays in the content (default: ${DEFAULT-VALUE})")
        ReasoningFormat reasoningFormat = ReasoningFormat.auto;

        /** Values of --reasoning-format, named as llama-server's. */
        enum ReasoningFormat { auto, none }

        @Option(names = "--chat-template-kwargs", paramLabel = "JSON", description = "Chat template variables for every"
                + " request, a JSON object such as '{\"enable_thinking\": false}'; a request's chat_template_kwargs override them")
        String templateKwargs;

        @Option(names = "--lora-modules", arity = "1..*", paramLabel = "NAME=FILE", description = "LoRA adapters served as"
                + " models of their own (as vLLM's): a request whose model is NAME gets that adapter; repeatable")
        List<String> loraModules = new ArrayList<>();

        @Mixin
        SpeculationOptions speculation;

        @Mixin
        ContextShiftOptions contextShift;

        @Mixin
        ChatTemplateOption chatTemplate;

        private Speculation loadedSpeculation;

        Tern load(ModelOptions m) {
            if (parallel < 1 || queue < 0 || batchTokens < parallel) {
                throw new TernException("--parallel must be at least 1, --batch-tokens at least --parallel, --queue at least 0");
            }
            if (m.threads < 1) {
                throw new TernException("--threads must be at least 1");
            }
            if (port < 0 || port > 65535) {
                throw new TernException("--port must be 0 to 65535, got " + port);
            }
            if (!(warmup >= 0)) {
                throw new TernException("--warmup must be a number of seconds, 0 or more");
            }
            // The pool grows lazily up to its bound; with --kv-memory the scheduler enforces the budget instead.
            int sequences = kvMemory != null ? Math.max(parallel, 256) : parallel;
            List<Tern.Lora> named = new ArrayList<>();
            for (String module : loraModules) {
                int eq = module.indexOf('=');
                if (eq <= 0 || eq == module.length() - 1) {
                    throw new TernException("--lora-modules takes NAME=FILE, got '" + module + "'");
                }
                named.add(new Tern.Lora(Path.of(module.substring(eq + 1)), 1f, module.substring(0, eq)));
            }
            return Tern.load(m.resolvedModel(), m.tokenizer, m.options(m.threads, Math.max(0, m.contextSize), sequences, chatTemplate.read(),
                    named));
        }

        ServerConfig config(Tern tern, Path model) {
            long perBlock = tern.engine().cache().blockBytes();
            long budget = kvMemory != null ? parseSize(kvMemory) : Runtime.getRuntime().maxMemory() / 4;
            long n = budget / perBlock;
            if (n < 1) {
                throw new TernException("--kv-memory " + kvMemory + " is smaller than one KV block (" + perBlock + " bytes)");
            }
            int blocks = (int) Math.min(n, tern.engine().cache().maxBlocks());
            SchedulerConfig sc = new SchedulerConfig(parallel, batchTokens, queue, blocks, !noPrefixCache);
            loadedSpeculation = speculation.forScheduler(tern, parallel);
            ServerConfig config = new ServerConfig(host, port, apiKey, modelName(model), 1 << 20, sc, loadedSpeculation,
                    reasoningFormat == ReasoningFormat.auto, templateKwargs(), !noSlots, contextShift.shift(), null);
            if (slotSavePath == null) {
                return config;
            }
            try {
                Files.createDirectories(slotSavePath);
            } catch (IOException e) {
                throw new TernException("--slot-save-path " + slotSavePath + ": cannot make that directory (" + e.getMessage() + ")");
            }
            return config.withSlotFiles(slotSavePath, SessionFile.fingerprint(model));
        }

        /** --chat-template-kwargs as template variables (none when not given); bad JSON is a one-line error. */
        private Map<String, Object> templateKwargs() {
            if (templateKwargs == null) {
                return Map.of();
            }
            try {
                JsonNode n = new ObjectMapper().readTree(templateKwargs);
                if (n == null || !n.isObject()) {
                    throw new TernException("--chat-template-kwargs must be a JSON object, got: " + templateKwargs);
                }
                return new ObjectMapper().convertValue(n, new TypeReference<Map<String, Object>>() { });
            } catch (JsonProcessingException e) {
                throw new TernException("--chat-template-kwargs is not JSON: " + e.getOriginalMessage());
            }
        }

        /** After {@link #config} (so that bad options fail at once): warms up, saying so on {@code err}, then serves. */
        TernServer start(Tern tern, ServerConfig config, PrintWriter err) {
            if (warmup > 0) {
                TernServer.requireFreeAddress(config);
                err.printf(Locale.ROOT, "tern: warming up for %.3g s before listening (--warmup 0 to skip)%n", warmup);
                err.flush();
                tern.warmUp(warmup);
            }
            return TernServer.start(tern, config);
        }

        /** Closes the draft model that {@link #config} loaded, if any. */
        void closeSpeculation() {
            if (loadedSpeculation != null) {
                loadedSpeculation.close();
                loadedSpeculation = null;
            }
        }

        String modelName(Path model) {
            if (modelName != null) {
                return modelName;
            }
            String f = model.getFileName().toString();
            return f.toLowerCase(Locale.ROOT).endsWith(".gguf") ? f.substring(0, f.length() - 5) : f;
        }
    }

    /** "512M", "2G", "64k", "1000000": bytes, with binary multiples. */
    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        long mult = 1;
        if (!t.isEmpty() && "KMGT".indexOf(t.charAt(t.length() - 1)) >= 0) {
            mult = 1L << (10 * ("KMGT".indexOf(t.charAt(t.length() - 1)) + 1));
            t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new TernException("not a size: '" + s + "' (use e.g. 512M or 2G)");
        }
    }
}
