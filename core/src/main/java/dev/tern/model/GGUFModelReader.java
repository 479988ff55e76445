package dev.tern.model;

import dev.tern.gguf.GGUFException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.tensor.Tensor;

/**
 * Reads hyper-parameters and weights of a llama-family model from GGUF, with llama.cpp's key
 * and tensor names ({@code <arch>.embedding_length}, {@code blk.N.attn_q.weight}, …). Weights
 * stay in the file's mapping; only norms and biases are copied to float arrays.
 */
final class GGUFModelReader {
    private GGUFModelReader() {
    }

    static Model read(GGUFFile file, AutoCloseable owned) {
        Architecture arch = Architecture.forName(file.getString("general.architecture"));
        ModelConfig config = config(file, arch);
        return new Model(config, weights(file, config), owned);
    }

    static ModelConfig config(GGUFFile f, Architecture arch) {
        String p = arch.name() + ".";
        int experts = f.getInt(p + "expert_count", 0);
        if (experts > 0) {
            throw new GGUFException(f.path(), "mixture-of-experts models (" + experts + " experts, as Mixtral) are not supported");
        }
        int dim = f.getInt(p + "embedding_length");
        int heads = f.getInt(p + "attention.head_count");
        int kvHeads = f.getInt(p + "attention.head_count_kv", heads);
        int headDim = f.getInt(p + "attention.key_length", dim / heads);
        int vocab = Math.toIntExact(f.tensor("token_embd.weight").rows());
        String scaling = f.getString(p + "rope.scaling.type", "none");
        if (!scaling.equals("none") && !scaling.equals("linear") && !scaling.equals("yarn")) {
            throw new GGUFException(f.path(), "RoPE scaling '" + scaling + "' is not supported (supported: none, linear, yarn,"
                    + " llama3 via rope_freqs.weight)");
        }
        // As llama.cpp: the factor applies whatever the type says; 0 or absent means none.
        float factor = f.getFloat(p + "rope.scaling.factor", f.getFloat(p + "rope.scale_linear", 0f));
        float freqScale = factor == 0f ? 1f : 1f / factor;
        int context = f.getInt(p + "context_length");
        // llama.cpp's defaults: the mix at full weight, beta_fast 32, beta_slow 1, the trained context as the original.
        YarnScaling yarn = !scaling.equals("yarn") ? YarnScaling.NONE : new YarnScaling(1f,
                f.getFloat(p + "rope.scaling.attn_factor", 1f), f.getFloat(p + "rope.scaling.yarn_beta_fast", 32f),
                f.getFloat(p + "rope.scaling.yarn_beta_slow", 1f), f.getInt(p + "rope.scaling.original_context_length", context));
        return new ModelConfig(arch.name(), dim, f.getInt(p + "feed_forward_length"), f.getInt(p + "block_count"),
                heads, kvHeads, headDim, vocab, context,
                f.getFloat(p + "attention.layer_norm_rms_epsilon"), f.getFloat(p + "rope.freq_base", 10000f),
                f.getInt(p + "rope.dimension_count", headDim), arch.ropeStyle(), freqScale, arch.qkvBias(),
                !f.hasTensor("output.weight"), yarn);
    }

    static ModelWeights weights(GGUFFile f, ModelConfig c) {
        boolean qkNorm = Architecture.forName(c.architecture()).qkNorm();
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            String b = "blk." + i + ".";
            layers[i] = new LayerWeights(
                    vector(f, b + "attn_norm.weight", c.dim()),
                    matrix(f, b + "attn_q.weight", c.qDim(), c.dim()),
                    matrix(f, b + "attn_k.weight", c.kvDim(), c.dim()),
                    matrix(f, b + "attn_v.weight", c.kvDim(), c.dim()),
                    matrix(f, b + "attn_output.weight", c.dim(), c.qDim()),
                    c.qkvBias() ? vector(f, b + "attn_q.bias", c.qDim()) : null,
                    c.qkvBias() ? vector(f, b + "attn_k.bias", c.kvDim()) : null,
                    c.qkvBias() ? vector(f, b + "attn_v.bias", c.kvDim()) : null,
                    qkNorm ? vector(f, b + "attn_q_norm.weight", c.headDim()) : null,
                    qkNorm ? vector(f, b + "attn_k_norm.weight", c.headDim()) : null,
                    vector(f, b + "ffn_norm.weight", c.dim()),
                    matrix(f, b + "ffn_gate.weight", c.ffnDim(), c.dim()),
                    matrix(f, b + "ffn_up.weight", c.ffnDim(), c.dim()),
                    matrix(f, b + "ffn_down.weight", c.dim(), c.ffnDim()));
        }
        Tensor embedding = matrix(f, "token_embd.weight", c.vocab(), c.dim());
        Tensor output = c.tiedOutput() ? embedding : matrix(f, "output.weight", c.vocab(), c.dim());
        float[] freqFactors = f.hasTensor("rope_freqs.weight") ? vector(f, "rope_freqs.weight", c.ropeDims() / 2) : null;
        return new ModelWeights(embedding, layers, vector(f, "output_norm.weight", c.dim()), output, freqFactors);
    }

    private static Tensor matrix(GGUFFile f, String name, int rows, int cols) {
        GGUFTensorInfo info = f.tensor(name);
        if (info.rows() != rows || info.rowLength() != cols) {
            throw new GGUFException(f.path(), "tensor '" + name + "' is " + info.rowLength() + "x" + info.rows()
                    + ", expected " + cols + "x" + rows);
        }
        return Tensor.of(f, info);
    }

    private static float[] vector(GGUFFile f, String name, int length) {
        GGUFTensorInfo info = f.tensor(name);
        if (info.elementCount() != length) {
            throw new GGUFException(f.path(), "tensor '" + name + "' has " + info.elementCount() + " values, expected " + length);
        }
        return Tensor.of(f, info).toFloats();
    }
}
