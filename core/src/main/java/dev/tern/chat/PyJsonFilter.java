package dev.tern.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * transformers' {@code tojson}: Python's {@code json.dumps(x, ensure_ascii=False, indent=indent,
 * sort_keys=sort_keys)}, whose spacing (", " and ": ", or newlines with indent) differs from
 * Jinjava's compact built-in. Tool schemas reach the prompt through it, so spacing matters.
 */
final class PyJsonFilter implements Filter {

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return filter(var, interpreter, (Object[]) args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indentArg = kwargs.containsKey("indent") ? kwargs.get("indent") : args != null && args.length > 0 ? args[0] : null;
        int indent = indentArg == null ? -1 : indentArg instanceof Number n ? n.intValue() : Integer.parseInt(String.valueOf(indentArg).strip());
        boolean sortKeys = Boolean.TRUE.equals(kwargs.get("sort_keys"));
        StringBuilder b = new StringBuilder();
        write(b, var, indent, sortKeys, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int indent, boolean sortKeys, int level) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Boolean bool) {
            b.append(bool ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            b.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Double.toString(d));
        } else if (v instanceof Number n) {
            b.append(n);
        } else if (v instanceof Map<?, ?> m) {
            Map<?, ?> map = sortKeys ? new TreeMap<>(m) : m;
            List<Object> keys = new ArrayList<>(map.keySet());
            writeItems(b, keys.size(), indent, level, '{', '}', (i, out) -> {
                string(out, String.valueOf(keys.get(i)));
                out.append(": ");
                write(out, map.get(keys.get(i)), indent, sortKeys, level + 1);
            });
        } else if (v instanceof Collection<?> || v.getClass().isArray()) {
            List<Object> items = new ArrayList<>();
            if (v instanceof Collection<?> c) {
                items.addAll(c);
            } else {
                for (int i = 0; i < Array.getLength(v); i++) {
                    items.add(Array.get(v, i));
                }
            }
            writeItems(b, items.size(), indent, level, '[', ']',
                    (i, out) -> write(out, items.get(i), indent, sortKeys, level + 1));
        } else {
            string(b, String.valueOf(v));
        }
    }

    private interface Item {
        void write(int index, StringBuilder out);
    }

    private static void writeItems(StringBuilder b, int n, int indent, int level, char open, char close, Item item) {
        b.append(open);
        if (n == 0) {
            b.append(close);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (indent >= 0) {
                b.append(i > 0 ? "," : "").append('\n').append(" ".repeat(indent * (level + 1)));
            } else if (i > 0) {
                b.append(", ");
            }
            item.write(i, b);
        }
        if (indent >= 0) {
            b.append('\n').append(" ".repeat(indent * level));
        }
        b.append(close);
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
