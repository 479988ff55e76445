package dev.tern.tensor;

import java.util.Arrays;

/**
 * What llama.cpp's IQ1_S and IQ1_M quantizers share (ggml-quants.c): the index over
 * {@link IQ1Grids#GRID} that iq2xs_init_impl builds for the 2048-point grid, the nearest grid
 * point search (iq1_find_best_neighbour2), the sort of a group's values (qsort with
 * iq1_sort_helper) and the value weights. A group of eight values is named by its levels
 * l_j = g_j + 1 in 0..2, two bits each: code = Σ l_j·4^j.
 */
final class IQ1Search {
    /** The values −1, 0, 1 shifted by +delta and by −delta, indexed by level. */
    static final float[] PLUS = {-1 + IQ1Grids.DELTA, IQ1Grids.DELTA, 1 + IQ1Grids.DELTA};
    static final float[] MINUS = {-1 - IQ1Grids.DELTA, -IQ1Grids.DELTA, 1 - IQ1Grids.DELTA};

    private IQ1Search() {
    }

    /** Level j (0..2) of grid entry g. */
    static int level(int g, int j) {
        return (byte) (IQ1Grids.GRID[g] >>> 8 * j) + 1;
    }

    /** The code of the eight levels at L[off..off+8). */
    private static int code(byte[] levels, int off) {
        int u = 0;
        for (int j = 0; j < 8; j++) {
            u |= levels[off + j] << 2 * j;
        }
        return u;
    }

    /**
     * The entry among code's neighbours that is nearest to x[xOff..xOff+8) in weighted squared
     * distance, each value taken as scale·values[level] (iq1_find_best_neighbour2; the first of
     * equals wins). Its fallback to the whole grid is for distances that are all infinite or NaN,
     * where llama.cpp reads out of bounds; Tern refuses such values.
     */
    private static int bestNeighbour(int code, float[] x, int xOff, float[] weight, int wOff, float scale, float[] values) {
        float best = Float.MAX_VALUE;
        int index = -1;
        for (int g : Index.NEIGHBOURS[code]) {
            float d2 = 0;
            for (int i = 0; i < 8; i++) {
                float diff = scale * values[level(g, i)] - x[xOff + i];
                d2 += weight[wOff + i] * diff * diff;
            }
            if (d2 < best) {
                best = d2;
                index = g;
            }
        }
        if (index < 0) {
            throw new IllegalArgumentException("IQ1 grid search found no finite distance (values too large or not finite)");
        }
        return index;
    }

