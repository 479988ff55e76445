package dev.tern.sampling;

/**
 * llama.cpp's Mirostat samplers (1.0 and 2.0): each step truncates the candidates so that the
 * drawn token's surprise (−log₂ p) tracks the target τ, learning the bound μ from the error.
 * Version 1 estimates the distribution's Zipf exponent from its top 100 tokens and keeps the top
 * k that makes the expected surprise μ; version 2 keeps the tokens whose surprise is below μ.
 * Both start from μ = 2τ and draw with {@link Candidates#drawDiscrete}, as llama.cpp does.
 */
final class Mirostat {
    /** Tokens the first version's exponent estimate looks at (llama.cpp's m). */
    private static final int M = 100;
    private static final double LN_2 = Math.log(2);
    private final int version;
    private final float tau;
    private final float eta;
    private final int vocabSize;
    private float mu;

    Mirostat(int version, float tau, float eta, int vocabSize) {
        this.version = version;
        this.tau = tau;
        this.eta = eta;
        this.vocabSize = vocabSize;
        this.mu = 2f * tau;
    }

    /** Draws one of the candidates (already scaled by the temperature) and updates μ; returns its index. */
    int draw(Candidates c, Mt19937 rng) {
        c.sort();
        c.softmax();
        if (version == 1) {
            c.size = Math.min(c.size, Math.max(topK(c), 1));
        } else {
            int n = 0;
            while (n < c.size && !(surprise(c.probs[n]) > mu)) {
                n++;
            }
            c.size = Math.max(n, 1);
        }
        c.softmax();
        int i = c.drawDiscrete(rng);
        mu = mu - eta * (surprise(c.probs[i]) - tau);
        return i;
    }

    /** Version 1's k, in float as llama.cpp computes it; an out-of-range k converts as x86's cvttss2si does. */
    private int topK(Candidates c) {
        float sumTiBi = 0f;
        float sumTiSq = 0f;
        for (int i = 0; i < M - 1 && i < c.size - 1; i++) {
            float ti = (float) Math.log((float) (i + 2) / (float) (i + 1));
            float bi = (float) Math.log(c.probs[i] / c.probs[i + 1]);
            sumTiBi += ti * bi;
            sumTiSq += ti * ti;
        }
        float sHat = sumTiBi / sumTiSq;
        float epsilonHat = sHat - 1;
        float k = (float) Math.pow((epsilonHat * (float) Math.pow(2f, mu)) / (1 - (float) Math.pow(vocabSize, -epsilonHat)), 1 / sHat);
        return Float.isNaN(k) || k >= 0x1p31f || k < -0x1p31f ? Integer.MIN_VALUE : (int) k;
    }

    private static float surprise(float p) {
        return -(float) (Math.log(p) / LN_2);
    }
}
