package dev.tern.sampling;

/**
 * A repetition operator of a pattern or a grammar: {@code *}, {@code +}, {@code ?}, {@code {m}},
 * {@code {m,}} or {@code {m,n}}.
 *
 * @param min least repetitions
 * @param max most, or -1 for no limit
 * @param end where the text after the operator starts
 */
record Quantifier(int min, int max, int end) {
    /**
     * The operator at {@code src[at]}, or null where none starts there (a brace with anything else
     * inside is not one); {@code spaces}: blanks inside the braces are allowed (GBNF), not (ECMA-262).
     */
    static Quantifier at(String src, int at, boolean spaces) {
        char c = src.charAt(at);
        if (c == '*' || c == '+' || c == '?') {
            return new Quantifier(c == '+' ? 1 : 0, c == '?' ? 1 : -1, at + 1);
        }
        int close = c == '{' ? src.indexOf('}', at) : -1;
        String body = close < 0 ? "" : src.substring(at + 1, close);
        if (spaces) {
            body = body.replace(" ", "");
        }
        if (!body.matches("\\d{1,6}(,\\d{0,6})?")) {
            return null;
        }
        String[] bounds = body.split(",", -1);
        int min = Integer.parseInt(bounds[0]);
        int max = bounds.length == 1 ? min : bounds[1].isEmpty() ? -1 : Integer.parseInt(bounds[1]);
        return new Quantifier(min, max, close + 1);
    }

    /** Whether the counts are in order and none exceeds {@code limit}. */
    boolean within(int limit) {
        return (max < 0 || max >= min) && Math.max(min, max) <= limit;
    }

    /** The operator as written in braces, for messages. */
    String braces() {
        return "{" + min + (max == min ? "" : "," + (max < 0 ? "" : max)) + "}";
    }
}
