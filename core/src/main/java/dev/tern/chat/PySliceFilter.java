package dev.tern.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** Python slicing {@code x[start:stop:step]} on lists and strings, the target of {@link TemplateSyntax}. */
final class PySliceFilter implements Filter {

    @Override
    public String getName() {
        return "py_slice";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return filter(var, interpreter, (Object[]) args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Integer start = arg(args, 0), stop = arg(args, 1), step = arg(args, 2);
        int st = step == null ? 1 : step;
        if (st == 0) {
            throw new IllegalArgumentException("slice step cannot be zero");
        }
        if (var instanceof String s) {
            StringBuilder b = new StringBuilder();
            for (int i : indices(s.length(), start, stop, st)) {
                b.append(s.charAt(i));
            }
            return b.toString();
        }
        if (var instanceof Collection<?> c) {
            List<?> list = new ArrayList<>(c);
            List<Object> out = new ArrayList<>();
            for (int i : indices(list.size(), start, stop, st)) {
                out.add(list.get(i));
            }
            return out;
        }
        return var;
    }

    private static Integer arg(Object[] args, int i) {
        if (args == null || i >= args.length || args[i] == null) {
            return null;
        }
        return args[i] instanceof Number n ? n.intValue() : Integer.parseInt(String.valueOf(args[i]).strip());
    }

    /** The indices Python's slice(start, stop, step).indices(n) walks. */
    static List<Integer> indices(int n, Integer start, Integer stop, int step) {
        int lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
        int a = start == null ? (step > 0 ? lo : hi) : clamp(start < 0 ? start + n : start, lo, hi);
        int b = stop == null ? (step > 0 ? hi : lo) : clamp(stop < 0 ? stop + n : stop, lo, hi);
        List<Integer> out = new ArrayList<>();
        for (int i = a; step > 0 ? i < b : i > b; i += step) {
            out.add(i);
        }
        return out;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
