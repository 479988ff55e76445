package dev.tern.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the Jinja2 syntax Jinjava does not parse into equivalents it does, inside
 * {@code {{ }}} and {@code {% %}}, and applies Jinja2's lstrip_blocks to the text between them:
 * <ul>
 *   <li>slices {@code x[a:b:c]} become {@code (x|py_slice(a,b,c))} (Jinjava has no slices);</li>
 *   <li>keyword arguments get parentheses, {@code namespace(n=xs|length - 1)} becomes
 *       {@code namespace(n=(xs|length - 1))}, because Jinjava ends a keyword value at the
 *       first operator after a filter;</li>
 *   <li>{@code not x is defined} becomes {@code not (x is defined)}: in Jinja2 the test binds
 *       tighter than {@code not}, in Jinjava it does not;</li>
 *   <li>string literals are decoded as Jinja2 decodes them, with Python's escapes (hex codes,
 *       a backslash ending a line, …), and written back with the two escapes
 *       Jinjava reads, {@code \\} and the quote (Mistral Small 3's template continues its
 *       strings over lines).</li>
 * </ul>
 */
final class TemplateSyntax {
    private TemplateSyntax() {
    }

    private static final Pattern KWARG = Pattern.compile("^(\\s*[A-Za-z_]\\w*\\s*)=(?!=)(.*)$", Pattern.DOTALL);
    private static final Pattern NOT_IS = Pattern.compile(
            "\\bnot\\s+([A-Za-z_][\\w.]*(?:\\[[^\\]'\"]*\\])*\\s+is\\s+(?:not\\s+)?[A-Za-z_]\\w*)");
    private static final Set<String> KEYWORDS = Set.of("in", "and", "or", "not", "if", "else", "is", "return", "elif", "for");

    static String rewrite(String template) {
        StringBuilder out = new StringBuilder(template.length() + 64);
        int i = 0;
        while (i < template.length()) {
            int open = nextOpen(template, i);
            if (open < 0) {
                out.append(template, i, template.length());
                break;
            }
            char kind = template.charAt(open + 1);
            out.append(template, i, kind == '{' ? open : lstripEnd(template, i, open));
            String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int end = findClose(template, open + 2, close);
            if (end < 0) {
                out.append(template, open, template.length()); // Jinjava reports the unclosed tag
                break;
            }
            String body = template.substring(open + 2, end);
            if (kind == '#') {
                out.append(template, open, end + 2);
            } else {
                boolean kwargs = !(kind == '%' && body.replaceFirst("^[-+\\s]*", "").matches("(?s)(macro|call)\\b.*"));
                out.append(template, open, open + 2).append(expression(notIs(body), kwargs)).append(close);
            }
            i = end + 2;
        }
        return out.toString();
    }

    /**
     * Where the text [from, open) before a block or comment tag ends once Jinja2's lstrip_blocks
     * has removed the spaces and tabs between the start of the tag's line and the tag: only when
     * nothing else precedes the tag on its line, and not for {@code {%+}. (Jinjava's own option
     * strips before every tag, also after text on the same line.)
     */
    private static int lstripEnd(String t, int from, int open) {
        if (open + 2 < t.length() && t.charAt(open + 2) == '+') {
            return open;
        }
        int start = open;
        while (start > from && (t.charAt(start - 1) == ' ' || t.charAt(start - 1) == '\t')) {
            start--;
        }
        // Text begins at `from` right after the previous tag, so a line start there is only the template's start.
        boolean lineStart = start == 0 || (start > from && t.charAt(start - 1) == '\n');
        return lineStart ? start : open;
    }

