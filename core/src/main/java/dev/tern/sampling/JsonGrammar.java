package dev.tern.sampling;

/**
 * Recognises one JSON object (RFC 8259) byte by byte, so that a sampler can refuse every token
 * that could not continue one. The state is a few fields and a stack of open brackets;
 * {@link #copyFrom} makes trying a token cheap. Between tokens the whitespace is llama.cpp's JSON
 * grammar's: nothing, one space, or a newline and at most {@link #MAX_INDENT} spaces or tabs, so a
 * model that is refused its words cannot pad forever; nesting is bounded by {@link #MAX_DEPTH}.
 * Strings must be well-formed UTF-8 without control characters.
 */
final class JsonGrammar {
    static final int MAX_INDENT = 20;
    static final int MAX_DEPTH = 64;

    // What the next byte may be.
    private static final int START = 0;            // the opening '{' of the document
    private static final int KEY_OR_CLOSE = 1;     // after '{': a key or '}'
    private static final int KEY = 2;              // after ',' in an object
    private static final int COLON = 3;            // after a key
    private static final int VALUE = 4;            // after ':' or ',' in an array
    private static final int VALUE_OR_CLOSE = 5;   // after '['
    private static final int AFTER_VALUE = 6;      // ',' or the closing bracket
    private static final int STRING = 7;
    private static final int ESCAPE = 8;           // after '\' in a string
    private static final int UNICODE = 9;          // hex digits of a \\u escape
    private static final int LITERAL = 10;         // the rest of true, false or null
    private static final int MINUS = 11;           // number: after '-'
    private static final int ZERO = 12;            // number: integer part "0"
    private static final int INTEGER = 13;         // number: integer digits after the first non-zero
    private static final int POINT = 14;           // number: after '.'
    private static final int FRACTION = 15;        // number: fraction digits
    private static final int EXPONENT = 16;        // number: after 'e' or 'E'
    private static final int EXPONENT_SIGN = 17;   // number: after the exponent's sign
    private static final int EXPONENT_DIGITS = 18; // number: exponent digits
    private static final int DONE = 19;            // the object is closed: nothing may follow

    private static final int NO_GAP = 0;
    private static final int SPACE = 1;
    private static final int NEWLINE = 2;

    private static final byte[][] LITERALS = {"true".getBytes(), "false".getBytes(), "null".getBytes()};

    private int state = START;
    private final byte[] stack = new byte[MAX_DEPTH];
    private int depth;
    private boolean key;        // the string being read is an object key
    private int pending;        // hex digits of a \\u escape, or UTF-8 continuation bytes, still due
    private int literal;        // which of LITERALS
    private int literalAt;      // its bytes matched so far
    private int gap;            // whitespace since the last token: NO_GAP, SPACE, or NEWLINE
    private int indent;         // spaces and tabs after the gap's newline

    /** Whether the bytes so far are one whole JSON object. */
    boolean complete() {
        return state == DONE;
    }

    void copyFrom(JsonGrammar o) {
        state = o.state;
        System.arraycopy(o.stack, 0, stack, 0, o.depth);
        depth = o.depth;
        key = o.key;
        pending = o.pending;
        literal = o.literal;
        literalAt = o.literalAt;
        gap = o.gap;
        indent = o.indent;
    }

    /** Takes the bytes in order; false as soon as one cannot continue a JSON object (the state is then spent). */
    boolean feed(byte[] bytes) {
        for (byte b : bytes) {
            if (!feed(b & 0xFF)) {
                return false;
            }
        }
        return true;
    }

