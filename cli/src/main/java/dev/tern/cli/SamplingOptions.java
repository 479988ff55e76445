package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.SamplerStage;
import dev.tern.sampling.SamplerConfig;
import picocli.CommandLine.Option;

import java.util.List;

/** Sampling flags, with llama.cpp's defaults. */
final class SamplingOptions {
    private static final SamplerConfig D = SamplerConfig.defaults();
    private static final AdvancedSampling A = AdvancedSampling.NONE;
    private static final DrySampling DRY = DrySampling.NONE;

    @Option(names = "--temp", description = "Temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature = D.temperature();

    @Option(names = "--top-k", description = "Top-k, 0 = off (default: ${DEFAULT-VALUE})")
    int topK = D.topK();

    @Option(names = "--top-p", description = "Top-p (nucleus), 1 = off (default: ${DEFAULT-VALUE})")
    float topP = D.topP();

    @Option(names = "--min-p", description = "Min-p, 0 = off (default: ${DEFAULT-VALUE})")
    float minP = D.minP();

    @Option(names = "--repeat-penalty", description = "Repetition penalty, 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty = D.repeatPenalty();

    @Option(names = "--repeat-last-n", description = "Tokens the penalties look back over (default: ${DEFAULT-VALUE})")
    int repeatLastN = D.repeatLastN();

    @Option(names = "--frequency-penalty", description = "Frequency penalty, 0 = off (default: ${DEFAULT-VALUE})")
    float frequencyPenalty = D.frequencyPenalty();

    @Option(names = "--presence-penalty", description = "Presence penalty, 0 = off (default: ${DEFAULT-VALUE})")
    float presencePenalty = D.presencePenalty();

    @Option(names = "--typical", description = "Locally typical sampling, 1 = off (default: ${DEFAULT-VALUE})")
    float typicalP = A.typicalP();

    @Option(names = "--top-nsigma", description = "Top-n-sigma: keep logits within n standard deviations of the largest,"
            + " <= 0 = off (default: ${DEFAULT-VALUE})")
    float topNSigma = A.topNSigma();

    @Option(names = "--xtc-probability", description = "XTC: chance of removing the top choices at a step, 0 = off"
            + " (default: ${DEFAULT-VALUE})")
    float xtcProbability = A.xtcProbability();

    @Option(names = "--xtc-threshold", description = "XTC: the probability from which a choice counts as top, > 0.5 = off"
            + " (default: ${DEFAULT-VALUE})")
    float xtcThreshold = A.xtcThreshold();

    @Option(names = "--dynatemp-range", description = "Dynamic temperature: temperature ± this by the candidates' entropy,"
            + " 0 = off (default: ${DEFAULT-VALUE})")
    float dynatempRange = A.dynatempRange();

    @Option(names = "--dynatemp-exp", description = "Dynamic temperature exponent (default: ${DEFAULT-VALUE})")
    float dynatempExponent = A.dynatempExponent();

    @Option(names = "--mirostat", description = "Mirostat: 0 = off, 1 = Mirostat, 2 = Mirostat 2.0; the chain is then"
            + " temperature and Mirostat alone, as llama.cpp's (default: ${DEFAULT-VALUE})")
    int mirostat = A.mirostat();

    @Option(names = "--mirostat-ent", description = "Mirostat target entropy, tau (default: ${DEFAULT-VALUE})")
    float mirostatTau = A.mirostatTau();

    @Option(names = "--mirostat-lr", description = "Mirostat learning rate, eta (default: ${DEFAULT-VALUE})")
    float mirostatEta = A.mirostatEta();

    @Option(names = "--adaptive-target", description = "adaptive-p: draw tokens near this probability, steering the average"
            + " of the chosen ones towards it; used when the chain lists adaptive_p (--samplers ...;adaptive_p), negative = off"
            + " (default: ${DEFAULT-VALUE})")
    float adaptiveTarget = A.adaptiveTarget();

    @Option(names = "--adaptive-decay", description = "adaptive-p: how slowly that average forgets, 0 to 0.99"
            + " (default: ${DEFAULT-VALUE})")
    float adaptiveDecay = A.adaptiveDecay();

    @Option(names = "--dry-multiplier", description = "DRY repetition penalty multiplier, 0 = off (default: ${DEFAULT-VALUE})")
    float dryMultiplier = DRY.multiplier();

    @Option(names = "--dry-base", description = "DRY penalty base (default: ${DEFAULT-VALUE})")
    float dryBase = DRY.base();

    @Option(names = "--dry-allowed-length", description = "DRY: repetitions up to this length go free (default: ${DEFAULT-VALUE})")
    int dryAllowedLength = DRY.allowedLength();

    @Option(names = "--dry-penalty-last-n", description = "DRY: tokens searched for repetitions, 0 = off (default: ${DEFAULT-VALUE})")
    int dryPenaltyLastN = DRY.penaltyLastN();

    @Option(names = "--dry-sequence-breaker", paramLabel = "STRING", description = "DRY sequence breaker, replacing the"
            + " defaults (newline, colon, quote, asterisk); repeatable; 'none' for none")
    List<String> dryBreakers;

    @Option(names = "--min-keep", description = "The fewest tokens top-p, min-p, typical-p and XTC leave, 0 = no floor"
            + " (default: ${DEFAULT-VALUE})")
    int minKeep = A.minKeep();

    @Option(names = "--samplers", paramLabel = "NAMES", description = "The chain's stages in order, ';'-separated, as"
            + " llama.cpp's (default: penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature); a stage left out"
            + " is off; adaptive_p draws last wherever it is listed")
    String samplers;

    @Option(names = "--sampling-seq", paramLabel = "LETTERS", description = "The same as letters, as llama.cpp's"
            + " (default: edskypmxt; a: adaptive-p)")
    String samplingSeq;

    @Option(names = {"-s", "--seed"}, description = "Seed of the draws, as llama.cpp's: the same seed draws the tokens"
            + " llama.cpp draws where the logits agree (default: random)")
    Long seed;

    SamplerConfig config() {
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s).withAdvanced(new AdvancedSampling(typicalP, topNSigma, xtcProbability, xtcThreshold,
                dynatempRange, dynatempExponent, mirostat, mirostatTau, mirostatEta,
                new DrySampling(dryMultiplier, dryBase, dryAllowedLength, dryPenaltyLastN, breakers()), minKeep, order(),
                adaptiveTarget, adaptiveDecay));
    }

    private List<SamplerStage> order() {
        if (samplers != null && samplingSeq != null) {
            throw new TernException("give --samplers or --sampling-seq, not both");
        }
        return samplers != null ? SamplerStage.parseNames(samplers)
                : samplingSeq != null ? SamplerStage.parseLetters(samplingSeq) : SamplerStage.DEFAULT;
    }

    /** llama.cpp's: given breakers replace the defaults, and 'none' leaves none. */
    private List<String> breakers() {
        if (dryBreakers == null) {
            return DRY.breakers();
        }
        return dryBreakers.stream().filter(b -> !b.equals("none")).toList();
    }
}
