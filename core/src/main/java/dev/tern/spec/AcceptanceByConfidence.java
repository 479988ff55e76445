package dev.tern.spec;

/**
 * The learned chance that the target accepts a drafted token, as a line in the draft's own
 * probability of it (its confidence). A draft's confidence is not that chance: stories260K drafting
 * for stories15M-distilled has its greedy guesses of confidence 0.2–0.3 taken 48% of the time and
 * those of 0.6–0.7 80% (1,600 positions of eight prompts: close to 0.35 + 0.65·confidence), so a
 * fixed floor on the confidence either stops at guesses worth making or keeps poor ones. The line
 * is fitted by least squares to the outcomes the target went on to produce, recent ones weighing
 * more, starting from that line. Counts per tenth of confidence, tried first, were
 * noisier within a run of a few hundred tokens and gained less (docs/PERFORMANCE.md).
 */
final class AcceptanceByConfidence {
    /** Weight of the earlier outcomes at each new one: about the last 100 count. */
    private static final double DECAY = 0.99;
    /**
     * The starting line, 0.35 + 0.65·confidence (the stories pair's), as its points at confidences 0.1
     * and 0.9, PRIOR outcomes each; they do not fade. Starting from chance = confidence made a fresh
     * 200-token run's first rounds short: 2.0–2.4 tokens a target pass against 2.1–2.6 with the floor.
     */
    private static final double[] START = {0.1, 0.9};
    private static final double START_AT_ZERO = 0.35;
    private static final double START_SLOPE = 0.65;
    private static final double PRIOR = 2;
    private static final double FLOOR = 0.01;

    /** Decayed sums over the outcomes: weight, confidence, confidence², accepted, accepted × confidence. */
    private double w;
    private double c1;
    private double c2;
    private double y1;
    private double yc;

    /** The estimated chance that a guess of this confidence is accepted. */
    double chance(float confidence) {
        double sw = w, sc = c1, scc = c2, sy = y1, syc = yc;
        for (double c : START) {
            double y = START_AT_ZERO + START_SLOPE * c;
            sw += PRIOR;
            sc += PRIOR * c;
            scc += PRIOR * c * c;
            sy += PRIOR * y;
            syc += PRIOR * y * c;
        }
        double meanC = sc / sw, meanY = sy / sw;
        double slope = (syc / sw - meanC * meanY) / (scc / sw - meanC * meanC);
        return Math.clamp(meanY + slope * (confidence - meanC), FLOOR, 1 - FLOOR);
    }

    /** Records whether a guess of this confidence was what the target produced. */
    void observe(float confidence, boolean wasAccepted) {
        double y = wasAccepted ? 1 : 0;
        w = DECAY * w + 1;
        c1 = DECAY * c1 + confidence;
        c2 = DECAY * c2 + (double) confidence * confidence;
        y1 = DECAY * y1 + y;
        yc = DECAY * yc + y * confidence;
    }
}
