package dev.tern.model;

import dev.tern.tensor.Tensor;

/**
 * One transformer block: attention (wq, wk, wv, wo; optional q/k/v biases and per-head q/k norm
 * weights, null when absent) and the SwiGLU feed-forward (gate, up, down). Matrices have one row
 * per output value.
 */
public record LayerWeights(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
                           float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
                           float[] ffnNorm, Tensor gate, Tensor up, Tensor down) {
}
