package dev.tern.model;

import dev.tern.tensor.Tensor;

/**
 * All weights of a model. {@code output} is the token embedding itself when the model ties
 * them. {@code ropeFreqFactors} (llama3 scaling: each rotation frequency divided by its factor)
 * is null when the model has none.
 */
public record ModelWeights(Tensor tokenEmbedding, LayerWeights[] layers, float[] outputNorm, Tensor output,
                           float[] ropeFreqFactors) {
}
