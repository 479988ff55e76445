package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.model.ModelConfig;
import dev.tern.model.ModelFootprint;
import dev.tern.engine.Scheduler;
import dev.tern.engine.SchedulerStats;
import dev.tern.tokenizer.Tokenizer;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * An OpenAI-compatible HTTP server over one model: chat and text completions (streamed or not)
 * batched by a {@link Scheduler} (and the Responses API's /v1/responses, answered as a chat
 * completion), plus /v1/models, /health, /metrics, /tokenize and
 * /detokenize. Requests run on virtual threads.
 * <pre>{@code
 * try (Tern tern = Tern.load(path); TernServer server = TernServer.start(tern, ServerConfig.loopback(8080, "m"))) {
 *     server.awaitStop();
 * }
 * }</pre>
 */
public final class TernServer implements AutoCloseable {
    /** Answered without an API key, so that load balancers can ask. */
    private static final List<String> HEALTH = List.of("/health", "/v1/health");

    private final Tern tern;
    private final ServerConfig config;
    private final Scheduler scheduler;
    private final ServerMetrics metrics;
    private final PromptBuilder prompts;
    private final Completions completions;
    private final Embeddings embeddings;
    private final Rerank rerank;
    private final Slots slots;
    /** The Responses API's stored responses: the last 1,024, in memory. */
    private final ResponseStore responses = new ResponseStore(1024);
    private final Javalin app;
    private final long created = System.currentTimeMillis() / 1000;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private TernServer(Tern tern, ServerConfig config) {
        this.tern = tern;
        this.config = config;
        this.scheduler = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), config.scheduler(),
                config.speculation());
        this.metrics = new ServerMetrics(scheduler);
        this.prompts = new PromptBuilder(tern, config.reasoning(), config.templateKwargs());
        LoraScales loraScales = new LoraScales(tern.model().adapters());
        this.completions = new Completions(scheduler, prompts, new ResponseFormat(tern.tokenizer()),
                metrics, config.modelName(), tern.model().namedAdapters(), loraScales, config.contextShift());
        this.embeddings = new Embeddings(tern, config.modelName());
        this.rerank = new Rerank(tern, config.modelName());
        this.slots = new Slots(scheduler, tern.tokenizer(), config.speculation() != null);
        this.app = Javalin.create(c -> {
            c.concurrency.useVirtualThreads = true;
            c.startup.showJavalinBanner = false;
            c.http.maxRequestSize = config.maxRequestBytes();
            c.http.compressionStrategy = CompressionStrategy.NONE;
            c.jetty.host = config.host();
            c.jetty.port = config.port();
            // Browsers' pages may call the server, as llama-server and vLLM allow by default (an API key still applies).
            c.bundledPlugins.enableCors(cors -> cors.addRule(rule -> rule.anyHost()));
            c.routes.before(this::authorize);
            // Each under llama-server's other names too (/v1/health, /models, /chat/completions, /completions).
            for (String path : HEALTH) {
                c.routes.get(path, ctx -> json(ctx, Json.object().put("status", "ok")));
            }
            c.routes.get("/v1/models", this::models);
            c.routes.get("/models", this::models);
            c.routes.get("/v1/models/{id}", this::model);
            c.routes.post("/v1/chat/completions", ctx -> completions.handle(ctx, true));
            c.routes.post("/chat/completions", ctx -> completions.handle(ctx, true));
            c.routes.post("/v1/completions", ctx -> completions.handle(ctx, false));
            c.routes.post("/v1/messages", ctx -> anthropic(ctx, () -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                completions.handle(ctx, MessagesRequest.toChat(body), true, new MessagesDialect(body));
            }));
            c.routes.post("/v1/messages/count_tokens", ctx -> anthropic(ctx, () -> {
                ObjectNode chat = MessagesRequest.toChat(Json.parseObject(ctx.bodyAsBytes()));
                json(ctx, Json.object().put("input_tokens", prompts.chat(chat, ToolCalls.of(chat, prompts.toolStyle())).tokens().length));
            }));
            c.routes.post("/v1/responses", ctx -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                List<JsonNode> conversation = ResponsesRequest.conversation(body, responses);
                completions.handle(ctx, ResponsesRequest.toChat(body, conversation), true, new ResponsesDialect(body, conversation, responses));
            });
            c.routes.get("/v1/responses/{id}", ctx -> json(ctx, storedResponse(ctx.pathParam("id")).response()));
            c.routes.delete("/v1/responses/{id}", ctx -> {
                String id = ctx.pathParam("id");
                storedResponse(id);
                responses.remove(id);
                json(ctx, Json.object().put("id", id).put("object", "response").put("deleted", true));
            });
            for (String path : List.of("/completion", "/completions")) {
                c.routes.post(path, ctx -> {
                    ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                    completions.handle(ctx, LlamaCppRequest.completion(body), false, new LlamaCppDialect(config.modelName(), body));
                });
            }
            c.routes.post("/infill", ctx -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                completions.handle(ctx, LlamaCppRequest.infill(body, prompts), false, new LlamaCppDialect(config.modelName(), body));
            });
            // Ollama's API, for its clients (answers in Ollama's shape, errors as {"error": ...}).
            c.routes.get("/api/tags", ctx -> json(ctx, ollamaTags()));
            // Clients check that an Ollama (or vLLM) server answers here; the version is Tern's.
            for (String path : List.of("/api/version", "/version")) {
                c.routes.get(path, ctx -> json(ctx, Json.object().put("version", Tern.VERSION)));
            }
            c.routes.post("/api/show", ctx -> ollama(ctx, () -> json(ctx, ollamaShow(Json.parseObject(ctx.bodyAsBytes())))));
            c.routes.post("/api/embed", ctx -> ollama(ctx, () -> json(ctx, ollamaEmbed(Json.parseObject(ctx.bodyAsBytes())))));
            c.routes.post("/api/embeddings", ctx -> ollama(ctx,
                    () -> json(ctx, embeddings.ollamaLegacy(Json.parseObject(ctx.bodyAsBytes())))));
            c.routes.get("/api/ps", ctx -> json(ctx, ollamaRunning()));
            // Ollama's model management: the served model is there already; nothing else can be fetched or changed.
            c.routes.post("/api/pull", ctx -> ollama(ctx, () -> {
                String name = Json.parseObject(ctx.bodyAsBytes()).path("model").asText("");
                if (!serves(OllamaRequest.model(name))) {
                    throw new ApiException(501, "not_supported_error", "Tern serves the model it was started with ("
                            + config.modelName() + "); it cannot pull '" + name + "'", null, null);
                }
                json(ctx, Json.object().put("status", "success"));
            }));
            for (String path : List.of("/api/push", "/api/create", "/api/copy", "/api/delete")) {
                Handler refused = ctx -> ollama(ctx, () -> {
                    throw new ApiException(501, "not_supported_error", "Tern serves the model it was started with: " + path
                            + " is not supported", null, null);
                });
                if (path.equals("/api/delete")) {
                    c.routes.delete(path, refused);
                } else {
                    c.routes.post(path, refused);
                }
            }
            c.routes.post("/api/chat", ctx -> ollama(ctx, () -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                completions.handle(ctx, OllamaRequest.chat(body), true, new OllamaDialect(body.path("model").asText(config.modelName()), true));
            }));
            c.routes.post("/api/generate", ctx -> ollama(ctx, () -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                completions.handle(ctx, OllamaRequest.generate(body), OllamaRequest.generatesByChat(body),
                        new OllamaDialect(body.path("model").asText(config.modelName()), false));
            }));
            c.routes.post("/v1/embeddings", ctx -> json(ctx, embeddings.answer(Json.parseObject(ctx.bodyAsBytes()))));
            for (String path : List.of("/embedding", "/embeddings")) {
                c.routes.post(path, ctx -> json(ctx, embeddings.llamaCpp(Json.parseObject(ctx.bodyAsBytes()))));
            }
            for (String path : List.of("/rerank", "/reranking", "/v1/rerank", "/v1/reranking", "/v2/rerank")) {
                c.routes.post(path, ctx -> json(ctx, rerank.answer(Json.parseObject(ctx.bodyAsBytes()))));
            }
            for (String path : List.of("/score", "/v1/score")) {
                c.routes.post(path, ctx -> json(ctx, rerank.score(Json.parseObject(ctx.bodyAsBytes()))));
            }
            c.routes.post("/tokenize", this::tokenize);
            c.routes.post("/detokenize", this::detokenize);
            c.routes.get("/tokenizer_info", this::tokenizerInfo);
            c.routes.get("/props", this::props);
            c.routes.get("/slots", ctx -> {
                if (!config.slots()) {
                    throw new ApiException(501, "not_supported_error", "this server does not show its slots (started with --no-slots)",
                            null, null);
                }
                // As llama-server: any value of fail_on_no_slot asks for the 503.
                String fail = ctx.queryParam("fail_on_no_slot");
                json(ctx, slots.list(fail != null && !fail.isEmpty()));
            });
            c.routes.post("/slots/{id}", ctx -> {
                if (config.slotFiles() == null) {
                    throw new ApiException(501, "not_supported_error",
                            "this server does not save or restore slots: start it with --slot-save-path DIR", null, null);
                }
                ObjectNode body = ctx.body().isBlank() ? Json.object() : Json.parseObject(ctx.bodyAsBytes());
                json(ctx, config.slotFiles().handle(scheduler, ctx.pathParam("id"), ctx.queryParam("action"), body));
            });
            c.routes.get("/lora-adapters", ctx -> json(ctx, loraScales.list()));
            c.routes.post("/lora-adapters", ctx -> {
                loraScales.set(Json.parse(ctx.bodyAsBytes()));
                json(ctx, Json.object().put("success", true));
            });
            c.routes.post("/props", ctx -> {
                throw new ApiException(501, "not_supported_error", "this server's properties cannot be changed", null, null);
            });
            c.routes.post("/apply-template", ctx -> {
                ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
                json(ctx, Json.object().put("prompt", prompts.chat(body, ToolCalls.of(body, prompts.toolStyle())).text()));
            });
            c.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            c.routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
            c.routes.exception(HttpResponseException.class, (e, ctx) -> error(ctx, new ApiException(e.getStatus(),
                    e.getStatus() < 500 ? "invalid_request_error" : "server_error", e.getMessage(), null, null)));
            c.routes.exception(Exception.class, (e, ctx) -> error(ctx, new ApiException(500, "server_error",
                    "internal error: " + e, null, null)));
            c.routes.error(404, ctx -> {
                if (ctx.result() == null) {
                    error(ctx, ApiException.notFound("no route for " + ctx.method() + " " + ctx.path(), "not_found"));
                }
            });
        });
    }

    /** Starts the scheduler and the HTTP server; returns once it is listening. */
    public static TernServer start(Tern tern, ServerConfig config) {
        TernServer s = new TernServer(tern, config);
        s.scheduler.start();
        try {
            s.app.start();
        } catch (RuntimeException e) {
            s.scheduler.close();
            throw cannotListen(config, e.getMessage());
        }
        return s;
    }

    /**
     * Fails with {@link #start}'s one-line error when the config's address cannot be bound now: for
     * a caller with seconds of work (a warm-up) before it starts the server.
     */
    public static void requireFreeAddress(ServerConfig config) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(config.host(), config.port()));
        } catch (IOException e) {
            throw cannotListen(config, e.getMessage());
        }
    }

    private static dev.tern.TernException cannotListen(ServerConfig config, String reason) {
        return new dev.tern.TernException("cannot listen on " + config.host() + ":" + config.port() + ": " + reason);
    }

    /** The port it listens on (the chosen one when the config asked for 0). */
    public int port() {
        return app.port();
    }

    /** http://host:port */
    public String url() {
        return "http://" + config.host() + ":" + port();
    }

    public SchedulerStats stats() {
        return scheduler.stats();
    }

    /** Blocks until the server is stopped (e.g. by a shutdown hook calling {@link #close}). */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    private ResponseStore.Stored storedResponse(String id) {
        ResponseStore.Stored s = responses.get(id);
        if (s == null) {
            throw ApiException.notFound("Response with id '" + id + "' not found.", "not_found");
        }
        return s;
    }

    private void authorize(Context ctx) {
        // A browser's preflight carries no credentials.
        if (config.apiKey() == null || HEALTH.contains(ctx.path()) || ctx.method() == HandlerType.OPTIONS) {
            return;
        }
        // Bearer as OpenAI's clients send it, x-api-key as Anthropic's do.
        String auth = ctx.header("Authorization");
        String key = ctx.header("x-api-key");
        byte[] want = ("Bearer " + config.apiKey()).getBytes(StandardCharsets.UTF_8);
        boolean bearer = auth != null && MessageDigest.isEqual(want, auth.getBytes(StandardCharsets.UTF_8));
        if (!bearer && (key == null || !MessageDigest.isEqual(config.apiKey().getBytes(StandardCharsets.UTF_8),
                key.getBytes(StandardCharsets.UTF_8)))) {
            throw new ApiException(401, "invalid_request_error", "Incorrect API key provided", null, "invalid_api_key");
        }
    }

    /** The model, then its named LoRA adapters (each a model of its own to clients, as vLLM lists them). */
    private List<String> servedModels() {
        List<String> names = new java.util.ArrayList<>(List.of(config.modelName()));
        names.addAll(tern.model().namedAdapters().keySet());
        return names;
    }

    private boolean serves(String name) {
        return config.modelName().equals(name) || tern.model().namedAdapters().containsKey(name);
    }

    private void models(Context ctx) {
        ObjectNode root = Json.object().put("object", "list");
        ArrayNode data = root.putArray("data");
        servedModels().forEach(name -> data.add(modelEntry(name)));
        json(ctx, root);
    }

    private void model(Context ctx) {
        String id = ctx.pathParam("id");
        if (!serves(id)) {
            throw ApiException.unknownModel(id);
        }
        json(ctx, modelEntry(id));
    }

    /** A model entry; an adapter's names the base model as its parent. */
    private ObjectNode modelEntry(String id) {
        ObjectNode m = Json.object();
        m.put("id", id);
        if (!id.equals(config.modelName())) {
            m.put("parent", config.modelName());
        }
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "tern");
        m.put("context_length", tern.contextSize());
        return m;
    }

    /**
     * /tokenize in llama.cpp's shape, {"content": text, "add_special": false}, or vLLM's,
     * {"prompt": text, "add_special_tokens": true} or {"messages": [...]} (the chat prompt a chat
     * completion would get) → {"tokens": [...], "count", "max_model_len"}.
     */
    private void tokenize(Context ctx) {
        ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
        int[] ids;
        if (body.has("messages") && !body.has("content") && !body.has("prompt")) {
            ids = prompts.chat(body, ToolCalls.of(body, prompts.toolStyle())).tokens();
        } else {
            boolean vllm = !body.has("content") && body.has("prompt");
            String key = vllm ? "prompt" : "content";
            if (!body.path(key).isTextual()) {
                throw ApiException.badRequest(key + " must be a string", key);
            }
            boolean addSpecial = vllm ? body.path("add_special_tokens").asBoolean(true) : body.path("add_special").asBoolean(false);
            ids = tern.tokenizer().encode(body.get(key).asText(), addSpecial, body.path("parse_special").asBoolean(true));
        }
        ObjectNode out = Json.object();
        ArrayNode tokens = out.putArray("tokens");
        for (int id : ids) {
            tokens.add(id);
        }
        out.put("count", ids.length);
        out.put("max_model_len", tern.contextSize());
        json(ctx, out);
    }

    /**
     * vLLM's /tokenizer_info, which lets evaluation harnesses tokenize through the server
     * (lm-evaluation-harness's remote tokenizer): the special tokens' text, the chat template
     * and the context length.
     */
    private void tokenizerInfo(Context ctx) {
        Tokenizer t = tern.tokenizer();
        ObjectNode out = Json.object();
        out.put("tokenizer_class", "tern");
        out.put("eos_token", t.eos() < 0 ? null : t.tokenText(t.eos()));
        out.put("bos_token", t.bos() < 0 ? null : t.tokenText(t.bos()));
        out.putNull("pad_token");
        out.put("chat_template", tern.chatTemplate().source());
        out.put("model_max_length", tern.contextSize());
        json(ctx, out);
    }

    /**
     * llama-server's /props, as far as Tern has them: the defaults a request to llama.cpp's endpoints
     * (/completion, /infill) starts from, the context, the number of sequences decoded at once, the
     * model, its chat template and tokens.
     */
    private void props(Context ctx) {
        Tokenizer t = tern.tokenizer();
        ObjectNode out = Json.object();
        ObjectNode defaults = out.putObject("default_generation_settings");
        defaults.set("params", GenerationParams.parse(LlamaCppRequest.completion(Json.object()), false, t,
                t.endOfGenerationIds(), null, config.contextShift()).settings());
        defaults.put("n_ctx", tern.contextSize());
        out.put("total_slots", config.scheduler().maxRunning());
        out.put("model_alias", config.modelName());
        out.putObject("modalities").put("vision", false).put("video", false).put("audio", false);
        out.put("endpoint_slots", config.slots()).put("endpoint_props", false).put("endpoint_metrics", true);
        out.put("chat_template", tern.chatTemplate().source());
        out.put("bos_token", t.bos() < 0 ? "" : t.tokenText(t.bos()));
        out.put("eos_token", t.eos() < 0 ? "" : t.tokenText(t.eos()));
        out.put("build_info", "tern");
        out.put("is_sleeping", false);
        json(ctx, out);
    }

    /** /detokenize: {"tokens": [...]} → the text as llama.cpp ({"content"}) and vLLM ({"prompt"}) name it. */
    private void detokenize(Context ctx) {
        ObjectNode body = Json.parseObject(ctx.bodyAsBytes());
        JsonNode t = body.get("tokens");
        if (t == null || !t.isArray()) {
            throw ApiException.badRequest("tokens must be an array of token ids", "tokens");
        }
        int[] ids = Json.tokenIds(t, tern.tokenizer().vocabSize(), "tokens must be token ids in the vocabulary", "tokens");
        String text = tern.tokenizer().decode(ids);
        json(ctx, Json.object().put("content", text).put("prompt", text));
    }

    /** Runs an Anthropic route: its errors in Anthropic's shape, {"type": "error", "error": {"type", "message"}}. */
    private static void anthropic(Context ctx, Runnable route) {
        try {
            route.run();
        } catch (ApiException e) {
            ctx.status(e.status);
            ObjectNode body = Json.object().put("type", "error");
            body.putObject("error").put("type", e.status == 401 ? "authentication_error" : e.status == 404 ? "not_found_error"
                    : e.status == 429 ? "rate_limit_error" : e.status >= 500 ? "api_error" : "invalid_request_error").put("message", e.getMessage());
            json(ctx, body);
        }
    }

    private static void ollama(Context ctx, Runnable route) {
        try {
            route.run();
        } catch (ApiException e) {
            ctx.status(e.status);
            json(ctx, Json.object().put("error", e.getMessage()));
        }
    }

    /** Ollama's model list: this model, and the adapters served as models, each "name:latest" as Ollama names them. */
    private ObjectNode ollamaTags() {
        ObjectNode root = ollamaModels();
        String modified = Instant.ofEpochSecond(created).toString();
        root.get("models").forEach(m -> ((ObjectNode) m).put("modified_at", modified));
        return root;
    }

    /**
     * Ollama's running models (/api/ps): the served ones, in memory for as long as the server runs, reported as
     * Ollama reports a model kept loaded (keep_alive -1: expiring some 292 years on); nothing is in GPU memory.
     */
    private ObjectNode ollamaRunning() {
        ObjectNode root = ollamaModels();
        String expires = Instant.now().plusSeconds(Long.MAX_VALUE / 1_000_000_000L).toString();
        root.get("models").forEach(m -> ((ObjectNode) m).put("expires_at", expires).put("size_vram", 0)
                .put("context_length", tern.contextSize()));
        return root;
    }

    /** The served models as /api/tags and /api/ps list them: "name:latest", the weights' size, the format and family. */
    private ObjectNode ollamaModels() {
        ObjectNode root = Json.object();
        ArrayNode models = root.putArray("models");
        long bytes = ModelFootprint.of(tern.model(), tern.engine().cache().bytesPerPosition()).modelBytes();
        for (String name : servedModels()) {
            ObjectNode m = models.addObject().put("name", name + ":latest").put("model", name + ":latest").put("size", bytes);
            m.putObject("details").put("format", "gguf").put("family", tern.model().config().architecture());
        }
        return root;
    }

    /**
     * Ollama's model details, as its clients read the context length and the template: the chat template, the
     * architecture's dimensions under GGUF's names, and what the model can do.
     */
    private ObjectNode ollamaShow(ObjectNode body) {
        String name = body.path("model").asText(body.path("name").asText(""));
        if (!serves(OllamaRequest.model(name))) {
            throw ApiException.notFound("model '" + name + "' not found", "model_not_found");
        }
        ModelConfig c = tern.model().config();
        ObjectNode out = Json.object().put("modelfile", "").put("parameters", "").put("template", tern.chatTemplate().source());
        out.putObject("details").put("format", "gguf").put("family", c.architecture());
        out.putObject("model_info").put("general.architecture", c.architecture())
                .put(c.architecture() + ".context_length", tern.contextSize())
                .put(c.architecture() + ".embedding_length", c.dim())
                .put(c.architecture() + ".block_count", c.layers());
        ArrayNode can = out.putArray("capabilities").add("completion");
        if (prompts.infills()) {
            can.add("insert");
        }
        if (prompts.toolStyle() != ToolCalls.Style.GENERIC) {
            can.add("tools");
        }
        return out;
    }

    /**
     * Ollama's /api/embed: {"model", "input": text or texts} → {"model", "embeddings": [[...]], "prompt_eval_count"},
     * the vectors /v1/embeddings computes.
     */
    private ObjectNode ollamaEmbed(ObjectNode body) {
        String name = body.path("model").asText("");
        String model = OllamaRequest.model(name);
        ObjectNode request = Json.object().put("model", model.isEmpty() ? config.modelName() : model);
        request.set("input", body.get("input"));
        ObjectNode answer = embeddings.answer(request);
        ObjectNode out = Json.object().put("model", name);
        ArrayNode vectors = out.putArray("embeddings");
        answer.path("data").forEach(d -> vectors.add(d.get("embedding")));
        return out.put("prompt_eval_count", answer.path("usage").path("prompt_tokens").asInt());
    }

    private static void json(Context ctx, JsonNode body) {
        ctx.contentType("application/json").result(Json.write(body));
    }

    private static void error(Context ctx, ApiException e) {
        ctx.status(e.status);
        if (e.status == 401) {
            ctx.header("WWW-Authenticate", "Bearer");
        }
        json(ctx, Json.error(e));
    }

    /**
     * Ends running requests (cancelled: their streams get a finish chunk and {@code [DONE]}), lets
     * their handlers write those last bytes, then stops listening.
     */
    @Override
    public void close() {
        scheduler.close();
        try {
            completions.awaitIdle(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        app.stop();
        stopped.countDown();
    }
}
