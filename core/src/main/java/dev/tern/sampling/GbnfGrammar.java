package dev.tern.sampling;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A grammar in llama.cpp's GBNF (its {@code grammar} request field and {@code --grammar-file}):
 * rules {@code name ::= alternatives}, where an alternative is a sequence of string literals
 * ({@code "..."}), character classes ({@code [a-z]}, {@code [^"\\]}), {@code .} (any character),
 * rule names and parenthesised groups, each optionally repeated by {@code * + ?} or
 * {@code {m}}, {@code {m,}}, {@code {m,n}}; {@code #} starts a comment. The whole output must be
 * a text of rule {@code root}. Repetitions and groups become rules of their own (as llama.cpp
 * rewrites them); left recursion is refused, as llama.cpp refuses it.
 */
public final class GbnfGrammar implements Grammar {
    /** Most parses a recognizer follows at once: a grammar more ambiguous than this is refused while sampling. */
    static final int MAX_STACKS = 4096;
    private static final int MAX_REPEAT = 1000;

    /** One element of a sequence: characters (sorted code point ranges) or a rule. */
    sealed interface Element {
    }

    record Chars(int[] ranges) implements Element {
        boolean contains(int c) {
            return CodePointSet.contains(ranges, c);
        }

        boolean intersects(int lo, int hi) {
            return CodePointSet.intersects(ranges, lo, hi);
        }
    }

    record Ref(int rule) implements Element {
    }

    /** rules[r][a]: the elements of alternative a of rule r. */
    private final Element[][][] rules;
    private final int root;

    private GbnfGrammar(Element[][][] rules, int root) {
        this.rules = rules;
        this.root = root;
    }

    /** Parses GBNF text; a grammar that cannot be read or used is a TernException saying where. */
    public static GbnfGrammar parse(String text) {
        return new Parser(text).parse();
    }

    Element[][][] rules() {
        return rules;
    }

    int root() {
        return root;
    }

    private static final class Parser {
        private final String src;
        private int at;
        private final Map<String, Integer> ids = new HashMap<>();
        private final List<String> names = new ArrayList<>();
        private final List<List<Element[]>> rules = new ArrayList<>();

        Parser(String src) {
            this.src = src;
        }

        GbnfGrammar parse() {
            space();
            while (at < src.length()) {
                int start = at;
                String name = name();
                space();
                if (!src.startsWith("::=", at)) {
                    throw error("expected '::=' after rule name '" + name + "'");
                }
                at += 3;
                int id = id(name);
                if (rules.get(id) != null) {
                    throw error("rule '" + name + "' is defined twice", start);
                }
                rules.set(id, alternatives(false));
                space();
            }
            for (int r = 0; r < rules.size(); r++) {
                if (rules.get(r) == null) {
                    throw new TernException("grammar: rule '" + names.get(r) + "' is used but not defined");
                }
            }
            Integer root = ids.get("root");
            if (root == null) {
                throw new TernException("grammar: no rule 'root'");
            }
            Element[][][] compiled = new Element[rules.size()][][];
            for (int r = 0; r < compiled.length; r++) {
                compiled[r] = rules.get(r).toArray(new Element[0][]);
            }
            refuseLeftRecursion(compiled);
            return new GbnfGrammar(compiled, root);
        }

        private int id(String name) {
            return ids.computeIfAbsent(name, k -> {
                names.add(k);
                rules.add(null);
                return names.size() - 1;
            });
        }

        /** A new rule with these alternatives, for a group or a repetition. */
        private int helper(List<Element[]> alternatives) {
            int id = id("(" + names.size() + ")");
            rules.set(id, alternatives);
            return id;
        }

        private List<Element[]> alternatives(boolean nested) {
            List<Element[]> alts = new ArrayList<>();
            alts.add(sequence(nested));
            while (at < src.length() && src.charAt(at) == '|') {
                at++;
                alts.add(sequence(nested));
            }
            return alts;
        }

        private Element[] sequence(boolean nested) {
            List<Element> seq = new ArrayList<>();
            while (true) {
                space();
                if (at >= src.length() || src.charAt(at) == '|' || src.charAt(at) == ')' || (!nested && ruleStarts())) {
                    return seq.toArray(new Element[0]);
                }
                List<Element> unit = atom();
                seq.addAll(repeated(unit));
            }
        }

        /** Whether a new rule's definition starts here ({@code name ::=}). */
        private boolean ruleStarts() {
            int i = at;
            while (i < src.length() && wordChar(src.charAt(i))) {
                i++;
            }
            if (i == at) {
                return false;
            }
            while (i < src.length() && (src.charAt(i) == ' ' || src.charAt(i) == '\t' || src.charAt(i) == '\r' || src.charAt(i) == '\n')) {
                i++;
            }
            return src.startsWith("::=", i);
        }

        private List<Element> atom() {
            int start = at;
            char c = src.charAt(at);
            if (c == '"') {
                at++;
                List<Element> chars = new ArrayList<>();
                while (at < src.length() && src.charAt(at) != '"') {
                    int ch = character();
                    chars.add(new Chars(new int[]{ch, ch}));
                }
                expect('"', start, "an unclosed string literal");
                return chars;
            }
            if (c == '[') {
                at++;
                boolean negated = at < src.length() && src.charAt(at) == '^';
                if (negated) {
                    at++;
                }
                List<int[]> ranges = new ArrayList<>();
                while (at < src.length() && src.charAt(at) != ']') {
                    int lo = character(), hi = lo;
                    if (at + 1 < src.length() && src.charAt(at) == '-' && src.charAt(at + 1) != ']') {
                        at++;
                        hi = character();
                        if (hi < lo) {
                            throw error("a backwards range in a character class", start);
                        }
                    }
                    ranges.add(new int[]{lo, hi});
                }
                expect(']', start, "an unclosed character class");
                int[] set = CodePointSet.union(ranges);
                return List.of(new Chars(negated ? CodePointSet.complement(set) : set));
            }
            if (c == '.') {
                at++;
                return List.of(new Chars(new int[]{0, Character.MAX_CODE_POINT}));
            }
            if (c == '(') {
                at++;
                List<Element[]> alts = alternatives(true);
                space();
                expect(')', start, "an unclosed group");
                return List.of(new Ref(helper(alts)));
            }
            if (wordChar(c)) {
                return List.of(new Ref(id(name())));
            }
            throw error("unexpected '" + c + "'");
        }

        /** The unit with any repetition operators after it applied. */
        private List<Element> repeated(List<Element> unit) {
            while (at < src.length() && "*+?{".indexOf(src.charAt(at)) >= 0) {
                Quantifier q = Quantifier.at(src, at, true);
                if (q == null) {
                    throw error("a repetition must be {m}, {m,} or {m,n}");
                }
                if (!q.within(MAX_REPEAT)) {
                    throw error("the repetition " + q.braces());
                }
                at = q.end();
                unit = repeat(unit, q.min(), q.max());
            }
            return unit;
        }

        /** unit{min,max} (max -1: unbounded) as min copies, then a starred rule or nested optional ones. */
        private List<Element> repeat(List<Element> unit, int min, int max) {
            Element[] one = unit.toArray(new Element[0]);
            List<Element> out = new ArrayList<>();
            for (int i = 0; i < min; i++) {
                out.addAll(unit);
            }
            if (max < 0) {
                int star = id("(" + names.size() + ")");
                Element[] again = new Element[one.length + 1];
                System.arraycopy(one, 0, again, 0, one.length);
                again[one.length] = new Ref(star);
                rules.set(star, List.of(again, new Element[0]));
                out.add(new Ref(star));
            } else if (max > min) {
                // X{0,k} = X X{0,k-1} | ε: one way to read each count, so parses do not multiply.
                int inner = helper(List.of(one, new Element[0]));
                for (int k = 2; k <= max - min; k++) {
                    Element[] more = new Element[one.length + 1];
                    System.arraycopy(one, 0, more, 0, one.length);
                    more[one.length] = new Ref(inner);
                    inner = helper(List.of(more, new Element[0]));
                }
                out.add(new Ref(inner));
            }
            return out;
        }

        private String name() {
            int start = at;
            while (at < src.length() && wordChar(src.charAt(at))) {
                at++;
            }
            if (at == start) {
                throw error("expected a rule name");
            }
            return src.substring(start, at);
        }

        private static boolean wordChar(char c) {
            return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_';
        }

        /** One character of a literal or class: itself, or an escape. */
        private int character() {
            if (at >= src.length()) {
                throw error("unexpected end");
            }
            int c = src.codePointAt(at);
            at += Character.charCount(c);
            if (c != '\\') {
                return c;
            }
            if (at >= src.length()) {
                throw error("an escape at the end");
            }
            char e = src.charAt(at++);
            return switch (e) {
                case 'n' -> '\n';
                case 'r' -> '\r';
                case 't' -> '\t';
                case 'x' -> hex(2);
                case 'u' -> hex(4);
                case 'U' -> hex(8);
                default -> e;
            };
        }

        private int hex(int digits) {
            if (at + digits > src.length()) {
                throw error("a short hex escape");
            }
            try {
                int c = Integer.parseInt(src.substring(at, at + digits), 16);
                at += digits;
                if (c > Character.MAX_CODE_POINT) {
                    throw error("a code point past U+10FFFF");
                }
                return c;
            } catch (NumberFormatException e) {
                throw error("a bad hex escape");
            }
        }

        /** Skips blanks, newlines and comments. */
        private void space() {
            while (at < src.length()) {
                char c = src.charAt(at);
                if (c == '#') {
                    while (at < src.length() && src.charAt(at) != '\n') {
                        at++;
                    }
                } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                    at++;
                } else {
                    return;
                }
            }
        }

        private void expect(char c, int start, String what) {
            if (at >= src.length() || src.charAt(at) != c) {
                throw error(what, start);
            }
            at++;
        }

        private TernException error(String what) {
            return error(what, at);
        }

        private TernException error(String what, int where) {
            int line = 1, col = 1;
            for (int i = 0; i < where && i < src.length(); i++) {
                if (src.charAt(i) == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            return new TernException("grammar: " + what + " at line " + line + ", column " + col);
        }

        /**
         * A rule that can reach itself before reading a character would send the recognizer round
         * for ever: refused, naming the rule.
         */
        private void refuseLeftRecursion(Element[][][] compiled) {
            boolean[] nullable = new boolean[compiled.length];
            for (boolean changed = true; changed; ) {
                changed = false;
                for (int r = 0; r < compiled.length; r++) {
                    if (!nullable[r] && anyNullable(compiled[r], nullable)) {
                        nullable[r] = true;
                        changed = true;
                    }
                }
            }
            int[] state = new int[compiled.length];
            for (int r = 0; r < compiled.length; r++) {
                visit(r, compiled, nullable, state);
            }
        }

        private static boolean anyNullable(Element[][] alternatives, boolean[] nullable) {
            for (Element[] seq : alternatives) {
                boolean all = true;
                for (Element e : seq) {
                    all &= e instanceof Ref ref && nullable[ref.rule()];
                }
                if (all) {
                    return true;
                }
            }
            return false;
        }

        /** Depth-first over "may start with" edges; state 1 on the path, 2 done. */
        private void visit(int r, Element[][][] compiled, boolean[] nullable, int[] state) {
            if (state[r] == 2) {
                return;
            }
            if (state[r] == 1) {
                String name = names.get(r).startsWith("(") ? "a group or repetition" : "rule '" + names.get(r) + "'";
                throw new TernException("grammar: left recursion through " + name + " is not supported");
            }
            state[r] = 1;
            for (Element[] seq : compiled[r]) {
                for (Element e : seq) {
                    if (!(e instanceof Ref ref)) {
                        break;
                    }
                    visit(ref.rule(), compiled, nullable, state);
                    if (!nullable[ref.rule()]) {
                        break;
                    }
                }
            }
            state[r] = 2;
        }
    }
}
