package dev.tern;

import dev.tern.chat.ChatMessage;
import dev.tern.chat.ChatTemplate;
import dev.tern.engine.EmbeddingNorm;
import dev.tern.engine.Engine;
import dev.tern.engine.FinishReason;
import dev.tern.engine.Generator;
import dev.tern.engine.Request;
import dev.tern.engine.RequestHandle;
import dev.tern.engine.RequestListener;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.engine.Scheduler;
import dev.tern.engine.SchedulerConfig;
import dev.tern.engine.Session;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.MetadataOverride;
import dev.tern.gguf.MetadataValue;
import dev.tern.kv.BlockPool;
import dev.tern.kv.KVCacheType;
import dev.tern.model.ClassifierHead;
import dev.tern.model.LoraAdapter;
import dev.tern.model.Model;
import dev.tern.model.Pooling;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A model ready to use from Java: weights, tokenizer, chat template and an engine with its
 * worker threads and KV cache.
 * <pre>{@code
 * try (Tern tern = Tern.load(Path.of("model.gguf"))) {
 *     Completion c = tern.complete("Once upon a time", GenerateOptions.greedy(100), System.out::print);
 *     Completion reply = tern.chat(List.of(new ChatMessage("user", "Hi!")), GenerateOptions.sampled(200), null);
 * }
 * }</pre>
 * Generations from several threads are batched together; {@link #newSession()} and
 * {@link Generator} give one sequence under the caller's control.
 */
public final class Tern implements AutoCloseable {
    /** This release's version, as the command line and the server report it. */
    public static final String VERSION = "0.1.0";
    private final Model model;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private Scheduler scheduler;
    private boolean closed;
    private final Engine engine;
    private final int contextSize;
    private final Pooling pooling;
    /** A reranker's head (rank pooling), else null. */
    private final ClassifierHead classifier;
    /** The GGUF's {@code tokenizer.chat_template.rerank}, null when it has none. */
    private final String rerankTemplate;

    private Tern(Model model, Tokenizer tokenizer, ChatTemplate chatTemplate, Engine engine, int contextSize, Pooling pooling,
                 ClassifierHead classifier, String rerankTemplate) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.engine = engine;
        this.contextSize = contextSize;
        this.pooling = pooling;
        this.classifier = classifier;
        this.rerankTemplate = rerankTemplate;
    }

    public static Tern load(Path modelFile) {
        return load(modelFile, null, Options.defaults());
    }

    /**
     * Loads a GGUF model (tokenizer and chat template from its metadata) or a llama2.c checkpoint
     * (tokenizer from {@code tokenizerFile}, or a {@code tokenizer.bin}/{@code tok<vocab>.bin}
     * beside it).
     */
    public static Tern load(Path modelFile, Path tokenizerFile, Options options) {
        Map<String, MetadataValue> overrides = MetadataOverride.asMetadata(options.overrides);
        if (!overrides.isEmpty() && !GGUFFile.isGGUF(modelFile)) {
            throw new TernException(modelFile + ": --override-kv applies to GGUF files only");
        }
        Model model = Model.load(modelFile, overrides);
        try {
            if (options.mlock) {
                model.lockInMemory();
            }
            model = withAdapters(model, options.loras);
            Tokenizer tokenizer;
            ChatTemplate template;
            Pooling pooling = Pooling.MEAN;
            ClassifierHead classifier = null;
            String rerankTemplate = null;
            if (tokenizerFile != null && tokenizerFile.toString().endsWith(".json")) {
                tokenizer = Tokenizer.fromTokenizerJson(tokenizerFile);
                template = ChatTemplate.of(null, null, null);
            } else if (GGUFFile.isGGUF(modelFile) && tokenizerFile == null) {
                try (GGUFFile f = GGUFFile.open(modelFile, overrides)) {
                    tokenizer = Tokenizer.fromGGUF(f);
                    template = ChatTemplate.of(f.getString("tokenizer.chat_template", null),
                            text(tokenizer, tokenizer.bos()), text(tokenizer, tokenizer.eos()));
                    pooling = Pooling.ofGguf(f.getInt(model.config().architecture() + ".pooling_type", 0), model.config().architecture());
                    classifier = ClassifierHead.read(f, model.config());
                    rerankTemplate = f.getString("tokenizer.chat_template.rerank", null);
                }
            } else {
                Path tok = tokenizerFile != null ? tokenizerFile : llama2cTokenizerBeside(modelFile, model.config().vocab());
                tokenizer = GGUFFile.isGGUF(tok) ? fromVocabGGUF(tok) : Tokenizer.fromLlama2c(tok, model.config().vocab());
                template = ChatTemplate.of(null, text(tokenizer, tokenizer.bos()), text(tokenizer, tokenizer.eos()));
            }
            if (options.chatTemplate != null) {
                template = checked(ChatTemplate.of(options.chatTemplate, text(tokenizer, tokenizer.bos()), text(tokenizer, tokenizer.eos())));
            }
            if (tokenizer.vocabSize() != model.config().vocab()) {
                throw new TernException(modelFile + ": tokenizer has " + tokenizer.vocabSize() + " tokens but the model has "
                        + model.config().vocab());
            }
            int ctx = options.contextSize > 0 ? options.contextSize : model.config().contextLength();
            Engine engine = new Engine(model, options.threads, options.sequences * BlockPool.blocksFor(ctx), options.cacheType,
                    options.batchInvariant);
            return new Tern(model, tokenizer, template, engine, ctx, pooling, classifier, rerankTemplate);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * A LoRA adapter file (llama.cpp's GGUF form), the factor its effect is scaled by (1: as trained),
     * and its name: null to apply it to every request (llama.cpp's {@code --lora}), or a name that
     * requests give as their model to have it applied to them alone (vLLM's {@code --lora-modules}).
     */
    public record Lora(Path file, float scale, String name) {
        public Lora(Path file, float scale) {
            this(file, scale, null);
        }
    }

    /** The model with the adapters; on failure the adapters already opened are closed. */
    private static Model withAdapters(Model model, List<Lora> loras) {
        if (loras.isEmpty()) {
            return model;
        }
        List<LoraAdapter> applied = new ArrayList<>();
        Map<String, LoraAdapter> named = new LinkedHashMap<>();
        try {
            for (Lora l : loras) {
                if (l.name() != null && named.containsKey(l.name())) {
                    throw new TernException("two LoRA adapters are named '" + l.name() + "'");
                }
                LoraAdapter a = LoraAdapter.load(l.file(), model, l.scale());
                if (l.name() == null) {
                    applied.add(a);
                } else {
                    named.put(l.name(), a);
                }
            }
        } catch (RuntimeException e) {
            applied.forEach(LoraAdapter::close);
            named.values().forEach(LoraAdapter::close);
            throw e;
        }
        return model.withAdapters(applied, named);
    }

    /** A template given in place of the model's, tried on one user message so that a broken one fails at load. */
    private static ChatTemplate checked(ChatTemplate template) {
        try {
            template.render(List.of(new ChatMessage("user", "Hello")), true);
        } catch (TernException e) {
            throw new TernException("the chat template given does not render a user message: " + e.getMessage());
        }
        return template;
    }

    private static Tokenizer fromVocabGGUF(Path p) {
        try (GGUFFile f = GGUFFile.open(p)) {
            return Tokenizer.fromGGUF(f);
        }
    }

    private static String text(Tokenizer t, int id) {
        return id < 0 ? "" : t.tokenText(id);
    }


    private static Path llama2cTokenizerBeside(Path model, int vocab) {
        Path dir = model.toAbsolutePath().getParent();
        for (String name : new String[]{"tokenizer.bin", "tok" + vocab + ".bin"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new TernException(model + ": a llama2.c checkpoint needs a tokenizer (--tokenizer FILE; no tokenizer.bin or tok"
                + vocab + ".bin beside it)");
    }

    public Model model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    public Engine engine() {
        return engine;
    }

    /** How {@link #embed} pools: the GGUF's {@code <arch>.pooling_type}, mean when it has none. */
    public Pooling pooling() {
        return pooling;
    }

    /**
     * The embedding of {@code tokens} (unit length, {@link #pooling} over the final hidden states),
     * e.g. with Qwen3-Embedding; a TernException when they exceed the context.
     */
    public float[] embed(int[] tokens) {
        return embed(List.of(tokens)).getFirst();
    }

    /** {@link #embed(int[])} of each input, short ones sharing forward passes. */
    public List<float[]> embed(List<int[]> inputs) {
        return embed(inputs, EmbeddingNorm.EUCLIDEAN);
    }

    /** As above, scaled as {@link EmbeddingNorm} says for {@code norm} (-1: the pooled vector as it is). */
    public List<float[]> embed(List<int[]> inputs, int norm) {
        for (int[] tokens : inputs) {
            if (tokens.length > contextSize) {
                throw new TernException("input of " + tokens.length + " tokens does not fit the context of " + contextSize + " positions");
            }
        }
        return engine.embed(inputs, pooling, norm);
    }

    /** Whether the model scores query–document pairs: rank pooling with a classification head (Qwen3-Reranker's GGUF). */
    public boolean reranks() {
        return classifier != null;
    }

    /**
     * The tokens a (query, document) pair is scored on, as llama-server lays them out: the model's
     * rerank template ({@code tokenizer.chat_template.rerank}) with {@code {query}} and
     * {@code {document}} replaced, its special tokens parsed; without one, BOS, the query, EOS, the
     * document, EOS, each special token as the vocabulary adds it (a decoder's has no SEP).
     */
    public int[] rerankTokens(String query, String document) {
        if (rerankTemplate != null) {
            return tokenizer.encode(rerankTemplate.replace("{query}", query).replace("{document}", document), false, true);
        }
        int[] q = tokenizer.encode(query, false, false), d = tokenizer.encode(document, false, false);
        int bos = tokenizer.addBos() ? 1 : 0, eos = tokenizer.addEos() ? 1 : 0;
        int[] out = new int[bos + q.length + eos + d.length + eos];
        int at = 0;
        if (bos == 1) {
            out[at++] = tokenizer.bos();
        }
        System.arraycopy(q, 0, out, at, q.length);
        at += q.length;
        if (eos == 1) {
            out[at++] = tokenizer.eos();
        }
        System.arraycopy(d, 0, out, at, d.length);
        at += d.length;
        if (eos == 1) {
            out[at] = tokenizer.eos();
        }
        return out;
    }

    /**
     * The relevance score of each tokenized pair ({@link #rerankTokens}): the head's first output on
     * the pooled hidden state, for a Qwen3 reranker the probability that the answer is "yes". Short
     * inputs share forward passes. A TernException when the model does not rerank or an input exceeds the context.
     */
    public float[] rerank(List<int[]> pairs) {
        if (classifier == null) {
            throw new TernException("this model does not rerank: that needs rank pooling and a classification head"
                    + " (cls.output.weight), as Qwen3-Reranker's GGUF has");
        }
        List<float[]> hidden = embed(pairs, EmbeddingNorm.NONE);
        float[] scores = new float[hidden.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = classifier.apply(hidden.get(i))[0];
        }
        return scores;
    }

    /**
     * Generates a continuation of {@code prompt} (BOS added as the model's tokenizer says; special
     * tokens written in it are parsed) and returns it when it ends; {@code onText}, if not null,
     * receives the text as it is generated. Calls from several threads share forward passes
     * (continuous batching, as the server's requests do) and the KV blocks of common prompt
     * prefixes. A TernException when the prompt does not fit the context or generation fails.
     */
    public Completion complete(String prompt, GenerateOptions options, Consumer<String> onText) {
        return generate(tokenizer.encode(prompt, true, true), options, onText);
    }

    /** {@link #complete(String, GenerateOptions, Consumer)} without streaming. */
    public Completion complete(String prompt, GenerateOptions options) {
        return complete(prompt, options, null);
    }

    /**
     * The assistant's reply to {@code messages}, rendered by the model's chat template; otherwise
     * as {@link #complete(String, GenerateOptions, Consumer)}.
     */
    public Completion chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        return generate(encodeRendered(chatTemplate.render(messages, true)), options, onText);
    }

    /**
     * The tokens of a prompt the chat template rendered: special tokens parsed, and BOS added
     * unless the template wrote it (it must not come twice).
     */
    public int[] encodeRendered(String rendered) {
        boolean templateHasBos = tokenizer.bos() >= 0 && rendered.startsWith(tokenizer.tokenText(tokenizer.bos()));
        return tokenizer.encode(rendered, !templateHasBos, true);
    }

    private Completion generate(int[] prompt, GenerateOptions options, Consumer<String> onText) {
        if (prompt.length >= contextSize) {
            throw new TernException("prompt of " + prompt.length + " tokens leaves no room in the context of " + contextSize + " positions");
        }
        StringBuilder text = new StringBuilder();
        List<Integer> tokens = new ArrayList<>();
        CompletableFuture<RequestResult> done = new CompletableFuture<>();
        RequestHandle handle = batching().submit(new Request(prompt, options.sampling(), options.maxTokens(), options.stop(), -1,
                options.format()), new RequestListener() {
            @Override
            public void onOutput(RequestOutput output) {
                text.append(output.text());
                for (int t : output.tokens()) {
                    tokens.add(t);
                }
                if (onText != null && !output.text().isEmpty()) {
                    onText.accept(output.text());
                }
            }

            @Override
            public void onFinish(RequestResult result) {
                done.complete(result);
            }
        });
        RequestResult r;
        try {
            r = done.get();
        } catch (InterruptedException e) {
            handle.cancel();
            Thread.currentThread().interrupt();
            throw new TernException("interrupted while generating");
        } catch (ExecutionException e) {
            throw new TernException("generation failed: " + e.getCause());
        }
        if (r.reason() == FinishReason.ERROR) {
            throw new TernException(r.error());
        }
        if (r.reason() == FinishReason.CANCELLED) {
            throw new TernException("generation cancelled: the model is closing");
        }
        return new Completion(text.toString(), tokens.stream().mapToInt(Integer::intValue).toArray(), r.reason(),
                r.promptTokens(), r.cachedTokens());
    }

    /** The scheduler behind {@link #complete} and {@link #chat}, started at the first call. */
    private synchronized Scheduler batching() {
        if (closed) {
            throw new TernException("this model is closed");
        }
        if (scheduler == null) {
            scheduler = new Scheduler(engine, tokenizer, contextSize, SchedulerConfig.defaults());
            scheduler.start();
        }
        return scheduler;
    }

    /** A session over the model's full context (or the context size the options asked for). */
    public Session newSession() {
        return engine.newSession(contextSize());
    }

    /**
     * Generates from a short prompt in a scratch session, again and again for about {@code seconds}
     * (at least once), so that the JIT has compiled the kernels, the sampler and the decoder
     * before the first real request: until then the Vector API runs its interpreted fallback,
     * several times slower. A server calls it before it reports ready; the KV cache is left as it was.
     */
    public void warmUp(double seconds) {
        warmUp(seconds, () -> false);
    }

    /** {@link #warmUp(double)} that also ends, within a token, once {@code stop} says so. */
    public void warmUp(double seconds, BooleanSupplier stop) {
        int room = Math.min(contextSize, 64);
        // A prompt past F32Tiles' 32 tokens, so that prefill's batched tiles are compiled too: the
        // text repeated to just over half the room.
        int[] text = tokenizer.encode("Once upon a time, there was a little", true, false);
        int[] prompt = new int[Math.max(1, room / 2 + 1)];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = text[i % text.length];
        }
        Generator.Listener untilStopped = (id, piece) -> !stop.getAsBoolean();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        try (Session s = engine.newSession(room)) {
            do {
                s.truncate(0);
                Generator.generate(s, tokenizer, prompt, new Sampler(SamplerConfig.defaults(), tokenizer.vocabSize()), -1, untilStopped);
            } while (System.nanoTime() < end && !stop.getAsBoolean());
        }
    }

    /** Positions one session may use. */
    public int contextSize() {
        return contextSize;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (scheduler != null) {
                scheduler.close();
            }
        }
        engine.close();
        model.close();
    }

    /**
     * Load-time choices: worker threads, context size per sequence (0 = the model's trained
     * context), how many full-context sequences the KV cache holds, and its precision.
     *
     * @param chatTemplate a Jinja2 chat template to use instead of the model's (llama.cpp's
     *                     {@code --chat-template-file}), or null
     * @param loras        LoRA adapters to apply (llama.cpp's {@code --lora}/{@code --lora-scaled})
     * @param overrides    metadata values read in place of the GGUF file's (llama.cpp's {@code --override-kv})
     * @param mlock        lock the weights in RAM (llama.cpp's {@code --mlock})
     * @param batchInvariant a token's logits have the same bits whatever shares its forward pass, also
     *                       with quantized weights, whose batches then take the one-token kernels (slower)
     */
    public record Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate, List<Lora> loras,
                          List<MetadataOverride> overrides, boolean mlock, boolean batchInvariant) {
        public Options {
            loras = List.copyOf(loras);
            overrides = List.copyOf(overrides);
        }

        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate, List<Lora> loras,
                       List<MetadataOverride> overrides, boolean mlock) {
            this(threads, contextSize, sequences, cacheType, chatTemplate, loras, overrides, mlock, false);
        }

        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate, List<Lora> loras,
                       List<MetadataOverride> overrides) {
            this(threads, contextSize, sequences, cacheType, chatTemplate, loras, overrides, false);
        }

        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate, List<Lora> loras) {
            this(threads, contextSize, sequences, cacheType, chatTemplate, loras, List.of());
        }

        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType) {
            this(threads, contextSize, sequences, cacheType, null, List.of());
        }

        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate) {
            this(threads, contextSize, sequences, cacheType, chatTemplate, List.of());
        }

        public static Options defaults() {
            return new Options(Runtime.getRuntime().availableProcessors(), 0, 1, KVCacheType.F16);
        }
    }
}
