package dev.tern.model;

import dev.tern.TernException;

/**
 * A decoder's hyper-parameters. {@code ropeDims} is how many leading dimensions of each head RoPE
 * rotates (usually all of them); {@code ropeFreqScale} multiplies every rotation angle (linear
 * RoPE scaling: 1/factor), which {@code yarn} mixes with the unscaled angle. Per-frequency llama3
 * factors live in {@link ModelWeights#ropeFreqFactors()} because GGUF files carry them as the
 * {@code rope_freqs.weight} tensor.
 */
public record ModelConfig(String architecture, int dim, int ffnDim, int layers, int heads, int kvHeads,
                          int headDim, int vocab, int contextLength, float rmsEps, float ropeTheta,
                          int ropeDims, RopeStyle ropeStyle, float ropeFreqScale, boolean qkvBias,
                          boolean tiedOutput, YarnScaling yarn) {

    /** Without YaRN. */
    public ModelConfig(String architecture, int dim, int ffnDim, int layers, int heads, int kvHeads,
                       int headDim, int vocab, int contextLength, float rmsEps, float ropeTheta,
                       int ropeDims, RopeStyle ropeStyle, float ropeFreqScale, boolean qkvBias, boolean tiedOutput) {
        this(architecture, dim, ffnDim, layers, heads, kvHeads, headDim, vocab, contextLength, rmsEps, ropeTheta, ropeDims,
                ropeStyle, ropeFreqScale, qkvBias, tiedOutput, YarnScaling.NONE);
    }

    public ModelConfig {
        if (dim <= 0 || ffnDim <= 0 || layers < 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || vocab <= 0
                || contextLength <= 0) {
            throw new TernException(architecture + " model has an invalid shape: dim " + dim + ", ffn " + ffnDim
                    + ", layers " + layers + ", heads " + heads + "/" + kvHeads + ", head size " + headDim
                    + ", vocab " + vocab + ", context " + contextLength);
        }
        if (heads % kvHeads != 0) {
            throw new TernException(architecture + " model has " + heads + " heads, not a multiple of its " + kvHeads + " KV heads");
        }
        if (ropeDims <= 0 || ropeDims > headDim || ropeDims % 2 != 0) {
            throw new TernException(architecture + " model rotates " + ropeDims + " dimensions of heads of size " + headDim);
        }
    }

    /** Width of all query heads together. */
    public int qDim() {
        return heads * headDim;
    }

    /** Width of all key (or value) heads together: one row of the KV cache per layer. */
    public int kvDim() {
        return kvHeads * headDim;
    }

    /** A llama-style config: NORMAL RoPE over whole heads, no biases, no scaling. */
    public static ModelConfig llama(int dim, int ffnDim, int layers, int heads, int kvHeads, int vocab,
                                    int contextLength, float rmsEps, float ropeTheta, boolean tiedOutput) {
        int headDim = dim / heads;
        return new ModelConfig("llama", dim, ffnDim, layers, heads, kvHeads, headDim, vocab, contextLength, rmsEps,
                ropeTheta, headDim, RopeStyle.NORMAL, 1f, false, tiedOutput);
    }
}