    /**
     * The positions 0..n−1 in ascending order of x[xOff + i], equal values in their original
     * order: llama.cpp sorts (value, position) pairs by value alone with qsort, and glibc's qsort
     * merge-sorts arrays this small, which is stable (−0 and +0 compare equal there too).
     */
    static void sortedPositions(float[] x, int xOff, int n, int[] order) {
        for (int i = 0; i < n; i++) {
            int j = i;
            while (j > 0 && x[xOff + order[j - 1]] > x[xOff + i]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }

    /**
     * The levels of a split of the sorted positions: 0 before i1, 1 before i2, 2 from there on,
     * mirrored (2 − l) when the split's best scale came out negative.
     */
    static void splitLevels(int[] order, int n, int i1, int i2, boolean mirror, byte[] levels) {
        for (int j = 0; j < n; j++) {
            int l = j < i1 ? 0 : j < i2 ? 1 : 2;
            levels[order[j]] = (byte) (mirror ? 2 - l : l);
        }
    }

    /**
     * Each group of eight levels' grid entry into index[k]: its own, or if it is off the grid its
     * best neighbour at this scale, with values[k] its shifted values. Returns the scale refitted
     * to the entries if a group was off the grid and that fit is positive, else scale.
     */
    static float snapToGrid(byte[] levels, int groups, float[] x, int xb, float[] weight, float scale, float[][] values, int[] index) {
        boolean allOnGrid = true;
        for (int k = 0; k < groups; k++) {
            int u = code(levels, 8 * k);
            index[k] = Index.MAP[u];
            if (index[k] < 0) {
                allOnGrid = false;
                index[k] = bestNeighbour(u, x, xb + 8 * k, weight, 8 * k, scale, values[k]);
            }
        }
        if (allOnGrid) {
            return scale;
        }
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < groups; k++) {
            for (int j = 0; j < 8; j++) {
                float w = weight[8 * k + j];
                float q = values[k][level(index[k], j)];
                sumqx += w * q * x[xb + 8 * k + j];
                sumq2 += w * q * q;
            }
        }
        return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
    }

    static void requireImportance(float[] importance, int n) {
        if (importance.length != n) {
            throw new IllegalArgumentException(importance.length + " importances for " + n + " values");
        }
    }

    /** 2·Σx²/256 over a super-block: the variance term of the weights. */
    static float sigma2(float[] x, int off) {
        float sumx2 = 0;
        for (int i = 0; i < KQuants.QK_K; i++) {
            sumx2 += x[off + i] * x[off + i];
        }
        return 2 * sumx2 / KQuants.QK_K;
    }

    /** weight[i] = importance[qOff + i]·√(sigma2 + x²), or x² without importance. */
    static void weights(float[] x, int xOff, int n, float[] importance, int qOff, float sigma2, float[] weight) {
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            weight[i] = importance == null ? v * v : importance[qOff + i] * (float) Math.sqrt(sigma2 + v * v);
        }
    }

    /** The largest |x| of n values. */
    static float maxAbs(float[] x, int off, int n) {
        float max = Math.abs(x[off]);
        for (int i = 1; i < n; i++) {
            float a = Math.abs(x[off + i]);
            max = max > a ? max : a;
        }
        return max;
    }

    /**
     * Built on first use, as ggml_quantize_init builds it: MAP[code] is the grid entry or −1;
     * an off-grid code's NEIGHBOURS are the entries at its three smallest squared distances, by
     * distance, then by entry (iq2_compare_func's order). Only codes of levels 0..2 are filled,
     * the only ones the quantizers look up.
     */
    private static final class Index {
        static final int[] MAP = new int[1 << 16];
        static final int[][] NEIGHBOURS = new int[1 << 16][];
        private static final int WANT = 3;

        static {
            Arrays.fill(MAP, -1);
            int[] codes = new int[IQ1Grids.GRID.length];
            for (int g = 0; g < codes.length; g++) {
                for (int j = 0; j < 8; j++) {
                    codes[g] |= level(g, j) << 2 * j;
                }
                MAP[codes[g]] = g;
            }
            int[] dist = new int[codes.length];
            for (int u = 0; u < MAP.length; u++) {
                if (MAP[u] < 0 && ((u & 0x5555) & (u >>> 1 & 0x5555)) == 0) {
                    NEIGHBOURS[u] = neighbours(u, codes, dist);
                }
            }
        }

        private static int[] neighbours(int u, int[] codes, int[] dist) {
            int[] smallest = {Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE};
            for (int g = 0; g < codes.length; g++) {
                int d2 = 0;
                for (int j = 0; j < 8; j++) {
                    int diff = (codes[g] >>> 2 * j & 3) - (u >>> 2 * j & 3);
                    d2 += diff * diff;
                }
                dist[g] = d2;
                for (int k = 0; k < WANT; k++) {
                    if (d2 == smallest[k]) {
                        break;
                    }
                    if (d2 < smallest[k]) {
                        System.arraycopy(smallest, k, smallest, k + 1, WANT - 1 - k);
                        smallest[k] = d2;
                        break;
                    }
                }
            }
            int[] list = new int[codes.length];
            int count = 0;
            for (int d : smallest) {
                for (int g = 0; g < codes.length; g++) {
                    if (dist[g] == d) {
                        list[count++] = g;
                    }
                }
            }
            return Arrays.copyOf(list, count);
        }
    }
}
