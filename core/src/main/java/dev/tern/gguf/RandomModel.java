package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.RandomBlocks;
import dev.tern.tensor.TensorFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Writes a Llama- or Qwen3-architecture GGUF of any shape with seeded random weights: matrices
 * Gaussian with standard deviation {@code std}, norm weights 1. Tensor names, shapes and metadata
 * keys are those llama.cpp uses for {@code llama} and {@code qwen3}. The tokenizer metadata is copied from a vocabulary
 * GGUF whose token count equals {@code vocab}, or else synthesized: a SentencePiece-style
 * {@code llama} vocabulary of 3 specials, the 256 byte tokens and filler tokens, so the file is
 * self-contained. Weights are generated while the file is written, so any size fits in memory.
 */
public final class RandomModel {
    /** Token type ids of llama.cpp's {@code llama_token_type}. */
    private static final int NORMAL = 1;
    private static final int UNKNOWN = 2;
    private static final int CONTROL = 3;
    private static final int BYTE = 6;

    private final Builder b;
    /** Holds the blocks of read-only types while a file is written. */
    private Arena arena;

    private RandomModel(Builder b) {
        this.b = b;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options with the defaults of a tiny model; every setter returns the builder. */
    public static final class Builder {
        private int dim = 64;
        private int ffn = 256;
        private int layers = 2;
        private int heads = 4;
        private int kvHeads = 4;
        private int vocab = 512;
        private int context = 256;
        private float ropeTheta = 10000f;
        private float rmsEps = 1e-5f;
        private GGMLType weightType = GGMLType.F32;
        private QuantMix mix;
        private boolean tiedOutput = false;
        private long seed = 42;
        private float std = 0.02f;
        private String name = "random";
        private Path tokenizer;
        private String architecture = "llama";
        private int headDim;
        private boolean reranker;

        private Builder() {
        }

        /** {@code llama} or {@code qwen3} (per-head q/k norms, heads of {@link #headDim} wide). */
        public Builder architecture(String v) {
            architecture = v;
            return this;
        }

        /** Width of a head; 0 (the default) for dim / heads. */
        public Builder headDim(int v) {
            headDim = v;
            return this;
        }

        /** Embedding width ({@code llama.embedding_length}). */
        public Builder dim(int v) {
            dim = v;
            return this;
        }

        /** Feed-forward width ({@code llama.feed_forward_length}). */
        public Builder ffn(int v) {
            ffn = v;
            return this;
        }

        public Builder layers(int v) {
            layers = v;
            return this;
        }

        public Builder heads(int v) {
            heads = v;
            return this;
        }

        public Builder kvHeads(int v) {
            kvHeads = v;
            return this;
        }

        public Builder vocab(int v) {
            vocab = v;
            return this;
        }

        public Builder context(int v) {
            context = v;
            return this;
        }

        public Builder ropeTheta(float v) {
            ropeTheta = v;
            return this;
        }

        public Builder rmsEps(float v) {
            rmsEps = v;
            return this;
        }

        /** Type of the weight matrices (norms stay F32); llama.cpp's fallback applies where rows do not fit its blocks. */
        public Builder weightType(GGMLType v) {
            weightType = v;
            return this;
        }

        /** Weights as llama-quantize's mix writes them (the output in Q6_K, some tensors raised per layer). */
        public Builder mix(QuantMix v) {
            mix = v;
            weightType = v.base;
            return this;
        }

        /** true: no {@code output.weight}, the output reuses the token embedding. */
        public Builder tiedOutput(boolean v) {
            tiedOutput = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /** Standard deviation of the weight matrices. */
        public Builder std(float v) {
            std = v;
            return this;
        }

        /** {@code general.name}. */
        public Builder name(String v) {
            name = v;
            return this;
        }

        /** A GGUF whose {@code tokenizer.*} metadata is copied when its vocabulary has {@code vocab} tokens. */
        public Builder tokenizer(Path vocabGguf) {
            tokenizer = vocabGguf;
            return this;
        }

        /**
         * true: a reranker as llama.cpp's converter writes Qwen3-Reranker, rank pooling with a
         * two-row {@code cls.output.weight} ("yes", "no") and Qwen3-Reranker's rerank template.
         */
        public Builder reranker(boolean v) {
            reranker = v;
            return this;
        }

        /**
         * Checks the options (a {@link TernException} says what is wrong): dim must split into
         * heads of even size, heads into KV groups; a synthesized vocabulary needs 259 tokens.
         */
        public RandomModel build() {
            if (dim <= 0 || ffn <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || context <= 0) {
                throw new TernException("sizes must be positive");
            }
            if (!architecture.equals("llama") && !architecture.equals("qwen3")) {
                throw new TernException("random models are llama or qwen3, not '" + architecture + "'");
            }
            if (headDim == 0 && (dim % heads != 0 || (dim / heads) % 2 != 0)) {
                throw new TernException("dim " + dim + " must split into " + heads + " heads of even size");
            }
            if (headDim < 0 || headDim % 2 != 0) {
                throw new TernException("heads must be of even width, got " + headDim);
            }
            if (heads % kvHeads != 0) {
                throw new TernException(heads + " heads do not split into " + kvHeads + " KV heads");
            }
            if (!(std >= 0) || !(ropeTheta > 0) || !(rmsEps > 0)) {
                throw new TernException("std, rope theta and epsilon must be positive");
            }
            if (tokenizer == null && vocab < 259) {
                throw new TernException("a synthesized vocabulary needs at least 259 tokens (3 specials + 256 bytes), got " + vocab);
            }
            ModelQuantizer.fileType(weightType);
            // rows are dim or ffn long: a type that fits neither (and has no fallback) fails now
            ModelQuantizer.tensorType("blk.0.attn_q.weight", new long[]{dim, dim}, GGMLType.F32, weightType);
            ModelQuantizer.tensorType("blk.0.attn_output.weight", new long[]{(long) heads * (headDim == 0 ? dim / heads : headDim), dim},
                    GGMLType.F32, weightType);
            ModelQuantizer.tensorType("blk.0.ffn_down.weight", new long[]{ffn, dim}, GGMLType.F32, weightType);
            return new RandomModel(this);
        }
    }

    /** Qwen3-Reranker's, as llama.cpp's converter stores it. */
    private static final String RERANK_TEMPLATE = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query"
            + " and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"
            + "<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n<Query>: {query}\n"
            + "<Document>: {document}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

    public int headDim() {
        return b.headDim == 0 ? b.dim / b.heads : b.headDim;
    }

    /** Writes the model; throws {@link TernException} naming the file on failure. */
    public void write(Path out) {
        try (Arena a = Arena.ofConfined()) {
            arena = a;
            write(out, new GGUFWriter());
        } finally {
            arena = null;
        }
    }

    private void write(Path out, GGUFWriter w) {
        String a = b.architecture;
        w.put("general.architecture", MetadataValue.of(a));
        w.put("general.name", MetadataValue.of(b.name));
        w.put(a + ".block_count", MetadataValue.ofUInt32(b.layers));
        w.put(a + ".context_length", MetadataValue.ofUInt32(b.context));
        w.put(a + ".embedding_length", MetadataValue.ofUInt32(b.dim));
        w.put(a + ".feed_forward_length", MetadataValue.ofUInt32(b.ffn));
        w.put(a + ".attention.head_count", MetadataValue.ofUInt32(b.heads));
        w.put(a + ".attention.head_count_kv", MetadataValue.ofUInt32(b.kvHeads));
        w.put(a + ".attention.key_length", MetadataValue.ofUInt32(headDim()));
        w.put(a + ".attention.value_length", MetadataValue.ofUInt32(headDim()));
        w.put(a + ".rope.freq_base", MetadataValue.ofFloat32(b.ropeTheta));
        w.put(a + ".attention.layer_norm_rms_epsilon", MetadataValue.ofFloat32(b.rmsEps));
        w.put("general.file_type", MetadataValue.ofUInt32(b.mix != null ? b.mix.fileType : ModelQuantizer.fileType(b.weightType)));
        w.put(a + ".vocab_size", MetadataValue.ofUInt32(b.vocab));
        w.put(a + ".rope.dimension_count", MetadataValue.ofUInt32(headDim()));
        w.putAll(tokenizerMetadata());
        if (b.reranker) {
            w.put(a + ".pooling_type", MetadataValue.ofUInt32(4)); // llama.cpp's rank pooling
            w.put(a + ".classifier.output_labels", MetadataValue.ofArray(new String[]{"yes", "no"}));
            w.put("tokenizer.chat_template.rerank", MetadataValue.of(RERANK_TEMPLATE));
        }
        w.put("general.quantization_version", MetadataValue.ofUInt32(ModelQuantizer.QUANTIZATION_VERSION));

        SplittableRandom root = new SplittableRandom(b.seed);
        int kvDim = b.kvHeads * headDim(), qDim = b.heads * headDim();
        matrix(w, root, "token_embd.weight", b.dim, b.vocab);
        for (int l = 0; l < b.layers; l++) {
            String p = "blk." + l + ".";
            ones(w, p + "attn_norm.weight", b.dim);
            matrix(w, root, p + "attn_q.weight", b.dim, qDim);
            matrix(w, root, p + "attn_k.weight", b.dim, kvDim);
            matrix(w, root, p + "attn_v.weight", b.dim, kvDim);
            matrix(w, root, p + "attn_output.weight", qDim, b.dim);
            if (a.equals("qwen3")) {
                ones(w, p + "attn_q_norm.weight", headDim());
                ones(w, p + "attn_k_norm.weight", headDim());
            }
            ones(w, p + "ffn_norm.weight", b.dim);
            matrix(w, root, p + "ffn_gate.weight", b.dim, b.ffn);
            matrix(w, root, p + "ffn_up.weight", b.dim, b.ffn);
            matrix(w, root, p + "ffn_down.weight", b.ffn, b.dim);
        }
        ones(w, "output_norm.weight", b.dim);
        if (!b.tiedOutput) {
            matrix(w, root, "output.weight", b.dim, b.vocab);
        }
        if (b.reranker) {
            // Spread so that the two outputs differ by a few units on a normalised hidden state: scores far from 1/2.
            SplittableRandom rnd = root.split();
            double std = 2 / Math.sqrt(b.dim);
            w.addTensor("cls.output.weight", new long[]{b.dim, 2}, GGMLType.F32, (first, count, dst) -> {
                for (int i = 0; i < count * b.dim; i++) {
                    dst[i] = (float) (rnd.nextGaussian() * std);
                }
            });
        }
        w.write(out);
    }

    /**
     * A [cols, rows] matrix (ggml order) of Gaussian values from its own generator; in a lattice type,
     * whose quantizer would take minutes for a 1B model, random blocks ({@link RandomBlocks}) whose
     * values have about the same spread.
     */
    private void matrix(GGUFWriter w, SplittableRandom root, String name, int cols, int rows) {
        long[] shape = {cols, rows};
        SplittableRandom rnd = root.split();
        double std = b.std;
        GGMLType type = ModelQuantizer.tensorType(name, shape, GGMLType.F32, b.mix == null ? b.weightType
                : b.mix.typeOf(name, cols, new QuantMix.Shape(b.layers, b.heads / b.kvHeads, b.tiedOutput, false)));
        if (type.isGridSearched()) {
            long blocks = (long) cols * rows / type.blockSize;
            MemorySegment data = arena.allocate(blocks * type.blockBytes, 64);
            Random r = new Random(rnd.nextLong());
            RandomBlocks.fill(type, r, data, 0, blocks, (float) (std / unitSpread(type, r)));
            w.addTensor(name, shape, type, data);
            return;
        }
        w.addTensor(name, shape, type, (first, count, dst) -> {
            int n = count * cols;
            for (int i = 0; i < n; i++) {
                dst[i] = (float) (rnd.nextGaussian() * std);
            }
        });
    }

    /** The root mean square of random blocks of this type with scale 1 (64 of them). */
    private static double unitSpread(GGMLType type, Random r) {
        int blocks = 64;
        MemorySegment sample = Arena.ofAuto().allocate((long) blocks * type.blockBytes);
        RandomBlocks.fill(type, r, sample, 0, blocks, 1f);
        float[] v = new float[blocks * type.blockSize];
        TensorFormat.of(type).dequantize(sample, 0, v, 0, v.length);
        double sum = 0;
        for (float x : v) {
            sum += (double) x * x;
        }
        return Math.sqrt(sum / v.length);
    }

    private static void ones(GGUFWriter w, String name, int n) {
        w.addTensor(name, new long[]{n}, GGMLType.F32, (first, count, dst) -> Arrays.fill(dst, 0, count * n, 1f));
    }

    private Map<String, MetadataValue> tokenizerMetadata() {
        if (b.tokenizer != null) {
            try (GGUFFile f = GGUFFile.open(b.tokenizer)) {
                MetadataValue tokens = f.metadata().get("tokenizer.ggml.tokens");
                if (tokens != null && tokens.value() instanceof String[] t && t.length == b.vocab) {
                    Map<String, MetadataValue> m = new LinkedHashMap<>();
                    f.metadata().forEach((k, v) -> {
                        if (k.startsWith("tokenizer.")) {
                            m.put(k, v);
                        }
                    });
                    return m;
                }
            }
        }
        return syntheticVocabulary(b.vocab);
    }

    /**
     * A minimal SentencePiece-style vocabulary: {@code <unk>}, {@code <s>}, {@code </s>}, the 256
     * byte tokens {@code <0xXX>}, then "▁" and the printable ASCII characters, then
     * {@code <unused_N>} fillers. Every text tokenizes (through byte fallback if need be).
     */
    static Map<String, MetadataValue> syntheticVocabulary(int vocab) {
        if (vocab < 259) {
            throw new TernException("a synthesized vocabulary needs at least 259 tokens (3 specials + 256 bytes), got " + vocab);
        }
        String[] tokens = new String[vocab];
        float[] scores = new float[vocab];
        int[] types = new int[vocab];
        tokens[0] = "<unk>";
        tokens[1] = "<s>";
        tokens[2] = "</s>";
        types[0] = UNKNOWN;
        types[1] = CONTROL;
        types[2] = CONTROL;
        for (int i = 0; i < 256; i++) {
            tokens[3 + i] = String.format("<0x%02X>", i);
            types[3 + i] = BYTE;
        }
        for (int i = 259; i < vocab; i++) {
            int c = i - 259; // 0 → "▁" (SentencePiece's space), then '!' .. '~'
            tokens[i] = c == 0 ? "▁" : c < 95 ? String.valueOf((char) (' ' + c)) : "<unused_" + (c - 95) + ">";
            types[i] = NORMAL;
            scores[i] = -c;
        }
        Map<String, MetadataValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", MetadataValue.of("llama"));
        m.put("tokenizer.ggml.pre", MetadataValue.of("default"));
        m.put("tokenizer.ggml.tokens", MetadataValue.ofArray(tokens));
        m.put("tokenizer.ggml.scores", MetadataValue.ofArray(scores));
        m.put("tokenizer.ggml.token_type", MetadataValue.ofArray(types));
        m.put("tokenizer.ggml.bos_token_id", MetadataValue.ofUInt32(1));
        m.put("tokenizer.ggml.eos_token_id", MetadataValue.ofUInt32(2));
        m.put("tokenizer.ggml.unknown_token_id", MetadataValue.ofUInt32(0));
        m.put("tokenizer.ggml.add_bos_token", MetadataValue.ofBool(true));
        m.put("tokenizer.ggml.add_eos_token", MetadataValue.ofBool(false));
        return m;
    }
}