    /** Takes one byte (0..255); false if it cannot continue a JSON object (the state is then spent). */
    boolean feed(int b) {
        switch (state) {
            case STRING:
                return string(b);
            case ESCAPE:
                if (b == 'u') {
                    state = UNICODE;
                    pending = 4;
                    return true;
                }
                state = STRING;
                return b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't';
            case UNICODE:
                if (Character.digit(b, 16) < 0) {
                    return false;
                }
                if (--pending == 0) {
                    state = STRING;
                }
                return true;
            case LITERAL:
                if (b != LITERALS[literal][literalAt]) {
                    return false;
                }
                if (++literalAt == LITERALS[literal].length) {
                    endValue();
                }
                return true;
            case MINUS:
                return b == '0' ? to(ZERO) : isDigit(b) && to(INTEGER);
            case ZERO:
                return b == '.' ? to(POINT) : b == 'e' || b == 'E' ? to(EXPONENT) : afterNumber(b);
            case INTEGER:
                return isDigit(b) || (b == '.' ? to(POINT) : b == 'e' || b == 'E' ? to(EXPONENT) : afterNumber(b));
            case POINT:
                return isDigit(b) && to(FRACTION);
            case FRACTION:
                return isDigit(b) || (b == 'e' || b == 'E' ? to(EXPONENT) : afterNumber(b));
            case EXPONENT:
                return b == '+' || b == '-' ? to(EXPONENT_SIGN) : isDigit(b) && to(EXPONENT_DIGITS);
            case EXPONENT_SIGN:
                return isDigit(b) && to(EXPONENT_DIGITS);
            case EXPONENT_DIGITS:
                return isDigit(b) || afterNumber(b);
            case DONE:
                return false;
            default:
                return structural(b);
        }
    }

    /** A byte between tokens: whitespace, or what the state expects. */
    private boolean structural(int b) {
        if (b == ' ' || b == '\n' || b == '\t' || b == '\r') {
            return whitespace(b);
        }
        gap = NO_GAP;
        switch (state) {
            case START:
                return b == '{' && open('{', KEY_OR_CLOSE);
            case KEY_OR_CLOSE:
                return b == '"' ? startString(true) : b == '}' && close('{');
            case KEY:
                return b == '"' && startString(true);
            case COLON:
                return b == ':' && to(VALUE);
            case VALUE_OR_CLOSE:
                return b == ']' ? close('[') : value(b);
            case VALUE:
                return value(b);
            case AFTER_VALUE:
                if (b == ',') {
                    return to(stack[depth - 1] == '{' ? KEY : VALUE);
                }
                return (b == '}' || b == ']') && close(b == '}' ? '{' : '[');
            default:
                throw new IllegalStateException("state " + state);
        }
    }

    private boolean value(int b) {
        switch (b) {
            case '{':
                return open('{', KEY_OR_CLOSE);
            case '[':
                return open('[', VALUE_OR_CLOSE);
            case '"':
                return startString(false);
            case '-':
                return to(MINUS);
            case '0':
                return to(ZERO);
            case 't', 'f', 'n':
                literal = b == 't' ? 0 : b == 'f' ? 1 : 2;
                literalAt = 1;
                return to(LITERAL);
            default:
                return isDigit(b) && to(INTEGER);
        }
    }

    private boolean string(int b) {
        if (pending > 0) {
            // Inside a multi-byte UTF-8 character: only continuation bytes.
            pending--;
            return (b & 0xC0) == 0x80;
        }
        if (b == '"') {
            if (key) {
                return to(COLON);
            }
            endValue();
            return true;
        }
        if (b == '\\') {
            return to(ESCAPE);
        }
        if (b < 0x20) {
            return false;
        }
        if (b >= 0x80) {
            pending = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : -1;
            if (pending < 0) {
                pending = 0;
                return false;
            }
        }
        return true;
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

    /** A number ends at the first byte that is not part of it; that byte then follows the value. */
    private boolean afterNumber(int b) {
        endValue();
        return structural(b);
    }

    private boolean startString(boolean isKey) {
        key = isKey;
        pending = 0;
        return to(STRING);
    }

    private boolean open(char bracket, int next) {
        if (depth == MAX_DEPTH) {
            return false;
        }
        stack[depth++] = (byte) bracket;
        return to(next);
    }

    private boolean close(char bracket) {
        if (stack[depth - 1] != bracket) {
            return false;
        }
        depth--;
        endValue();
        return true;
    }

    private void endValue() {
        state = depth == 0 ? DONE : AFTER_VALUE;
        gap = NO_GAP;
    }

    private boolean to(int next) {
        state = next;
        return true;
    }

    private static boolean isDigit(int b) {
        return b >= '0' && b <= '9';
    }
}
