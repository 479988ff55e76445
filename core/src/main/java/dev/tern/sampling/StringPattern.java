package dev.tern.sampling;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A JSON Schema {@code pattern} (an ECMA-262 regular expression) compiled to a nondeterministic
 * automaton over code points, which a {@link JsonCursor} runs character by character as a set of
 * states: a character that leaves no state alive is refused, and a string may close only in an
 * accepting state. Like JSON Schema, an unanchored pattern matches anywhere in the string.
 *
 * <p>The subset: literals, {@code .}, classes {@code [...]} with ranges and negation, the escapes
 * {@code \d \D \w \W \s \S}, control and hex escapes, groups ({@code (...)}, {@code (?:...)},
 * {@code (?<name>...)}), alternation, the quantifiers {@code * + ? {n} {n,} {n,m}} (lazy ones
 * too: the language is the same), and {@code ^}/{@code $} at the ends. Lookaround,
 * back-references and word boundaries are refused.
 */
final class StringPattern {
    /** Automata larger than this are refused: repetition counts multiply states. */
    static final int MAX_STATES = 4096;
    private static final int MAX_CODE_POINT = Character.MAX_CODE_POINT;
    /** Any code point: what an unanchored end may have around the match. */
    private static final int[] ANY = {0, MAX_CODE_POINT};

    /** Per state: the code point ranges it consumes (sorted pairs), or null for a state with only empty moves. */
    private final int[][] ranges;
    /** Per state: where consuming leads, or its empty moves (-1: none). */
    private final int[] next1, next2;
    private final int accept;
    private final long[] initial;
    /**
     * Per consuming state: the states its move and the empty moves after reach, as a set, so that
     * a step ORs sets instead of walking the automaton (and allocates nothing: masking a
     * vocabulary steps hundreds of thousands of times).
     */
    private final long[][] after;

    private StringPattern(int[][] ranges, int[] next1, int[] next2, int start, int accept) {
        this.ranges = ranges;
        this.next1 = next1;
        this.next2 = next2;
        this.accept = accept;
        this.initial = new long[words()];
        int[] stack = new int[2 * ranges.length + 1];
        close(start, initial, stack);
        this.after = new long[ranges.length][];
        for (int s = 0; s < ranges.length; s++) {
            if (ranges[s] != null) {
                after[s] = new long[words()];
                close(next1[s], after[s], stack);
            }
        }
    }

    /** Compiles a JSON Schema {@code pattern}; one it cannot enforce is a TernException saying why. */
    static StringPattern compile(String regex) {
        return new Parser(regex, "json schema: pattern '" + regex + "'").compile();
    }

    /** Compiles {@code regex} to match a whole text; errors name it as {@code what}. */
    static StringPattern whole(String regex, String what) {
        String body = regex.startsWith("^") ? regex.substring(1) : regex;
        if (body.endsWith("$") && !body.endsWith("\\$")) {
            body = body.substring(0, body.length() - 1);
        }
        return new Parser("^(?:" + body + ")$", what).compile();
    }

    /** JSON Schema's {@code format}s that are enforced, as patterns (others are annotations: JSON Schema does not require them). */
    static StringPattern format(String name) {
        return Formats.ALL.get(name);
    }

    /** The enforced formats, compiled once (an automaton is immutable; cursors keep their own state sets). */
    private static final class Formats {
        private static final String DATE = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
        private static final String TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
        private static final String OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
        static final Map<String, StringPattern> ALL = Map.of(
                "date", compile("^" + DATE + "$"),
                "time", compile("^" + TIME + "$"),
                "date-time", compile("^" + DATE + "[Tt]" + TIME + "$"),
                "uuid", compile("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
                "ipv4", compile("^" + OCTET + "(\\." + OCTET + "){3}$"),
                "email", compile("^[^@\\s\"]+@[^@\\s\"]+\\.[^@\\s\"]+$"));
    }

    /** Longs a state set needs. */
    int words() {
        return (ranges.length + 63) >>> 6;
    }

    /** Sets {@code set} to the states before any character. */
    void start(long[] set) {
        System.arraycopy(initial, 0, set, 0, initial.length);
    }

