package dev.tern.sampling;

import dev.tern.sampling.JsonSchema.Any;
import dev.tern.sampling.JsonSchema.ArrayOf;
import dev.tern.sampling.JsonSchema.BooleanValue;
import dev.tern.sampling.JsonSchema.Bounds;
import dev.tern.sampling.JsonSchema.Literals;
import dev.tern.sampling.JsonSchema.Node;
import dev.tern.sampling.JsonSchema.NullValue;
import dev.tern.sampling.JsonSchema.NumberValue;
import dev.tern.sampling.JsonSchema.ObjectOf;
import dev.tern.sampling.JsonSchema.Property;
import dev.tern.sampling.JsonSchema.StringValue;
import dev.tern.sampling.JsonSchema.Union;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * One reading of a JSON value (RFC 8259) of a {@link JsonSchema}, byte by byte: where a schema's
 * alternatives start alike, {@link JsonGrammar} follows one cursor per alternative. The state is
 * a few fields and a stack of open containers with their schemas; {@link #copyFrom} makes trying
 * a token cheap. Between
 * tokens the whitespace is llama.cpp's JSON grammar's: nothing, one space, or a newline and at
 * most {@link #MAX_INDENT} spaces or tabs, so a model that is refused its words cannot pad
 * forever; nesting is bounded by {@link #MAX_DEPTH}. Strings must be well-formed UTF-8 without
 * control characters; object keys are matched byte for byte against the schema's names.
 */
final class JsonCursor {
    static final int MAX_INDENT = 20;
    static final int MAX_DEPTH = 64;
    private static final int MAX_KEY = 256;

    // What the next byte may be.
    private static final int KEY_OR_CLOSE = 1;     // after '{': a key or '}'
    private static final int KEY = 2;              // after ',' in an object
    private static final int COLON = 3;            // after a key
    private static final int VALUE = 4;            // a value of the schema `expected`
    private static final int VALUE_OR_CLOSE = 5;   // after '['
    private static final int AFTER_VALUE = 6;      // ',' or the closing bracket
    private static final int STRING = 7;
    private static final int ESCAPE = 8;           // after '\' in a string
    private static final int UNICODE = 9;          // hex digits of a \\u escape
    private static final int LITERAL = 10;         // an exact value: enum, const, true, false, null
    private static final int MINUS = 11;           // number: after '-'
    private static final int ZERO = 12;            // number: integer part "0"
    private static final int INTEGER = 13;         // number: integer digits after the first non-zero
    private static final int POINT = 14;           // number: after '.'
    private static final int FRACTION = 15;        // number: fraction digits
    private static final int EXPONENT = 16;        // number: after 'e' or 'E'
    private static final int EXPONENT_SIGN = 17;   // number: after the exponent's sign
    private static final int EXPONENT_DIGITS = 18; // number: exponent digits
    private static final int DONE = 19;            // the value is closed: nothing may follow

    private static final int NO_GAP = 0;
    private static final int SPACE = 1;
    private static final int NEWLINE = 2;

    private static final Node ANY_OBJECT = JsonSchema.ANY_OBJECT.root;
    private static final ArrayOf ANY_ARRAY = new ArrayOf(Any.INSTANCE, 0, Integer.MAX_VALUE);
    private static final Literals TRUE_FALSE = literals("true", "false");
    private static final Literals NULL = literals("null");
    private static final Literals ANY_LITERAL = literals("true", "false", "null");

    private int state = VALUE;
    private Node expected;
    private final Node[] containers = new Node[MAX_DEPTH];
    /** Per open container: the properties seen (a bit each) or the items so far. */
    private final long[] counts = new long[MAX_DEPTH];
    private int depth;
    private boolean key;        // the string being read is an object key
    private final byte[] keyBytes = new byte[MAX_KEY];
    private int keyLength;      // MAX_KEY + 1 once a key is too long to be a declared name
    private int pending;        // hex digits of a \\u escape, or UTF-8 continuation bytes, still due
    private NumberValue number; // the schema of the number being read
    private boolean negative;   // its sign
    private BigDecimal digits;  // a number with bounds: its digits so far, unsigned
    private int fractionDigits; // how many of them follow the point; -1 before it
    private boolean anyDigit;   // whether it has a digit yet
    private StringValue text;   // the schema of the string value being read
    private int characters;     // its characters so far
    private StringPattern pattern; // its pattern (null: none)
    private long[] matches = new long[0]; // the pattern's live states
    private long[] scratch = new long[0];
    private int unit;           // the character being read: its UTF-8 bytes or \\u digits so far
    private int least;          // the least code point its UTF-8 length encodes
    private Literals literal;   // the exact values being matched
    private long alive;         // which of them still match
    private int literalAt;      // their bytes matched so far
    private int gap;            // whitespace since the last token: NO_GAP, SPACE, or NEWLINE
    private int indent;         // spaces and tabs after the gap's newline

    /** Which of a byte's alternatives this cursor takes when a value starts with it. */
    int choice;
    /** How many alternatives the last byte had (0 or 1: no choice was made). */
    int alternatives;

    JsonCursor(JsonSchema schema) {
        expected = schema.root;
    }

    /**
     * Whether the bytes so far are one whole value. A number or an exact value at the top may
     * still go on ("1" of "12"); an object, array or string may not.
     */
    boolean complete() {
        if (state == DONE) {
            return true;
        }
        if (depth > 0) {
            return false;
        }
        return ((state == ZERO || state == INTEGER || state == FRACTION) && inBounds()) || state == EXPONENT_DIGITS
                || (state == LITERAL && literalEnds());
    }

    /** Whether it is inside a string value, where nearly every byte may come. */
    boolean inStringValue() {
        return (state == STRING || state == ESCAPE || state == UNICODE) && !key;
    }

    /** Whether the next byte may begin a value (or be whitespace before one). */
    boolean expectsValue() {
        return state == VALUE || state == VALUE_OR_CLOSE;
    }

    void copyFrom(JsonCursor o) {
        state = o.state;
        expected = o.expected;
        System.arraycopy(o.containers, 0, containers, 0, o.depth);
        System.arraycopy(o.counts, 0, counts, 0, o.depth);
        depth = o.depth;
        key = o.key;
        keyLength = o.keyLength;
        System.arraycopy(o.keyBytes, 0, keyBytes, 0, Math.min(o.keyLength, MAX_KEY));
        pending = o.pending;
        number = o.number;
        negative = o.negative;
        digits = o.digits;
        fractionDigits = o.fractionDigits;
        anyDigit = o.anyDigit;
        text = o.text;
        characters = o.characters;
        pattern = o.pattern;
        if (pattern != null) {
            reserve(pattern.words());
            System.arraycopy(o.matches, 0, matches, 0, pattern.words());
        }
        unit = o.unit;
        least = o.least;
        literal = o.literal;
        alive = o.alive;
        literalAt = o.literalAt;
        gap = o.gap;
        indent = o.indent;
    }

    /** Takes one byte (0..255); false if it cannot continue the value (the state is then spent). */
    boolean feed(int b) {
        switch (state) {
            case STRING:
                return string(b);
            case ESCAPE:
                if (b == 'u') {
                    state = UNICODE;
                    pending = 4;
                    unit = 0;
                    return keyByte(b);
                }
                state = STRING;
                int escaped = switch (b) {
                    case '"', '\\', '/' -> b;
                    case 'b' -> '\b';
                    case 'f' -> '\f';
                    case 'n' -> '\n';
                    case 'r' -> '\r';
                    case 't' -> '\t';
                    default -> -1;
                };
                return escaped >= 0 && keyByte(b) && character(escaped);
            case UNICODE:
                if (Character.digit(b, 16) < 0) {
                    return false;
                }
                unit = 16 * unit + Character.digit(b, 16);
                if (--pending == 0) {
                    state = STRING;
                    return keyByte(b) && character(unit);
                }
                // As for UTF-8: a digit after which no unit the pattern takes can follow is refused now.
                int lo = unit << 4 * pending;
                return keyByte(b) && patternTakes(lo, lo | (1 << 4 * pending) - 1);
            case LITERAL:
                return literal(b);
            case MINUS:
                return isDigit(b) && digit(b) && to(b == '0' ? ZERO : INTEGER);
            case ZERO:
                return !number.integer() && b == '.' ? point()
                        : !number.integer() && (b == 'e' || b == 'E') ? exponent() : afterNumber(b);
            case INTEGER:
                return isDigit(b) ? digit(b) : !number.integer() && b == '.' ? point()
                        : !number.integer() && (b == 'e' || b == 'E') ? exponent() : afterNumber(b);
            case POINT:
                return isDigit(b) && fractionDigit(b) && to(FRACTION);
            case FRACTION:
                return isDigit(b) ? fractionDigit(b) : b == 'e' || b == 'E' ? exponent() : afterNumber(b);
            case EXPONENT:
                return b == '+' || b == '-' ? to(EXPONENT_SIGN) : isDigit(b) && to(EXPONENT_DIGITS);
            case EXPONENT_SIGN:
                return isDigit(b) && to(EXPONENT_DIGITS);
            case EXPONENT_DIGITS:
                return isDigit(b) || afterNumber(b);
            default:
                return structural(b);
        }
    }

    /** A byte between tokens: whitespace, or what the state expects. */
    private boolean structural(int b) {
        if (state == DONE) {
            return false;
        }
        if (b == ' ' || b == '\n' || b == '\t' || b == '\r') {
            return whitespace(b);
        }
        gap = NO_GAP;
        switch (state) {
            case KEY_OR_CLOSE:
                return b == '"' ? startKey() : b == '}' && closeObject();
            case KEY:
                return b == '"' && startKey();
            case COLON:
                return b == ':' && to(VALUE);
            case VALUE_OR_CLOSE:
                return b == ']' ? closeArray() : ((ArrayOf) containers[depth - 1]).maxItems() > 0 && value(b, expected);
            case VALUE:
                return value(b, expected);
            case AFTER_VALUE:
                Node top = containers[depth - 1];
                if (top instanceof ObjectOf o) {
                    return b == ',' ? canTakeKey(o) && to(KEY) : b == '}' && closeObject();
                }
                ArrayOf a = (ArrayOf) top;
                if (b == ',') {
                    expected = a.items();
                    return counts[depth - 1] < a.maxItems() && to(VALUE);
                }
                return b == ']' && closeArray();
            default:
                throw new IllegalStateException("state " + state);
        }
    }

    /** The first byte of a value of schema {@code n}. */
    private boolean value(int b, Node n) {
        n = JsonSchema.resolve(n);
        switch (n) {
            case Any any:
                return switch (b) {
                    case '{' -> open(ANY_OBJECT);
                    case '[' -> open(ANY_ARRAY);
                    case '"' -> startString(StringValue.ANY);
                    case 't', 'f', 'n' -> startLiteral(ANY_LITERAL, b);
                    default -> startNumber(b, NumberValue.ANY);
                };
            case ObjectOf o:
                return b == '{' && open(o);
            case ArrayOf a:
                return b == '[' && open(a);
            case StringValue s:
                return b == '"' && startString(s);
            case NumberValue v:
                return startNumber(b, v);
            case BooleanValue v:
                return startLiteral(TRUE_FALSE, b);
            case NullValue v:
                return startLiteral(NULL, b);
            case Literals l:
                return startLiteral(l, b);
            case Union u:
                Node[] candidates = u.byFirstByte[b];
                if (candidates == null) {
                    return false;
                }
                alternatives = candidates.length;
                return value(b, candidates[candidates.length > 1 ? choice : 0]);
            default:
                throw new IllegalStateException("unresolved " + n);
        }
    }

    private boolean open(Node container) {
        if (depth == MAX_DEPTH) {
            return false;
        }
        containers[depth] = container;
        counts[depth++] = 0;
        if (container instanceof ArrayOf a) {
            expected = a.items();
            return to(VALUE_OR_CLOSE);
        }
        return to(KEY_OR_CLOSE);
    }

    private boolean closeArray() {
        ArrayOf a = (ArrayOf) containers[depth - 1];
        if (counts[depth - 1] < a.minItems()) {
            return false;
        }
        depth--;
        endValue();
        return true;
    }

    private boolean closeObject() {
        ObjectOf o = (ObjectOf) containers[depth - 1];
        if ((counts[depth - 1] & o.required()) != o.required()) {
            return false;
        }
        depth--;
        endValue();
        return true;
    }

    /** Whether another key may come: an extra one, or a declared property not yet seen (in order, if ordered). */
    private boolean canTakeKey(ObjectOf o) {
        if (o.additional() != null) {
            return true;
        }
        for (int i = 0; i < o.properties().size(); i++) {
            if (takable(o, i)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether declared property i may come next: not seen yet, and in an ordered object none after
     * it seen and every required one before it seen.
     */
    private boolean takable(ObjectOf o, int i) {
        long seen = counts[depth - 1];
        if ((seen & (1L << i)) != 0) {
            return false;
        }
        return !o.ordered() || ((seen >>> i) == 0 && (o.required() & ((1L << i) - 1) & ~seen) == 0);
    }

    private boolean startKey() {
        ObjectOf o = (ObjectOf) containers[depth - 1];
        if (!canTakeKey(o)) {
            return false;
        }
        key = true;
        keyLength = 0;
        pending = 0;
        return to(STRING);
    }

    private boolean startString(StringValue s) {
        key = false;
        pending = 0;
        text = s;
        characters = 0;
        pattern = s.pattern();
        if (pattern != null) {
            reserve(pattern.words());
            pattern.start(matches);
        }
        return to(STRING);
    }

    /** Room for a state set of {@code words} longs (cursors are pooled: grown once, reused). */
    private void reserve(int words) {
        if (matches.length < words) {
            matches = new long[words];
            scratch = new long[words];
        }
    }

    /** A whole character of a string value: its pattern must still match some way. */
    private boolean character(int c) {
        if (key || pattern == null) {
            return true;
        }
        boolean alive = pattern.step(matches, c, scratch);
        long[] t = matches;
        matches = scratch;
        scratch = t;
        return alive;
    }

    /** Whether the string's pattern (if any) takes some character in [lo, hi] next. */
    private boolean patternTakes(int lo, int hi) {
        return key || pattern == null || pattern.consumesAny(matches, lo, hi);
    }

    /** Whether the character begun can still be one the pattern (if any) takes. */
    private boolean canContinue() {
        return key || pattern == null ? Utf8.encodable(unit, pending, least) : pattern.canContinue(matches, unit, pending, least);
    }

    private boolean string(int b) {
        if (pending > 0) {
            // Inside a multi-byte UTF-8 character: only continuation bytes.
            pending--;
            unit = unit << 6 | (b & 0x3F);
            if ((b & 0xC0) != 0x80 || !keyByte(b)) {
                return false;
            }
            return pending > 0 ? canContinue() : Utf8.valid(unit, least) && character(unit);
        }
        if (b == '"') {
            if (key) {
                return endKey() && to(COLON);
            }
            if (characters < text.minLength() || (pattern != null && !pattern.accepts(matches))) {
                return false;
            }
            endValue();
            return true;
        }
        if (b < 0x20 || (!key && ++characters > text.maxLength())) {
            return false;
        }
        if (b == '\\') {
            // An escape writes one UTF-16 unit: refused where the pattern takes no more characters.
            return to(ESCAPE) && keyByte(b) && patternTakes(0, 0xFFFF);
        }
        if (b >= 0x80) {
            pending = Utf8.continuations(b);
            if (pending < 0) {
                pending = 0;
                return false;
            }
            unit = Utf8.leadBits(b, pending);
            least = Utf8.least(pending);
            return keyByte(b) && canContinue();
        }
        return keyByte(b) && character(b);
    }

    /** Records a byte of a key; with declared names only, refuses a key no unseen name starts with. */
    private boolean keyByte(int b) {
        if (!key) {
            return true;
        }
        ObjectOf o = (ObjectOf) containers[depth - 1];
        if (o.properties().isEmpty()) {
            return true;
        }
        if (keyLength < MAX_KEY) {
            keyBytes[keyLength] = (byte) b;
        }
        keyLength = Math.min(keyLength + 1, MAX_KEY + 1);
        return o.additional() != null || property(o, false, true) >= 0;
    }

    /** At a key's closing quote: the schema of its value, if the key may be here. */
    private boolean endKey() {
        ObjectOf o = (ObjectOf) containers[depth - 1];
        int i = property(o, true, true);
        if (i >= 0) {
            counts[depth - 1] |= 1L << i;
            expected = o.properties().get(i).schema();
            return true;
        }
        // Not an unseen property: an extra key, unless it repeats a declared one.
        if (o.additional() == null || property(o, true, false) >= 0) {
            return false;
        }
        expected = o.additional();
        return true;
    }

    /**
     * A property (only those not given yet, if {@code unseen}) whose name is the key so far
     * ({@code whole}) or starts with it; -1 if none.
     */
    private int property(ObjectOf o, boolean whole, boolean unseen) {
        if (keyLength > MAX_KEY) {
            return -1;
        }
        List<Property> props = o.properties();
        for (int i = 0; i < props.size(); i++) {
            byte[] name = props.get(i).name();
            if ((!unseen || takable(o, i)) && (whole ? name.length == keyLength : name.length >= keyLength)
                    && Arrays.equals(name, 0, keyLength, keyBytes, 0, keyLength)) {
                return i;
            }
        }
        return -1;
    }

    private boolean startNumber(int b, NumberValue n) {
        number = n;
        negative = b == '-';
        digits = BigDecimal.ZERO;
        fractionDigits = -1;
        anyDigit = false;
        if (negative) {
            // "-0" is zero: a minus may start any number when the minimum is at most 0.
            return (n.bounds() == null || reachable()) && to(MINUS);
        }
        return isDigit(b) && digit(b) && to(b == '0' ? ZERO : INTEGER);
    }

    /** Takes an integer digit; with bounds, refuses it when no number it can begin lies within them. */
    private boolean digit(int b) {
        if (number.bounds() == null) {
            return true;
        }
        digits = digits.movePointRight(1).add(BigDecimal.valueOf(b - '0'));
        anyDigit = true;
        return reachable();
    }

    /** The decimal point: with bounds, the numbers it leads to must meet them. */
    private boolean point() {
        fractionDigits = 0;
        return (number.bounds() == null || reachable()) && to(POINT);
    }

    /** An exponent, which a bounded number may not have (each digit is checked without one). */
    private boolean exponent() {
        return number.bounds() == null && to(EXPONENT);
    }

    private boolean fractionDigit(int b) {
        if (number.bounds() == null) {
            return true;
        }
        fractionDigits++;
        digits = digits.add(BigDecimal.valueOf(b - '0', fractionDigits));
        return reachable();
    }

    /**
     * With bounds: whether some number these digits begin meets them. After the point,
     * the digits so far D with f of them in the fraction lead to [D, D + 10^-f); before it, to
     * [D·10^k, (D+1)·10^k) for every k (only [0, 1) after a leading zero); a lone minus to any
     * negative number. A minus mirrors the intervals.
     */
    private boolean reachable() {
        Bounds d = number.bounds();
        if (fractionDigits >= 0) {
            return meets(digits, digits.add(BigDecimal.ONE.movePointLeft(fractionDigits)));
        }
        if (!anyDigit) {
            return meets(BigDecimal.ZERO, null);
        }
        if (digits.signum() == 0) {
            return meets(BigDecimal.ZERO, BigDecimal.ONE);
        }
        BigDecimal far = negative ? d.lower() : d.upper();
        if (far == null) {
            return true;
        }
        for (int k = 0; k < 40; k++) {
            BigDecimal lo = digits.movePointRight(k);
            if (meets(lo, digits.add(BigDecimal.ONE).movePointRight(k))) {
                return true;
            }
            if (lo.compareTo(far.abs()) > 0) {
                return false;
            }
        }
        return false;
    }

    /** Whether magnitudes in [lo, hi) (hi null: unbounded), with the number's sign, meet its bounds. */
    private boolean meets(BigDecimal lo, BigDecimal hi) {
        Bounds d = number.bounds();
        return negative ? d.meets(hi == null ? null : hi.negate(), true, lo.negate(), false) : d.meets(lo, false, hi, true);
    }

    private boolean inBounds() {
        if (number.bounds() == null) {
            return true;
        }
        BigDecimal v = negative ? digits.negate() : digits;
        return number.bounds().meets(v, false, v, false);
    }

    /** A number ends at the first byte that is not part of it; that byte then follows the value. */
    private boolean afterNumber(int b) {
        if (!inBounds()) {
            return false;
        }
        endValue();
        return structural(b);
    }

    private boolean startLiteral(Literals l, int b) {
        long m = 0;
        List<byte[]> values = l.values();
        for (int i = 0; i < values.size(); i++) {
            if ((values.get(i)[0] & 0xFF) == b) {
                m |= 1L << i;
            }
        }
        if (m == 0) {
            return false;
        }
        literal = l;
        alive = m;
        literalAt = 1;
        state = LITERAL;
        endLiteralIfWhole();
        return true;
    }

    private boolean literal(int b) {
        long next = 0;
        List<byte[]> values = literal.values();
        for (long m = alive; m != 0; m &= m - 1) {
            int i = Long.numberOfTrailingZeros(m);
            byte[] v = values.get(i);
            if (v.length > literalAt && (v[literalAt] & 0xFF) == b) {
                next |= 1L << i;
            }
        }
        if (next != 0) {
            alive = next;
            literalAt++;
            endLiteralIfWhole();
            return true;
        }
        // Like a number, a value that could have gone on ("1" of "12") ends at the first other byte.
        if (!literalEnds()) {
            return false;
        }
        endValue();
        return structural(b);
    }

    /** Ends the value once one matching literal is whole and none goes on. */
    private void endLiteralIfWhole() {
        for (long m = alive; m != 0; m &= m - 1) {
            if (literal.values().get(Long.numberOfTrailingZeros(m)).length > literalAt) {
                return;
            }
        }
        endValue();
    }

    /** Whether a matching literal is whole. */
    private boolean literalEnds() {
        for (long m = alive; m != 0; m &= m - 1) {
            if (literal.values().get(Long.numberOfTrailingZeros(m)).length == literalAt) {
                return true;
            }
        }
        return false;
    }

    private void endValue() {
        gap = NO_GAP;
        if (depth == 0) {
            state = DONE;
            return;
        }
        state = AFTER_VALUE;
        if (containers[depth - 1] instanceof ArrayOf) {
            counts[depth - 1]++;
        }
    }

    private boolean whitespace(int b) {
        switch (gap) {
            case NO_GAP:
                gap = b == ' ' ? SPACE : NEWLINE;
                indent = 0;
                return b == ' ' || b == '\n';
            case NEWLINE:
                return (b == ' ' || b == '\t') && ++indent <= MAX_INDENT;
            default:
                return false;
        }
    }

    private static Literals literals(String... values) {
        return new Literals(Arrays.stream(values).map(v -> v.getBytes(StandardCharsets.US_ASCII)).toList());
    }

    private boolean to(int next) {
        state = next;
        return true;
    }

    private static boolean isDigit(int b) {
        return b >= '0' && b <= '9';
    }
}
