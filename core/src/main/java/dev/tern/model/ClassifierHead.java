package dev.tern.model;

import dev.tern.gguf.GGUFException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.tensor.Tensor;

/**
 * llama.cpp's classification head for rank pooling ({@code <arch>.pooling_type} 4, rerankers):
 * on the pooled hidden state, an optional dense layer with tanh ({@code cls.weight},
 * {@code cls.bias}), then {@code cls.output.weight} (one row per class, {@code cls.output.bias}
 * optional). A Qwen3 reranker's two rows are its output matrix's rows for "yes" and "no", so a
 * softmax over them, as llama.cpp applies for Qwen3, makes the first output the probability of
 * "yes": the relevance score. Read as floats: a head is a few rows.
 */
public record ClassifierHead(float[][] dense, float[] denseBias, float[][] out, float[] outBias, boolean softmax) {
    /** llama.cpp's LLAMA_POOLING_TYPE_RANK. */
    public static final int RANK_POOLING = 4;

    /** The GGUF's head when it pools by rank, else null; a GGUFException when rank pooling has no head. */
    public static ClassifierHead read(GGUFFile f, ModelConfig c) {
        if (f.getInt(c.architecture() + ".pooling_type", 0) != RANK_POOLING) {
            return null;
        }
        if (!f.hasTensor("cls.output.weight") && !f.hasTensor("cls.weight")) {
            throw new GGUFException(f.path(), "rank pooling (a reranker) needs a classification head: no cls.output.weight");
        }
        float[][] dense = f.hasTensor("cls.weight") ? rows(f, "cls.weight", c.dim()) : null;
        int width = dense != null ? dense.length : c.dim();
        float[][] out = f.hasTensor("cls.output.weight") ? rows(f, "cls.output.weight", width) : null;
        float[] denseBias = dense != null ? bias(f, "cls.bias", dense.length) : null;
        float[] outBias = out != null ? bias(f, "cls.output.bias", out.length) : null;
        return new ClassifierHead(dense, denseBias, out, outBias, readsLastToken(c.architecture()));
    }

    /**
     * llama.cpp's rule for rank pooling: Qwen3's rerankers (qwen3, qwen3vl) read their last token's state and
     * take a softmax over the head's outputs; other models read their first token's, as they are.
     */
    static boolean readsLastToken(String architecture) {
        return architecture.startsWith("qwen3");
    }

    /** The head's outputs for a pooled hidden state, as llama.cpp computes them. */
    public float[] apply(float[] hidden) {
        float[] x = hidden;
        if (dense != null) {
            x = times(dense, denseBias, x);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) Math.tanh(x[i]);
            }
        }
        if (out != null) {
            x = times(out, outBias, x);
        }
        if (softmax) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : x) {
                max = Math.max(max, v);
            }
            double[] e = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                e[i] = Math.exp(x[i] - max);
                sum += e[i];
            }
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (e[i] / sum);
            }
        }
        return x;
    }

    private static float[] times(float[][] m, float[] bias, float[] x) {
        float[] y = new float[m.length];
        for (int r = 0; r < m.length; r++) {
            double s = bias != null ? bias[r] : 0;
            for (int i = 0; i < x.length; i++) {
                s += (double) m[r][i] * x[i];
            }
            y[r] = (float) s;
        }
        return y;
    }

    private static float[][] rows(GGUFFile f, String name, int cols) {
        GGUFTensorInfo info = f.tensor(name);
        if (info.rowLength() != cols) {
            throw new GGUFException(f.path(), "tensor '" + name + "' has rows of " + info.rowLength() + ", expected " + cols);
        }
        Tensor t = Tensor.of(f, info);
        float[][] rows = new float[Math.toIntExact(info.rows())][cols];
        for (int r = 0; r < rows.length; r++) {
            t.dequantizeRow(r, rows[r], 0);
        }
        return rows;
    }

    private static float[] bias(GGUFFile f, String name, int n) {
        if (!f.hasTensor(name)) {
            return null;
        }
        GGUFTensorInfo info = f.tensor(name);
        if (info.elementCount() != n) {
            throw new GGUFException(f.path(), "tensor '" + name + "' has " + info.elementCount() + " values, expected " + n);
        }
        return Tensor.of(f, info).toFloats();
    }
}
