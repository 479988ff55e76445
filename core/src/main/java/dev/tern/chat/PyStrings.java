package dev.tern.chat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/** Python's str methods with Python's semantics, for {@link PyStringResolver}. */
final class PyStrings {
    private PyStrings() {
    }

    static boolean supports(String name, int argc) {
        return switch (name) {
            case "strip", "lstrip", "rstrip" -> argc <= 1;
            case "startswith", "endswith", "count", "find" -> argc == 1;
            case "split" -> argc <= 2;
            case "replace" -> argc == 2;
            case "upper", "lower", "title", "capitalize" -> argc == 0;
            case "join" -> argc == 1;
            default -> false;
        };
    }

    static Object call(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> rstrip(lstrip(s, chars(a)), chars(a));
            case "lstrip" -> lstrip(s, chars(a));
            case "rstrip" -> rstrip(s, chars(a));
            case "startswith" -> anyPrefix(s, a[0], true);
            case "endswith" -> anyPrefix(s, a[0], false);
            case "split" -> split(s, a.length > 0 ? a[0] : null, a.length > 1 ? ((Number) a[1]).intValue() : -1);
            case "replace" -> s.replace(String.valueOf(a[0]), String.valueOf(a[1]));
            case "count" -> count(s, String.valueOf(a[0]));
            case "find" -> s.indexOf(String.valueOf(a[0]));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "join" -> join(s, a[0]);
            default -> throw new IllegalStateException(name);
        };
    }

    /** The characters to strip; null means Python's default, whitespace. */
    private static String chars(Object[] a) {
        return a.length == 0 || a[0] == null ? null : String.valueOf(a[0]);
    }

    private static boolean strippable(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strippable(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int j = s.length();
        while (j > 0 && strippable(s.charAt(j - 1), chars)) {
            j--;
        }
        return s.substring(0, j);
    }

    private static boolean anyPrefix(String s, Object arg, boolean start) {
        if (arg instanceof Collection<?> options) {
            for (Object o : options) {
                if (anyPrefix(s, o, start)) {
                    return true;
                }
            }
            return false;
        }
        String p = String.valueOf(arg);
        return start ? s.startsWith(p) : s.endsWith(p);
    }

    /** Python split: a literal separator keeps empty pieces; no separator splits on whitespace runs. */
    static List<String> split(String s, Object sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            for (String part : s.strip().split("\\s+", maxSplit < 0 ? 0 : maxSplit + 1)) {
                if (!part.isEmpty()) {
                    out.add(part);
                }
            }
            return out;
        }
        String d = String.valueOf(sep);
        if (d.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int at = s.indexOf(d, from);
            if (at < 0) {
                break;
            }
            out.add(s.substring(from, at));
            from = at + d.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return b.toString();
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) {
            for (Object o : it) {
                parts.add(String.valueOf(o));
            }
        } else {
            parts.add(String.valueOf(items));
        }
        return String.join(sep, parts);
    }
}
