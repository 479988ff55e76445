package dev.tern.engine;

/**
 * How code completion ends a generation at a line, as llama-server's {@code n_indent} and
 * {@code t_max_predict_ms} do: editors ask for the rest of a block and a bounded wait, not a fixed
 * number of tokens.
 *
 * @param minIndent        after the first line, a line indented by fewer spaces or tabs ends the text
 *                         where its first other character would be; 0: no limit
 * @param maxPredictMillis once generating has taken longer than this, the next newline ends the text
 *                         (kept); 0: no limit
 */
public record LineLimits(int minIndent, long maxPredictMillis) {
    public static final LineLimits NONE = new LineLimits(0, 0);

    public LineLimits {
        if (minIndent < 0 || maxPredictMillis < 0) {
            throw new IllegalArgumentException("line limits must not be negative: " + minIndent + ", " + maxPredictMillis);
        }
    }

    boolean any() {
        return minIndent > 0 || maxPredictMillis > 0;
    }
}
