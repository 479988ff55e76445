package dev.tern.model;

import dev.tern.tensor.F32Format;
import dev.tern.tensor.Tensor;
import dev.tern.tensor.TensorFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Small random models built in memory, for tests. */
public final class TinyModel {
    private TinyModel() {
    }

    /** A config with the given shape; NEOX style turns on qkv biases as qwen2 has them. */
    public static ModelConfig config(int dim, int ffn, int layers, int heads, int kvHeads, int vocab, RopeStyle style,
                                     int ropeDims, float freqScale) {
        boolean qwen = style == RopeStyle.NEOX;
        return new ModelConfig(qwen ? "qwen2" : "llama", dim, ffn, layers, heads, kvHeads, dim / heads, vocab, 64,
                1e-5f, qwen ? 1_000_000f : 10_000f, ropeDims, style, freqScale, qwen, !qwen);
    }

    /** A Qwen3 shape: no biases, q/k norms, NEOX RoPE over whole heads of {@code headDim} (not dim / heads). */
    public static ModelConfig qwen3(int dim, int ffn, int layers, int heads, int kvHeads, int headDim, int vocab) {
        return new ModelConfig("qwen3", dim, ffn, layers, heads, kvHeads, headDim, vocab, 64, 1e-6f, 1_000_000f, headDim,
                RopeStyle.NEOX, 1f, false, true);
    }

    /** Random weights (uniform, scaled so activations stay moderate); llama3-style freq factors if asked. */
    public static Model random(ModelConfig c, long seed, boolean freqFactors) {
        return random(c, seed, freqFactors, F32Format.INSTANCE);
    }

    /** The same weights' matrices encoded in {@code format} (rows a multiple of its block). */
    public static Model random(ModelConfig c, long seed, boolean freqFactors, TensorFormat format) {
        Random r = new Random(seed);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            layers[l] = new LayerWeights(norm(r, c.dim()),
                    matrix(r, "wq", c.qDim(), c.dim(), format), matrix(r, "wk", c.kvDim(), c.dim(), format),
                    matrix(r, "wv", c.kvDim(), c.dim(), format), matrix(r, "wo", c.dim(), c.qDim(), format),
                    c.qkvBias() ? values(r, c.qDim(), 0.5f) : null,
                    c.qkvBias() ? values(r, c.kvDim(), 0.5f) : null,
                    c.qkvBias() ? values(r, c.kvDim(), 0.5f) : null,
                    c.architecture().equals("qwen3") ? norm(r, c.headDim()) : null,
                    c.architecture().equals("qwen3") ? norm(r, c.headDim()) : null,
                    norm(r, c.dim()),
                    matrix(r, "gate", c.ffnDim(), c.dim(), format), matrix(r, "up", c.ffnDim(), c.dim(), format),
                    matrix(r, "down", c.dim(), c.ffnDim(), format));
        }
        Tensor embedding = encoded(matrix(r, "embd", c.vocab(), c.dim(), 1f), format);
        Tensor output = c.tiedOutput() ? embedding : matrix(r, "output", c.vocab(), c.dim(), format);
        float[] factors = null;
        if (freqFactors) {
            factors = new float[c.ropeDims() / 2];
            for (int i = 0; i < factors.length; i++) {
                factors[i] = 1f + 7f * i / Math.max(1, factors.length - 1);
            }
        }
        return new Model(c, new ModelWeights(embedding, layers, norm(r, c.dim()), output, factors));
    }

    static float[] norm(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.5f + r.nextFloat();
        }
        return v;
    }

    static float[] values(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (2 * r.nextFloat() - 1) * scale;
        }
        return v;
    }

    static Tensor matrix(Random r, String name, int rows, int cols) {
        return matrix(r, name, rows, cols, (float) (1.5 / Math.sqrt(cols)));
    }

    private static Tensor matrix(Random r, String name, int rows, int cols, TensorFormat format) {
        return encoded(matrix(r, name, rows, cols), format);
    }

    /** An F32 tensor's values encoded in {@code format}: the tensor itself for F32. */
    private static Tensor encoded(Tensor f32, TensorFormat format) {
        if (format == F32Format.INSTANCE) {
            return f32;
        }
        int rows = f32.rows(), cols = f32.cols();
        float[] values = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            f32.dequantizeRow(i, values, i * cols);
        }
        MemorySegment s = Arena.ofAuto().allocate(rows * format.type().byteSize(cols), 64);
        format.quantize(values, 0, rows * cols, s, 0);
        return new Tensor(f32.name(), format, s, rows, cols);
    }

    static Tensor matrix(Random r, String name, int rows, int cols, float scale) {
        return f32(name, values(r, rows * cols, scale), rows, cols);
    }

    /** An F32 tensor over a copy of {@code data} (row-major, rows × cols). */
    public static Tensor f32(String name, float[] data, int rows, int cols) {
        MemorySegment s = Arena.ofAuto().allocate(4L * data.length, 64);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, data.length);
        return new Tensor(name, F32Format.INSTANCE, s, rows, cols);
    }
}
