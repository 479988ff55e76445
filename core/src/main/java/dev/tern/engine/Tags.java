package dev.tern.engine;

/** Markers (stop strings, tags) in text that is still being generated. */
public final class Tags {
    private Tags() {
    }

    /**
     * Length of the longest end of {@code text} past {@code from} that is a proper beginning of
     * {@code tag}: text to hold back, since the next tokens may complete the tag.
     */
    public static int partialAtEnd(CharSequence text, int from, String tag) {
        int n = text.length();
        for (int k = Math.min(tag.length() - 1, n - from); k > 0; k--) {
            boolean match = true;
            for (int j = 0; j < k && match; j++) {
                match = text.charAt(n - k + j) == tag.charAt(j);
            }
            if (match) {
                return k;
            }
        }
        return 0;
    }
}
