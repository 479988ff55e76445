package dev.tern;

import dev.tern.chat.ChatMessage;
import dev.tern.chat.ChatTemplate;
import dev.tern.engine.Engine;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.gguf.GGUFFile;
import dev.tern.kv.BlockPool;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.Pooling;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A model ready to use from Java: weights, tokenizer, chat template and an engine with its
 * worker threads and KV cache.
 * <pre>{@code
 * try (Tern tern = Tern.load(Path.of("model.gguf"))) {
 *     Session s = tern.newSession();
 *     GenerationResult r = Generator.generate(s, tern.tokenizer(), tern.tokenizer().encode("Once upon a time", true, false),
 *             new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()), 100, (id, text) -> true);
 * }
 * }</pre>
 */
public final class Tern implements AutoCloseable {
    private final Model model;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final Engine engine;
    private final int contextSize;
    private final Pooling pooling;

    private Tern(Model model, Tokenizer tokenizer, ChatTemplate chatTemplate, Engine engine, int contextSize, Pooling pooling) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.engine = engine;
        this.contextSize = contextSize;
        this.pooling = pooling;
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
        Model model = Model.load(modelFile);
        try {
            Tokenizer tokenizer;
            ChatTemplate template;
            Pooling pooling = Pooling.MEAN;
            if (tokenizerFile != null && tokenizerFile.toString().endsWith(".json")) {
                tokenizer = Tokenizer.fromTokenizerJson(tokenizerFile);
                template = ChatTemplate.of(null, null, null);
            } else if (GGUFFile.isGGUF(modelFile) && tokenizerFile == null) {
                try (GGUFFile f = GGUFFile.open(modelFile)) {
                    tokenizer = Tokenizer.fromGGUF(f);
                    template = ChatTemplate.of(f.getString("tokenizer.chat_template", null),
                            text(tokenizer, tokenizer.bos()), text(tokenizer, tokenizer.eos()));
                    pooling = Pooling.ofGguf(f.getInt(model.config().architecture() + ".pooling_type", 0));
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
            Engine engine = new Engine(model, options.threads, options.sequences * BlockPool.blocksFor(ctx), options.cacheType);
            return new Tern(model, tokenizer, template, engine, ctx, pooling);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
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
        for (int[] tokens : inputs) {
            if (tokens.length > contextSize) {
                throw new TernException("input of " + tokens.length + " tokens does not fit the context of " + contextSize + " positions");
            }
        }
        return engine.embed(inputs, pooling);
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
        // A prompt past F32Tiles' few tokens, so that prefill's batched tiles are compiled too: the
        // text repeated to half the room.
        int[] text = tokenizer.encode("Once upon a time, there was a little", true, false);
        int[] prompt = new int[Math.max(1, room / 2)];
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
        engine.close();
        model.close();
    }

    /**
     * Load-time choices: worker threads, context size per sequence (0 = the model's trained
     * context), how many full-context sequences the KV cache holds, and its precision.
     */
    /**
     * @param chatTemplate a Jinja2 chat template to use instead of the model's (llama.cpp's
     *                     {@code --chat-template-file}), or null
     */
    public record Options(int threads, int contextSize, int sequences, KVCacheType cacheType, String chatTemplate) {
        public Options(int threads, int contextSize, int sequences, KVCacheType cacheType) {
            this(threads, contextSize, sequences, cacheType, null);
        }

        public static Options defaults() {
            return new Options(Runtime.getRuntime().availableProcessors(), 0, 1, KVCacheType.F16);
        }
    }
}
