package dev.tern.sampling;

import dev.tern.TernException;

import java.util.List;

/**
 * The rest of llama.cpp's common sampler chain, each off by default, with llama.cpp's meanings
 * and defaults (llama-cli's flags and llama-server's request fields of the same names).
 *
 * @param typicalP         locally typical sampling: keep the tokens whose surprise is closest to
 *                         the entropy until their mass exceeds p; {@code >= 1} disables
 * @param topNSigma        keep tokens whose logit is within n standard deviations of the largest;
 *                         {@code <= 0} disables
 * @param xtcProbability   chance of excluding the top choices at a step (XTC); 0 disables
 * @param xtcThreshold     XTC removes every token above this probability but the least likely of
 *                         them; above 0.5 disables
 * @param dynatempRange    dynamic temperature: the temperature moves within ± this range with the
 *                         entropy of the candidates; 0 disables
 * @param dynatempExponent how the normalised entropy maps onto that range (1: linearly)
 * @param mirostat         0 off, 1 Mirostat, 2 Mirostat 2.0: the chain is then temperature and
 *                         Mirostat only (no penalties, DRY or other filters), as in llama.cpp
 * @param mirostatTau      Mirostat's target surprise (entropy)
 * @param mirostatEta      Mirostat's learning rate
 * @param dry              the DRY repetition penalty
 * @param minKeep          the fewest tokens top-p, min-p, typical-p and XTC leave (0: no floor)
 * @param order            the chain's stages in order (llama.cpp's --samplers); a stage left out
 *                         is off, temperature's too (then no temperature applies, not even 0)
 * @param adaptiveTarget   adaptive-p (when {@link SamplerStage#ADAPTIVE_P} is in the order): draw
 *                         tokens whose probability is near this one, steering the moving average of
 *                         the chosen tokens' probabilities towards it (values above 1 act as 1);
 *                         negative: the plain draw
 * @param adaptiveDecay    how slowly that average forgets (llama.cpp clamps it to [0, 0.99])
 */
public record AdvancedSampling(float typicalP, float topNSigma, float xtcProbability, float xtcThreshold,
                               float dynatempRange, float dynatempExponent,
                               int mirostat, float mirostatTau, float mirostatEta, DrySampling dry,
                               int minKeep, List<SamplerStage> order, float adaptiveTarget, float adaptiveDecay) {

    /** Everything off, in llama.cpp's default order: the chain of top-k, top-p, min-p and temperature alone. */
    public static final AdvancedSampling NONE = new AdvancedSampling(1f, -1f, 0f, 0.1f, 0f, 1f, 0, 5f, 0.1f, DrySampling.NONE,
            0, SamplerStage.DEFAULT);

    /** Without adaptive-p's settings (its target off, llama.cpp's decay of 0.9). */
    public AdvancedSampling(float typicalP, float topNSigma, float xtcProbability, float xtcThreshold,
                            float dynatempRange, float dynatempExponent, int mirostat, float mirostatTau, float mirostatEta,
                            DrySampling dry, int minKeep, List<SamplerStage> order) {
        this(typicalP, topNSigma, xtcProbability, xtcThreshold, dynatempRange, dynatempExponent, mirostat, mirostatTau, mirostatEta,
                dry, minKeep, order, -1f, 0.9f);
    }

    public AdvancedSampling {
        if (!(typicalP >= 0f)) {
            throw new TernException("typical-p must be a non-negative number, got " + typicalP);
        }
        if (Float.isNaN(topNSigma) || Float.isInfinite(topNSigma)) {
            throw new TernException("top-n-sigma must be a finite number, got " + topNSigma);
        }
        if (!(xtcProbability >= 0f && xtcProbability <= 1f) || !(xtcThreshold >= 0f && xtcThreshold <= 1f)) {
            throw new TernException("XTC probability and threshold must be in [0, 1], got " + xtcProbability + " and " + xtcThreshold);
        }
        if (!(dynatempRange >= 0f) || Float.isInfinite(dynatempRange) || !(dynatempExponent >= 0f) || Float.isInfinite(dynatempExponent)) {
            throw new TernException("dynamic temperature range and exponent must be finite and non-negative, got "
                    + dynatempRange + " and " + dynatempExponent);
        }
        if (mirostat < 0 || mirostat > 2) {
            throw new TernException("mirostat must be 0 (off), 1 or 2, got " + mirostat);
        }
        if (!Float.isFinite(mirostatTau) || !Float.isFinite(mirostatEta)) {
            throw new TernException("mirostat tau and eta must be finite, got " + mirostatTau + " and " + mirostatEta);
        }
        if (dry == null) {
            throw new IllegalArgumentException("DRY settings are required (DrySampling.NONE: off)");
        }
        if (minKeep < 0) {
            throw new TernException("min-keep must be non-negative, got " + minKeep);
        }
        order = SamplerStage.distinct(order);
        if (!Float.isFinite(adaptiveTarget) || !Float.isFinite(adaptiveDecay)) {
            throw new TernException("adaptive-p target and decay must be finite, got " + adaptiveTarget + " and " + adaptiveDecay);
        }
        adaptiveDecay = Math.clamp(adaptiveDecay, 0f, 0.99f);
    }

    /** These settings with other DRY settings. */
    public AdvancedSampling withDry(DrySampling settings) {
        return new AdvancedSampling(typicalP, topNSigma, xtcProbability, xtcThreshold, dynatempRange, dynatempExponent,
                mirostat, mirostatTau, mirostatEta, settings, minKeep, order, adaptiveTarget, adaptiveDecay);
    }

    /** These settings with another floor and order. */
    public AdvancedSampling withChain(int keep, List<SamplerStage> stages) {
        return new AdvancedSampling(typicalP, topNSigma, xtcProbability, xtcThreshold, dynatempRange, dynatempExponent,
                mirostat, mirostatTau, mirostatEta, dry, keep, stages, adaptiveTarget, adaptiveDecay);
    }

    /** These settings with adaptive-p's target and decay (it draws only when the order lists it). */
    public AdvancedSampling withAdaptive(float target, float decay) {
        return new AdvancedSampling(typicalP, topNSigma, xtcProbability, xtcThreshold, dynatempRange, dynatempExponent,
                mirostat, mirostatTau, mirostatEta, dry, minKeep, order, target, decay);
    }

    /** Whether adaptive-p transforms the draw: listed in the order with a target, and no Mirostat in its place. */
    public boolean adaptiveOn() {
        return mirostat == 0 && adaptiveTarget >= 0f && order.contains(SamplerStage.ADAPTIVE_P);
    }

    /** Whether XTC can cut anything: a positive chance and a threshold that leaves a token standing. */
    boolean xtcOn() {
        return xtcProbability > 0f && xtcThreshold <= 0.5f;
    }
}