    private static int nextOpen(String t, int from) {
        for (int i = t.indexOf('{', from); i >= 0 && i + 1 < t.length(); i = t.indexOf('{', i + 1)) {
            char c = t.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    /** The start of {@code close}, skipping string literals; -1 if unclosed. */
    private static int findClose(String t, int from, String close) {
        int i = from;
        while (i < t.length()) {
            char c = t.charAt(i);
            if ((c == '\'' || c == '"') && !close.equals("#}")) {
                i = skipString(t, i);
            } else if (t.startsWith(close, i)) {
                return i;
            } else {
                i++;
            }
        }
        return -1;
    }

    /** Parenthesises {@code not x is test} outside string literals. */
    private static String notIs(String body) {
        StringBuilder out = new StringBuilder(body.length());
        int i = 0;
        while (i < body.length()) {
            int q = i;
            while (q < body.length() && body.charAt(q) != '\'' && body.charAt(q) != '"') {
                q++;
            }
            out.append(NOT_IS.matcher(body.substring(i, q)).replaceAll("not ($1)"));
            if (q == body.length()) {
                break;
            }
            int end = skipString(body, q);
            out.append(body, q, end);
            i = end;
        }
        return out.toString();
    }

    /** Index just past the string literal starting at {@code i}. */
    private static int skipString(String e, int i) {
        char q = e.charAt(i);
        int j = i + 1;
        while (j < e.length() && e.charAt(j) != q) {
            j += e.charAt(j) == '\\' ? 2 : 1;
        }
        return Math.min(j + 1, e.length());
    }

    /** A whole string literal as Jinja2 reads it, quoted for Jinjava; an unterminated one as it is. */
    static String literal(String lit) {
        char q = lit.charAt(0);
        if (lit.length() < 2 || lit.charAt(lit.length() - 1) != q) {
            return lit;
        }
        String value = unescape(lit.substring(1, lit.length() - 1));
        return q + value.replace("\\", "\\\\").replace(String.valueOf(q), "\\" + q) + q;
    }

    /**
     * Python's unicode_escape decoding, which Jinja2 applies to string literals: {@code \\ \' \"
     * \a \b \f \n \r \t \v}, up to three octal digits, x with two hex digits, u with four, U
     * with eight, and a backslash before a line break (both dropped); any other backslash stays,
     * as in Python.
     */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 == s.length()) {
                out.append(c);
                i++;
                continue;
            }
            char n = s.charAt(i + 1);
            i += 2;
            switch (n) {
                case '\n' -> { }
                case '\\', '\'', '"' -> out.append(n);
                case 'a' -> out.append((char) 7);
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'n' -> out.append('\n');
                case 'r' -> out.append('\r');
                case 't' -> out.append('\t');
                case 'v' -> out.append((char) 11);
                case 'x', 'u', 'U' -> {
                    int digits = n == 'x' ? 2 : n == 'u' ? 4 : 8;
                    if (i + digits <= s.length() && s.substring(i, i + digits).matches("[0-9A-Fa-f]+")) {
                        out.appendCodePoint(Integer.parseInt(s.substring(i, i + digits), 16));
                        i += digits;
                    } else {
                        out.append('\\').append(n);
                    }
                }
                default -> {
                    if (n >= '0' && n <= '7') {
                        int end = i - 1;
                        while (end < s.length() && end < i + 2 && s.charAt(end) >= '0' && s.charAt(end) <= '7') {
                            end++;
                        }
                        out.append((char) Integer.parseInt(s.substring(i - 1, end), 8));
                        i = end;
                    } else if (n == '\r' && i < s.length() && s.charAt(i) == '\n') {
                        i++;
                    } else {
                        out.append('\\').append(n);
                    }
                }
            }
        }
        return out.toString();
    }

    /** Index of the bracket closing the one at {@code i}, or -1. */
    private static int matching(String e, int i) {
        int depth = 0;
        int j = i;
        while (j < e.length()) {
            char c = e.charAt(j);
            if (c == '\'' || c == '"') {
                j = skipString(e, j);
                continue;
            }
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                if (--depth == 0) {
                    return j;
                }
            }
            j++;
        }
        return -1;
    }

    private static List<String> splitTopLevel(String e, char sep) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        int j = 0;
        while (j < e.length()) {
            char c = e.charAt(j);
            if (c == '\'' || c == '"') {
                j = skipString(e, j);
                continue;
            }
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (c == sep && depth == 0) {
                parts.add(e.substring(start, j));
                start = j + 1;
            }
            j++;
        }
        parts.add(e.substring(start));
        return parts;
    }

    static String expression(String e, boolean kwargs) {
        StringBuilder out = new StringBuilder(e.length());
        int i = 0;
        while (i < e.length()) {
            char c = e.charAt(i);
            if (c == '\'' || c == '"') {
                int j = skipString(e, i);
                out.append(literal(e.substring(i, j)));
                i = j;
                continue;
            }
            int end = (c == '[' || c == '(') ? matching(e, i) : -1;
            if (end < 0) {
                out.append(c);
                i++;
                continue;
            }
            String inner = e.substring(i + 1, end);
            if (c == '[') {
                List<String> parts = splitTopLevel(inner, ':');
                if (isSubscript(out) && (parts.size() == 2 || parts.size() == 3)) {
                    // parenthesised so that a following [i] or .attr applies to the slice
                    out.insert(subjectStart(out), '(');
                    out.append("|py_slice(");
                    for (int p = 0; p < parts.size(); p++) {
                        String part = parts.get(p).strip();
                        out.append(p > 0 ? ", " : "").append(part.isEmpty() ? "none" : expression(part, kwargs));
                    }
                    out.append("))");
                } else {
                    out.append('[').append(expression(inner, kwargs)).append(']');
                }
            } else {
                List<String> args = splitTopLevel(inner, ',');
                boolean call = kwargs && followsName(out);
                out.append('(');
                for (int p = 0; p < args.size(); p++) {
                    String arg = args.get(p);
                    Matcher m = KWARG.matcher(arg);
                    out.append(p > 0 ? "," : "");
                    if (call && m.matches()) {
                        out.append(m.group(1)).append("=(").append(expression(m.group(2).strip(), kwargs)).append(')');
                    } else {
                        out.append(expression(arg, kwargs));
                    }
                }
                out.append(')');
            }
            i = end + 1;
        }
        return out.toString();
    }

    /** Where the postfix chain (name, .attr, [i], (args), 'literal') ending the text starts. */
    private static int subjectStart(StringBuilder out) {
        int k = lastNonSpace(out);
        while (k >= 0) {
            char c = out.charAt(k);
            if (c == ')' || c == ']') {
                int depth = 0;
                for (; k >= 0; k--) {
                    char d = out.charAt(k);
                    if (d == ')' || d == ']') {
                        depth++;
                    } else if ((d == '(' || d == '[') && --depth == 0) {
                        break;
                    }
                }
                k--;
            } else if (c == '\'' || c == '"') {
                k = out.lastIndexOf(String.valueOf(c), k - 1) - 1;
            } else if (isNameChar(c) || c == '.') {
                k--;
            } else {
                break;
            }
        }
        return k + 1;
    }

    /** A '[' after a name, ')' or ']' indexes; after an operator or keyword it starts a list. */
    private static boolean isSubscript(StringBuilder out) {
        int k = lastNonSpace(out);
        if (k < 0) {
            return false;
        }
        char p = out.charAt(k);
        return p == ')' || p == ']' || p == '\'' || p == '"' || followsName(out);
    }

    /** Whether the text ends with a name that is not a keyword (so '(' opens a call). */
    private static boolean followsName(StringBuilder out) {
        int k = lastNonSpace(out);
        if (k < 0 || !isNameChar(out.charAt(k))) {
            return false;
        }
        int s = k;
        while (s > 0 && isNameChar(out.charAt(s - 1))) {
            s--;
        }
        return !KEYWORDS.contains(out.substring(s, k + 1));
    }

    private static int lastNonSpace(StringBuilder out) {
        int k = out.length() - 1;
        while (k >= 0 && Character.isWhitespace(out.charAt(k))) {
            k--;
        }
        return k;
    }

    private static boolean isNameChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }
}
