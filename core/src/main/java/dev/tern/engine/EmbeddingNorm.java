package dev.tern.engine;

import dev.tern.TernException;

/**
 * How a pooled embedding is scaled, as llama.cpp's {@code --embd-normalize} and llama-server's
 * {@code embd_normalize} number them: -1 not at all, 0 so that its largest magnitude is 32760 (for
 * int16), 2 to unit Euclidean length (the default), any other p &gt; 0 to unit p-norm (1: taxicab).
 */
public final class EmbeddingNorm {
    /** Unit Euclidean length. */
    public static final int EUCLIDEAN = 2;
    /** As pooled. */
    public static final int NONE = -1;

    private EmbeddingNorm() {
    }

    /** The largest p-norm: beyond it the powers of ordinary values overflow and the vector would come out as zeros. */
    public static final int MAX_P = 64;

    /** Throws a one-line TernException unless {@code norm} is from -1 to {@link #MAX_P}. */
    public static void check(int norm) {
        if (norm < NONE || norm > MAX_P) {
            throw new TernException("the embedding normalization must be -1 (none), 0 (int16), 1 (taxicab), 2 (Euclidean)"
                    + " or a p-norm up to " + MAX_P + ", got " + norm);
        }
    }

    /** {@code v} scaled as {@code norm} says; a zero vector stays zero. */
    public static float[] apply(double[] v, int norm) {
        check(norm);
        double sum = 0;
        if (norm == 0) {
            for (double x : v) {
                sum = Math.max(sum, Math.abs(x));
            }
            sum /= 32760.0;
        } else if (norm == EUCLIDEAN) {
            for (double x : v) {
                sum += x * x;
            }
            sum = Math.sqrt(sum);
        } else if (norm > 0) {
            for (double x : v) {
                sum += Math.pow(Math.abs(x), norm);
            }
            sum = Math.pow(sum, 1.0 / norm);
        }
        double scale = norm == NONE ? 1 : sum > 0 ? 1 / sum : 0;
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * scale);
        }
        return out;
    }
}
