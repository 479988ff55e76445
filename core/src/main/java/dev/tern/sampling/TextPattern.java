package dev.tern.sampling;

import dev.tern.TernException;

import java.util.List;

/**
 * A regular expression the whole output must match (vLLM's {@code guided_regex} and
 * {@code guided_choice}), in {@link StringPattern}'s subset of ECMA-262 syntax: enforced code
 * point by code point on the decoded output, which may end only where the expression matches.
 */
public final class TextPattern implements Grammar {
    private final StringPattern pattern;

    private TextPattern(StringPattern pattern) {
        this.pattern = pattern;
    }

    /** The output matches {@code regex} whole (an anchor at either end changes nothing). */
    public static TextPattern regex(String regex) {
        return new TextPattern(StringPattern.whole(regex, "regex '" + regex + "'"));
    }

    /** The output is exactly one of {@code options}. */
    public static TextPattern choice(List<String> options) {
        if (options.isEmpty()) {
            throw new TernException("choice: needs at least one option");
        }
        StringBuilder alternatives = new StringBuilder();
        for (String option : options) {
            if (!alternatives.isEmpty()) {
                alternatives.append('|');
            }
            option.codePoints().forEach(c -> {
                if ("\\^$.|?*+()[]{}/".indexOf(c) >= 0) {
                    alternatives.append('\\');
                }
                alternatives.appendCodePoint(c);
            });
        }
        return new TextPattern(StringPattern.whole(alternatives.toString(), "choice"));
    }

    StringPattern pattern() {
        return pattern;
    }
}
