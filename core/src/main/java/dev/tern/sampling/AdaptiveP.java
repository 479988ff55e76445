package dev.tern.sampling;

/**
 * llama.cpp's adaptive-p draw: tokens whose probability is near a target are favoured, and the
 * target a step aims at moves so that the decaying average of the chosen tokens' probabilities
 * (before the transform) tends to the configured one. That average starts as if the target had
 * always been met, as llama.cpp primes it.
 */
final class AdaptiveP {
    private final float target;
    private final float decay;
    private final float[] before;
    private float weightedSum;
    private float totalWeight;
    private int pendingToken = -1;
    private float pendingProbability;

    AdaptiveP(float target, float decay, int vocabSize) {
        this.target = target;
        this.decay = decay;
        this.before = new float[vocabSize];
        this.weightedSum = target / (1f - decay);
        this.totalWeight = 1f / (1f - decay);
    }

    /** The target this step aims at: twice the configured one less the average so far, within [0, 1]. */
    float adaptedTarget() {
        float t = Math.clamp(target, 0f, 1f);
        return Math.clamp(totalWeight == 0f ? t : 2f * t - weightedSum / totalWeight, 0f, 1f);
    }

    /** Turns the chain's candidates into adaptive-p's scores for this step's draw. */
    void transform(Candidates cand) {
        cand.adaptiveP(adaptedTarget(), before);
    }

    /** Notes the candidate drawn from the transformed scores. */
    void drawn(Candidates cand, int index) {
        pendingToken = cand.ids[index];
        pendingProbability = before[index];
    }

    /** The token kept: when it is the one drawn, its probability before the transform joins the average. */
    void accept(int token) {
        if (token == pendingToken) {
            weightedSum = pendingProbability + decay * weightedSum;
            totalWeight = 1f + decay * totalWeight;
        }
        pendingToken = -1;
    }
}
