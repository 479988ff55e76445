package dev.tern.engine;

/** One request's generated text read against its {@link LineLimits}, piece by piece. */
final class LineWatch {
    private final LineLimits limits;
    private long start;
    private boolean newline;
    private int indent;
    private boolean lineHasText;
    private boolean ended;

    LineWatch(LineLimits limits) {
        this.limits = limits;
    }

    /**
     * The part of {@code piece} that stays: all of it, or what comes before the first character of a
     * line indented less than the limit (then {@link #ended}). A piece with a newline after the time
     * limit stays whole and ends the text.
     */
    String accept(String piece) {
        if (start == 0) {
            start = System.nanoTime();
        }
        if (!limits.any() || ended) {
            return piece;
        }
        boolean newlineHere = false;
        for (int k = 0; k < piece.length(); k++) {
            char ch = piece.charAt(k);
            if (ch == '\n') {
                newline = true;
                newlineHere = true;
                indent = 0;
                lineHasText = false;
            } else if (newline && !lineHasText) {
                if (ch == ' ' || ch == '\t') {
                    indent++;
                } else {
                    lineHasText = true;
                    if (indent < limits.minIndent()) {
                        ended = true;
                        return piece.substring(0, k);
                    }
                }
            }
        }
        if (newlineHere && limits.maxPredictMillis() > 0 && System.nanoTime() - start > limits.maxPredictMillis() * 1_000_000) {
            ended = true;
        }
        return piece;
    }

    boolean ended() {
        return ended;
    }
}
