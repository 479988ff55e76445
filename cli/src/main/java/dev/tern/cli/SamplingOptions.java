package dev.tern.cli;

import dev.tern.sampling.SamplerConfig;
import picocli.CommandLine.Option;

/** Sampling flags, with llama.cpp's defaults. */
final class SamplingOptions {
    private static final SamplerConfig D = SamplerConfig.defaults();

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

    @Option(names = {"-s", "--seed"}, description = "Seed of the draws, as llama.cpp's: the same seed draws the tokens"
            + " llama.cpp draws where the logits agree (default: random)")
    Long seed;

    SamplerConfig config() {
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s);
    }
}
