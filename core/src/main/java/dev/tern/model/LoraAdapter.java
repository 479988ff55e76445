package dev.tern.model;

import dev.tern.gguf.GGUFException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A LoRA adapter in llama.cpp's GGUF form ({@code general.type} "adapter", {@code adapter.type}
 * "lora", as {@code convert_lora_to_gguf.py} writes it): for a weight W of the model, tensors
 * {@code <name>.lora_a} (rank rows of W's input width) and {@code <name>.lora_b} (W's output rows
 * of rank values), so that the adapted product is W·x + s·B·(A·x) with s = scale·alpha/rank (scale
 * alone when the file gives no alpha), as llama.cpp applies it. The token embedding's pair is
 * stored the other way round (A: one row of rank values per token, B: dim rows of rank), and adds
 * s·B·A[token] to the token's embedding. Norm tensors in the file are ignored, as llama.cpp does.
 * The file stays mapped until {@link #close}.
 * <p>
 * A {@link #mix} of the model's applied adapters at other scales (llama-server's per-request
 * {@code lora}) is an adapter too: it holds their pairs rescaled, and stands in for the model's
 * applied adapters on the tokens it is given to.
 */
public final class LoraAdapter implements AutoCloseable {
    /**
     * One adapted weight: its two factors, the factor s their product is scaled by, and s per unit
     * of the adapter's scale (alpha/rank, or 1 when the file gives no alpha).
     */
    public record Pair(Tensor a, Tensor b, float unit, float scale) {
        /** This pair at the adapter scale s. */
        Pair at(float s) {
            return new Pair(a, b, unit, s * unit);
        }
    }

    private static final AtomicLong IDS = new AtomicLong();
    /** The mapped file, null for a mix (its adapters own theirs). */
    private final GGUFFile file;
    private final float scale;
    /** Unique in this process: the prefix cache keeps the KV of each adapter's requests apart by it. */
    private final long id = IDS.incrementAndGet();
    /** The pairs of the weight matrices, by the model's tensor (identity). */
    private final Map<Tensor, List<Pair>> products = new IdentityHashMap<>();
    private final List<Pair> embedding = new ArrayList<>();

    private LoraAdapter(GGUFFile file, float scale) {
        this.file = file;
        this.scale = scale;
    }

    /** Opens and checks an adapter of {@code model}; {@code scale} multiplies its effect (1: as trained). */
    public static LoraAdapter load(Path path, Model model, float scale) {
        GGUFFile f = GGUFFile.open(path);
        try {
            LoraAdapter adapter = new LoraAdapter(f, scale);
            adapter.read(model, scale);
            return adapter;
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private void read(Model model, float scale) {
        GGUFFile f = file;
        ModelConfig c = model.config();
        if (!f.getString("general.type", "").equals("adapter") || !f.getString("adapter.type", "").equals("lora")) {
            throw new GGUFException(f.path(), "not a LoRA adapter (general.type 'adapter' and adapter.type 'lora' expected)");
        }
        String arch = f.getString("general.architecture", "");
        if (!arch.equals(c.architecture())) {
            throw new GGUFException(f.path(), "the adapter is for architecture '" + arch + "', the model is '" + c.architecture() + "'");
        }
        if (f.has("adapter.alora.invocation_tokens")) {
            throw new GGUFException(f.path(), "activated LoRA (aLoRA) adapters are not supported");
        }
        float alpha = f.getFloat("adapter.lora.alpha", 0f);
        Map<String, Tensor> weights = weightsByName(model);
        Set<String> done = new HashSet<>();
        for (GGUFTensorInfo t : f.tensors()) {
            String name = t.name();
            if (name.endsWith("_norm.weight")) {
                continue;
            }
            if (!name.endsWith(".lora_a") && !name.endsWith(".lora_b")) {
                throw new GGUFException(f.path(), "tensor '" + name + "' is neither a .lora_a nor a .lora_b");
            }
            String base = name.substring(0, name.length() - ".lora_a".length());
            if (!done.add(base)) {
                continue;
            }
            if (!f.hasTensor(base + ".lora_a") || !f.hasTensor(base + ".lora_b")) {
                throw new GGUFException(f.path(), "the LoRA pair of '" + base + "' lacks one of its tensors");
            }
            Tensor w = weights.get(base);
            if (w == null) {
                throw new GGUFException(f.path(), "the adapter changes '" + base + "', which the model does not have");
            }
            Tensor a = Tensor.of(f, f.tensor(base + ".lora_a")), b = Tensor.of(f, f.tensor(base + ".lora_b"));
            boolean embedding = base.equals("token_embd.weight");
            // A weight is rows × cols (outputs × inputs); the embedding's pair runs from a token to dim values.
            int rank = b.cols();
            boolean fits = embedding ? a.rows() == w.rows() && a.cols() == rank && b.rows() == w.cols()
                    : a.cols() == w.cols() && a.rows() == rank && b.rows() == w.rows();
            if (!fits) {
                throw new GGUFException(f.path(), "the LoRA pair of '" + base + "' (A " + a.cols() + "x" + a.rows() + ", B " + b.cols()
                        + "x" + b.rows() + ") does not fit the model's " + w.cols() + "x" + w.rows() + " (wrong base model?)");
            }
            float unit = alpha != 0f ? alpha / rank : 1f;
            Pair pair = new Pair(a, b, unit, unit).at(scale);
            if (embedding) {
                this.embedding.add(pair);
            } else {
                products.put(w, List.of(pair));
            }
        }
    }

    /** The model's weight matrices by their GGUF names; a tied output is only token_embd.weight. */
    private static Map<String, Tensor> weightsByName(Model model) {
        ModelWeights w = model.weights();
        Map<String, Tensor> byName = new HashMap<>();
        byName.put("token_embd.weight", w.tokenEmbedding());
        if (!model.config().tiedOutput()) {
            byName.put("output.weight", w.output());
        }
        for (int l = 0; l < w.layers().length; l++) {
            LayerWeights lw = w.layers()[l];
            String p = "blk." + l + ".";
            byName.put(p + "attn_q.weight", lw.wq());
            byName.put(p + "attn_k.weight", lw.wk());
            byName.put(p + "attn_v.weight", lw.wv());
            byName.put(p + "attn_output.weight", lw.wo());
            byName.put(p + "ffn_gate.weight", lw.gate());
            byName.put(p + "ffn_up.weight", lw.up());
            byName.put(p + "ffn_down.weight", lw.down());
        }
        return byName;
    }

    /**
     * The model's {@code applied} adapters (loaded for it, all of them) at these scales, in their
     * order, as one adapter that stands in for them: llama-server's per-request {@code lora} and
     * its {@code POST /lora-adapters}. A scale of 0 leaves an adapter out.
     */
    public static LoraAdapter mix(List<LoraAdapter> applied, float[] scales) {
        if (scales.length != applied.size()) {
            throw new IllegalArgumentException(scales.length + " scales for " + applied.size() + " adapters");
        }
        LoraAdapter mix = new LoraAdapter(null, 1f);
        for (int i = 0; i < scales.length; i++) {
            float s = scales[i];
            if (s == 0f) {
                continue;
            }
            applied.get(i).products.forEach((w, pairs) -> pairs.forEach(p ->
                    mix.products.computeIfAbsent(w, k -> new ArrayList<>()).add(p.at(s))));
            applied.get(i).embedding.forEach(p -> mix.embedding.add(p.at(s)));
        }
        return mix;
    }

    /** The pairs that adapt the product with weight w (none: empty). */
    public List<Pair> of(Tensor w) {
        return products.getOrDefault(w, List.of());
    }

    /** The scale it was loaded with (1: as trained); a mix's own is 1. */
    public float scale() {
        return scale;
    }

    /** The file it was loaded from; null for a mix. */
    public Path path() {
        return file == null ? null : file.path();
    }

    /** Whether, on the tokens given it, it stands in for the model's applied adapters: a {@link #mix}, the one without a file. */
    public boolean replacesApplied() {
        return file == null;
    }

    /**
     * What the prefix cache chains the first block's hash to for requests with this adapter, so
     * that their KV blocks never serve requests without it or with another.
     */
    public ByteBuffer cacheSalt() {
        return ByteBuffer.allocate(12).putInt(0x4C6F5241).putLong(id).flip().asReadOnlyBuffer();
    }

    /** The token embedding's pairs (none: empty). */
    public List<Pair> embedding() {
        return embedding;
    }

    @Override
    public void close() {
        if (file != null) {
            file.close();
        }
    }
}