    /** {@code to} = the states {@code from} reaches by consuming code point c; whether any. */
    boolean step(long[] from, int c, long[] to) {
        int words = words();
        Arrays.fill(to, 0, words, 0);
        boolean any = false;
        for (int w = 0; w < words; w++) {
            for (long bits = from[w]; bits != 0; bits &= bits - 1) {
                int s = (w << 6) + Long.numberOfTrailingZeros(bits);
                if (ranges[s] != null && CodePointSet.contains(ranges[s], c)) {
                    long[] reach = after[s];
                    for (int i = 0; i < words; i++) {
                        to[i] |= reach[i];
                    }
                    any = true;
                }
            }
        }
        return any;
    }

    /**
     * Whether a character begun in UTF-8 ({@link Utf8}: {@code prefix} its bits so far,
     * {@code pending} continuation bytes due, at least {@code least}) can still be one some state
     * of {@code set} consumes.
     */
    boolean canContinue(long[] set, int prefix, int pending, int least) {
        return Utf8.encodable(prefix, pending, least) && consumesAny(set, Utf8.low(prefix, pending, least), Utf8.high(prefix, pending));
    }

    /** Whether some state of {@code set} consumes a code point in [lo, hi]. */
    boolean consumesAny(long[] set, int lo, int hi) {
        for (int w = 0; w < words(); w++) {
            for (long bits = set[w]; bits != 0; bits &= bits - 1) {
                int[] r = ranges[(w << 6) + Long.numberOfTrailingZeros(bits)];
                if (r != null && CodePointSet.intersects(r, lo, hi)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether the string read so far matches. */
    boolean accepts(long[] set) {
        return (set[accept >>> 6] & (1L << accept)) != 0;
    }

    /** Adds state s and every state its empty moves reach (a stack, not recursion: chains can be thousands long). */
    private void close(int s, long[] set, int[] stack) {
        int top = 0;
        stack[top++] = s;
        while (top > 0) {
            int t = stack[--top];
            if (t < 0 || (set[t >>> 6] & (1L << t)) != 0) {
                continue;
            }
            set[t >>> 6] |= 1L << t;
            if (ranges[t] == null) {
                stack[top++] = next2[t];
                stack[top++] = next1[t];
            }
        }
    }


    /** A parsed expression: characters of a class, a sequence, alternatives, or a repetition. */
    private sealed interface Expr {
    }

    private record Chars(int[] ranges) implements Expr {
    }

    private record Seq(List<Expr> parts) implements Expr {
    }

    private record Alt(List<Expr> options) implements Expr {
    }

    /** {@code max} -1: unbounded. */
    private record Repeat(Expr body, int min, int max) implements Expr {
    }

    /** Recursive descent over the pattern, then Thompson's construction. */
    private static final class Parser {
        private final String src;
        /** How errors name the pattern. */
        private final String what;
        private int at;
        private final List<int[]> ranges = new ArrayList<>();
        private final List<int[]> edges = new ArrayList<>();

        Parser(String src, String what) {
            this.src = src;
            this.what = what;
        }

        StringPattern compile() {
            boolean anchoredStart = src.startsWith("^");
            boolean anchoredEnd = src.endsWith("$") && !src.endsWith("\\$") && src.length() > (anchoredStart ? 1 : 0);
            int end = anchoredEnd ? src.length() - 1 : src.length();
            at = anchoredStart ? 1 : 0;
            Expr e = alternation(end);
            if (at != end) {
                throw refuse("unbalanced ')' at " + at);
            }
            if (e instanceof Alt && (anchoredStart || anchoredEnd)) {
                throw refuse("anchors around a top-level alternation (write ^(a|b)$)");
            }
            int start = state(null, -1, -1);
            int from = start;
            if (!anchoredStart) {
                from = loopAny(from);
            }
            from = build(e, from);
            if (!anchoredEnd) {
                from = loopAny(from);
            }
            int accept = state(null, -1, -1);
            link(from, accept);
            int n = ranges.size();
            int[] n1 = new int[n], n2 = new int[n];
            for (int i = 0; i < n; i++) {
                n1[i] = edges.get(i)[0];
                n2[i] = edges.get(i)[1];
            }
            return new StringPattern(ranges.toArray(new int[0][]), n1, n2, start, accept);
        }

        private TernException refuse(String why) {
            return new TernException(what + ": " + why + " is not supported");
        }

        private Expr alternation(int end) {
            List<Expr> options = new ArrayList<>();
            options.add(sequence(end));
            while (at < end && src.charAt(at) == '|') {
                at++;
                options.add(sequence(end));
            }
            return options.size() == 1 ? options.getFirst() : new Alt(options);
        }

        private Expr sequence(int end) {
            List<Expr> parts = new ArrayList<>();
            while (at < end && src.charAt(at) != '|' && src.charAt(at) != ')') {
                parts.add(quantified(atom(end), end));
            }
            return new Seq(parts);
        }

        private Expr quantified(Expr e, int end) {
            while (at < end) {
                Quantifier q = Quantifier.at(src, at, false);
                if (q == null || q.end() > end) {
                    return e;
                }
                if (!q.within(1000)) {
                    throw refuse("the repetition " + q.braces());
                }
                at = q.end();
                if (at < end && src.charAt(at) == '?') {
                    at++; // lazy: the same strings match
                }
                e = new Repeat(e, q.min(), q.max());
            }
            return e;
        }

        private Expr atom(int end) {
            char c = src.charAt(at++);
            switch (c) {
                case '(' -> {
                    if (src.startsWith("?:", at)) {
                        at += 2;
                    } else if (src.startsWith("?<", at) && !src.startsWith("?<=", at) && !src.startsWith("?<!", at)) {
                        at = src.indexOf('>', at) + 1;
                        if (at == 0) {
                            throw refuse("an unclosed group name");
                        }
                    } else if (src.startsWith("?", at)) {
                        throw refuse("lookaround '(" + src.substring(at, Math.min(src.length(), at + 2)) + "'");
                    }
                    Expr inner = alternation(end);
                    if (at >= end || src.charAt(at) != ')') {
                        throw refuse("an unclosed group");
                    }
                    at++;
                    return inner;
                }
                case '[' -> {
                    return new Chars(charClass(end));
                }
                case '.' -> {
                    return new Chars(CodePointSet.complement(new int[]{'\n', '\n', '\r', '\r', 0x2028, 0x2029}));
                }
                case '\\' -> {
                    return new Chars(escape(end, false));
                }
                case '^', '$' -> throw refuse("'" + c + "' inside the pattern");
                case '*', '+', '?', '{' -> {
                    if (c == '{') {
                        return new Chars(new int[]{c, c});
                    }
                    throw refuse("a quantifier with nothing before it at " + (at - 1));
                }
                default -> {
                    int cp = src.codePointAt(at - 1);
                    at += Character.charCount(cp) - 1;
                    return new Chars(new int[]{cp, cp});
                }
            }
        }

        /** After '[': the class up to its ']'. */
        private int[] charClass(int end) {
            boolean negated = at < end && src.charAt(at) == '^';
            if (negated) {
                at++;
            }
            List<int[]> parts = new ArrayList<>();
            boolean first = true;
            while (true) {
                if (at >= end) {
                    throw refuse("an unclosed '['");
                }
                char c = src.charAt(at);
                if (c == ']' && !first) {
                    at++;
                    break;
                }
                first = false;
                int[] lo = member(end);
                if (lo.length == 2 && lo[0] == lo[1] && at + 1 < end && src.charAt(at) == '-' && src.charAt(at + 1) != ']') {
                    at++;
                    int[] hi = member(end);
                    if (hi.length != 2 || hi[0] != hi[1] || hi[0] < lo[0]) {
                        throw refuse("the class range at " + at);
                    }
                    parts.add(new int[]{lo[0], hi[0]});
                } else {
                    parts.add(lo);
                }
            }
            int[] all = CodePointSet.union(parts);
            return negated ? CodePointSet.complement(all) : all;
        }

        /** One member of a class: a character or an escape (a single character as the range [c, c]). */
        private int[] member(int end) {
            char c = src.charAt(at++);
            if (c == '\\') {
                return escape(end, true);
            }
            int cp = src.codePointAt(at - 1);
            at += Character.charCount(cp) - 1;
            return new int[]{cp, cp};
        }

        /** After '\': the characters the escape stands for. */
        private int[] escape(int end, boolean inClass) {
            if (at >= end) {
                throw refuse("a trailing '\\'");
            }
            char c = src.charAt(at++);
            int[] digit = {'0', '9'};
            int[] word = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
            int[] space = {'\t', '\r', ' ', ' ', 0xA0, 0xA0, 0x1680, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x202F,
                    0x205F, 0x205F, 0x3000, 0x3000, 0xFEFF, 0xFEFF};
            return switch (c) {
                case 'd' -> digit;
                case 'D' -> CodePointSet.complement(digit);
                case 'w' -> word;
                case 'W' -> CodePointSet.complement(word);
                case 's' -> space;
                case 'S' -> CodePointSet.complement(space);
                case 'n' -> single('\n');
                case 'r' -> single('\r');
                case 't' -> single('\t');
                case 'f' -> single('\f');
                case 'v' -> single(0x0B);
                case '0' -> single(0);
                case 'b' -> {
                    if (inClass) {
                        yield single('\b');
                    }
                    throw refuse("a word boundary '\\b'");
                }
                case 'x', 'u' -> {
                    int digits = c == 'x' ? 2 : 4;
                    if (at + digits > end || !src.substring(at, at + digits).matches("[0-9A-Fa-f]+")) {
                        throw refuse("the escape '\\" + c + "' at " + at);
                    }
                    at += digits;
                    yield single(Integer.parseInt(src.substring(at - digits, at), 16));
                }
                default -> {
                    if (Character.isLetterOrDigit(c)) {
                        throw refuse("the escape '\\" + c + "'");
                    }
                    yield single(c);
                }
            };
        }

        private static int[] single(int c) {
            return new int[]{c, c};
        }

        /** A state; returns its index. */
        private int state(int[] consumes, int out1, int out2) {
            if (ranges.size() >= MAX_STATES) {
                throw refuse("an automaton of more than " + MAX_STATES + " states");
            }
            ranges.add(consumes);
            edges.add(new int[]{out1, out2});
            return ranges.size() - 1;
        }

        /** Adds an empty move from state s (which has a free slot) to t. */
        private void link(int s, int t) {
            int[] e = edges.get(s);
            if (e[0] < 0) {
                e[0] = t;
            } else {
                e[1] = t;
            }
        }

        /** Builds e after state {@code from}; returns the state with only empty moves the fragment ends in. */
        private int build(Expr e, int from) {
            switch (e) {
                case Chars ch -> {
                    int s = state(ch.ranges(), -1, -1);
                    link(from, s);
                    int out = state(null, -1, -1);
                    edges.get(s)[0] = out;
                    return out;
                }
                case Seq seq -> {
                    int cur = from;
                    for (Expr p : seq.parts()) {
                        cur = build(p, cur);
                    }
                    return cur;
                }
                case Alt alt -> {
                    int out = state(null, -1, -1);
                    int fork = entry(from);
                    for (int i = 0; i < alt.options().size(); i++) {
                        // A chain of two-way forks: each option's entry, then the rest.
                        int entry = state(null, -1, -1);
                        int rest = i + 1 < alt.options().size() ? state(null, -1, -1) : -1;
                        link(fork, entry);
                        if (rest >= 0) {
                            link(fork, rest);
                        }
                        link(build(alt.options().get(i), entry), out);
                        fork = rest;
                    }
                    return out;
                }
                case Repeat r -> {
                    int cur = from;
                    for (int i = 0; i < r.min(); i++) {
                        cur = build(r.body(), entry(cur));
                    }
                    if (r.max() < 0) {
                        // Zero or more further: a loop back over the body.
                        int loop = entry(cur);
                        int out = state(null, -1, -1);
                        int body = state(null, -1, -1);
                        link(loop, body);
                        link(loop, out);
                        link(build(r.body(), body), loop);
                        return out;
                    }
                    int out = state(null, -1, -1);
                    for (int i = r.min(); i < r.max(); i++) {
                        int fork = entry(cur);
                        int body = state(null, -1, -1);
                        link(fork, body);
                        link(fork, out);
                        cur = build(r.body(), body);
                    }
                    link(cur, out);
                    return out;
                }
            }
        }

        /** A fresh state after {@code s}, so that each fragment starts from a state with two free slots. */
        private int entry(int s) {
            int t = state(null, -1, -1);
            link(s, t);
            return t;
        }

        /** Any code points, any number of times, after state from. */
        private int loopAny(int from) {
            return build(new Repeat(new Chars(ANY), 0, -1), entry(from));
        }
    }
}
