package dev.tern.sampling;

import java.util.ArrayList;
import java.util.List;

/**
 * Sets of code points as sorted, merged ranges in an int array [lo0, hi0, lo1, hi1, …]: the
 * character classes of {@link StringPattern} and {@link GbnfGrammar}.
 */
final class CodePointSet {
    private CodePointSet() {
    }

    /** Whether c is in the set. */
    static boolean contains(int[] ranges, int c) {
        for (int i = 0; i < ranges.length; i += 2) {
            if (c >= ranges[i] && c <= ranges[i + 1]) {
                return true;
            }
        }
        return false;
    }

    /** Whether some code point in [lo, hi] is in the set. */
    static boolean intersects(int[] ranges, int lo, int hi) {
        for (int i = 0; i < ranges.length; i += 2) {
            if (ranges[i] <= hi && ranges[i + 1] >= lo) {
                return true;
            }
        }
        return false;
    }

    /** The union of range arrays (each pairs lo, hi; in any order, overlapping or not), sorted and merged. */
    static int[] union(List<int[]> parts) {
        List<int[]> pairs = new ArrayList<>();
        for (int[] p : parts) {
            for (int i = 0; i < p.length; i += 2) {
                pairs.add(new int[]{p[i], p[i + 1]});
            }
        }
        pairs.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<Integer> out = new ArrayList<>();
        for (int[] p : pairs) {
            int n = out.size();
            if (n > 0 && p[0] <= out.get(n - 1) + 1) {
                out.set(n - 1, Math.max(out.get(n - 1), p[1]));
            } else {
                out.add(p[0]);
                out.add(p[1]);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Every code point not in the ranges. */
    static int[] complement(int[] ranges) {
        int[] sorted = union(List.of(ranges));
        List<Integer> out = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < sorted.length; i += 2) {
            if (sorted[i] > next) {
                out.add(next);
                out.add(sorted[i] - 1);
            }
            next = sorted[i + 1] + 1;
        }
        if (next <= Character.MAX_CODE_POINT) {
            out.add(next);
            out.add(Character.MAX_CODE_POINT);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
