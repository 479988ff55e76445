package dev.tern.spec;

import java.util.SplittableRandom;

/**
 * The speculative sampling rule (Leviathan et al. 2023, Chen et al. 2023): a token {@code d}
 * drawn from the draft distribution q is kept with probability min(1, p[d]/q[d]); otherwise a
 * token is drawn from normalize(max(0, p − q)). Whatever q is, the token returned is distributed
 * exactly as p, so speculation does not change what the target would have sampled.
 */
public final class SpeculativeSampling {
    private SpeculativeSampling() {
    }

    /**
     * Verifies draft token {@code d} against the target distribution {@code p}. {@code q} is the
     * distribution {@code d} was drawn from; null means the proposal was deterministic (q one-hot
     * at d, as for prompt lookup). Returns {@code d} when accepted, else the replacement token.
     */
    public static int verify(float[] p, float[] q, int d, SplittableRandom rng) {
        double qd = q == null ? 1.0 : q[d];
        // qd == 0 cannot happen for a token drawn from q; treating it as "accept when p allows" keeps the rule total.
        double acceptance = qd <= 0 ? (p[d] > 0 ? 1.0 : 0.0) : Math.min(1.0, p[d] / qd);
        if (rng.nextDouble() < acceptance) {
            return d;
        }
        return drawResidual(p, q, d, rng);
    }

    /** A draw from normalize(max(0, p − q)), falling back to p when that mass is zero (p == q up to rounding). */
    static int drawResidual(float[] p, float[] q, int d, SplittableRandom rng) {
        double total = 0;
        for (int i = 0; i < p.length; i++) {
            total += residual(p, q, d, i);
        }
        if (!(total > 0)) {
            return draw(p, rng);
        }
        double u = rng.nextDouble() * total;
        double cum = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            double r = residual(p, q, d, i);
            if (r > 0) {
                cum += r;
                last = i;
                if (u < cum) {
                    return i;
                }
            }
        }
        return last; // rounding in the running sum
    }

    private static double residual(float[] p, float[] q, int d, int i) {
        double qi = q == null ? (i == d ? 1.0 : 0.0) : q[i];
        return Math.max(0.0, p[i] - qi);
    }

    /** A draw from {@code p} by inverse CDF; the last token with mass absorbs rounding in the sum. */
    public static int draw(float[] p, SplittableRandom rng) {
        double u = rng.nextDouble();
        double cum = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                cum += p[i];
                last = i;
                if (u < cum) {
                    return i;
                }
            }
        }
        if (last < 0) {
            throw new IllegalArgumentException("distribution has no mass");
        }
        return last;
    }
}
