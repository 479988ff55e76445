package dev.tern.sampling;

import dev.tern.TernException;

import java.util.List;

/**
 * llama.cpp's DRY ("don't repeat yourself") penalty: a token that would extend a sequence already
 * seen in the last {@code penaltyLastN} tokens, longer than {@code allowedLength}, has
 * {@code multiplier · base^(length − allowedLength)} taken off its logit. A sequence breaker (a
 * string; the tokens that contain it or begin it) stops a repetition from reaching back past it.
 *
 * @param multiplier    0 disables
 * @param base          below 1 disables
 * @param allowedLength repetitions up to this length go free
 * @param penaltyLastN  how many recent tokens are searched; 0 disables
 * @param breakers      the sequence breakers (llama.cpp's default: newline, colon, quote, asterisk)
 */
public record DrySampling(float multiplier, float base, int allowedLength, int penaltyLastN, List<String> breakers) {

    /** llama.cpp's defaults, off (multiplier 0). */
    public static final DrySampling NONE = new DrySampling(0f, 1.75f, 2, 64, List.of("\n", ":", "\"", "*"));

    public DrySampling {
        if (!(multiplier >= 0f) || Float.isInfinite(multiplier) || !Float.isFinite(base)) {
            throw new TernException("DRY multiplier must be finite and non-negative and its base finite, got "
                    + multiplier + " and " + base);
        }
        if (allowedLength < 0 || penaltyLastN < 0) {
            throw new TernException("DRY allowed length and last-n must be non-negative, got " + allowedLength + " and " + penaltyLastN);
        }
        breakers = List.copyOf(breakers);
    }

    /** Whether it changes anything, as llama.cpp decides. */
    boolean on() {
        return multiplier != 0f && base >= 1f && penaltyLastN != 0;
    }
}
