package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.SamplerStage;
import dev.tern.sampling.SamplerConfig;
import dev.tern.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sampling flags, with llama.cpp's defaults. */
final class SamplingOptions {
    private static final SamplerConfig D = SamplerConfig.defaults();
    private static final AdvancedSampling A = AdvancedSampling.NONE;
    private static final DrySampling DRY = DrySampling.NONE;
    private static final Pattern BIAS = Pattern.compile("([0-9]+)([+-])(.+)");

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

    @Option(names = {"-l", "--logit-bias"}, paramLabel = "TOKEN_ID(+/-)BIAS", description = "Add BIAS to the token's logit,"
            + " as llama.cpp's: 15043+1 makes ' Hello' likelier, 15043-inf bans it (repeatable)")
    List<String> logitBias = List.of();

    @Option(names = "--ignore-eos", description = "Never sample an end-of-generation token: generate until -n or the"
            + " context's end (as llama.cpp's: a logit bias of -inf on them)")
    boolean ignoreEos;

    SamplerConfig config(Tokenizer tokenizer) {
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s, biases(tokenizer)).withAdvanced(new AdvancedSampling(typicalP, topNSigma, xtcProbability, xtcThreshold,
                dynatempRange, dynatempExponent, mirostat, mirostatTau, mirostatEta,
                new DrySampling(dryMultiplier, dryBase, dryAllowedLength, dryPenaltyLastN, breakers()), minKeep, order(),
                adaptiveTarget, adaptiveDecay));
    }

    /** The --logit-bias entries by token id (a later one for the same token wins), and --ignore-eos's bans. */
    private Map<Integer, Float> biases(Tokenizer tokenizer) {
        Map<Integer, Float> out = new HashMap<>();
        for (String entry : logitBias) {
            Matcher m = BIAS.matcher(entry);
            if (!m.matches()) {
                throw new TernException("--logit-bias takes TOKEN_ID+BIAS or TOKEN_ID-BIAS (such as 15043+1 or 15043-inf), got '"
                        + entry + "'");
            }
            int token;
            try {
                token = Integer.parseInt(m.group(1));
            } catch (NumberFormatException e) {
                token = -1;
            }
            if (token < 0 || token >= tokenizer.vocabSize()) {
                throw new TernException("--logit-bias " + entry + ": token id out of the vocabulary (0.." + (tokenizer.vocabSize() - 1) + ")");
            }
            out.put(token, bias(entry, m.group(2).equals("-"), m.group(3)));
        }
        if (ignoreEos) {
            for (int t : tokenizer.endOfGenerationIds()) {
                out.put(t, SamplerConfig.NEVER);
            }
        }
        return out;
    }

    private static float bias(String entry, boolean negative, String value) {
        if (value.equalsIgnoreCase("inf")) {
            if (negative) {
                return SamplerConfig.NEVER;
            }
            throw new TernException("--logit-bias " + entry + ": +inf would make the other tokens impossible; give a number");
        }
        float v;
        try {
            v = Float.parseFloat(value);
        } catch (NumberFormatException e) {
            throw new TernException("--logit-bias " + entry + ": '" + value + "' is not a number");
        }
        if (!Float.isFinite(v)) {
            throw new TernException("--logit-bias " + entry + ": the bias must be a finite number or -inf");
        }
        return negative ? -v : v;
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
