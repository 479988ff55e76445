package dev.tern.tensor;

import java.util.Arrays;

/**
 * The lookup structure ggml's iq2xs_init_impl builds for one IQ2 grid, and the neighbour search
 * over it (iq2_find_best_neighbour). A group of 8 values is a point with coordinates l in 0..3
 * (grid byte 8, 25 or 43 is l = 0, 1, 2; level 2l + 1), keyed by u = Σ l_i·4^i. {@link #map}[u]
 * is the grid entry at that point, or, for a point off the grid, −(offset + 1) of its neighbour
 * list: the count n, then the n entries at the {@code nearest} smallest squared distances,
 * ordered by distance and then by index, as ggml's qsort of (distance, index) pairs orders them.
 * Built once per grid, on first use, from the grids in {@link IQ2Grids}.
 */
final class IQ2Search {
    /** ggml's kmap_size: every u whose coordinates are at most 2, and then some. */
    private static final int MAP_SIZE = 43692;

    /** Coordinate i of entry k at [8k + i], as the level 2l + 1 that distances are measured in. */
    private final byte[] levels;
    private final int[] map;
    private final char[] neighbours;

    private IQ2Search(long[] grid, int nearest) {
        levels = new byte[8 * grid.length];
        map = new int[MAP_SIZE];
        Arrays.fill(map, -1);
        for (int k = 0; k < grid.length; k++) {
            int u = 0;
            for (int i = 0; i < 8; i++) {
                int l = switch ((int) (grid[k] >>> 8 * i) & 255) {
                    case 8 -> 0;
                    case 25 -> 1;
                    case 43 -> 2;
                    default -> throw new IllegalStateException("IQ2 grid byte out of range");
                };
                levels[8 * k + i] = (byte) (2 * l + 1);
                u |= l << 2 * i;
            }
            map[u] = k;
        }
        neighbours = findNeighbours(grid.length, nearest);
    }

    /** The index of IQ2_XXS's 256-entry grid (two nearest distances kept, as ggml's nwant). */
    static IQ2Search xxs() {
        return Xxs.INDEX;
    }

    /** The index of IQ2_XS's 512-entry grid (two nearest distances kept). */
    static IQ2Search xs() {
        return Xs.INDEX;
    }

    /** The index of IQ2_S's 1024-entry grid (the nearest distance only). */
    static IQ2Search s() {
        return S.INDEX;
    }

    private static final class Xxs {
        static final IQ2Search INDEX = new IQ2Search(IQ2Grids.XXS, 2);
    }

    private static final class Xs {
        static final IQ2Search INDEX = new IQ2Search(IQ2Grids.XS, 2);
    }

    private static final class S {
        static final IQ2Search INDEX = new IQ2Search(IQ2Grids.S, 1);
    }

    /**
     * The neighbour lists of every point off the grid, at increasing offsets. Distances are small
     * integers (at most 8·6²), so the {@code nearest} smallest are found by counting instead of
     * ggml's sort, and the entries at each distance listed in index order.
     */
    private char[] findNeighbours(int gridSize, int nearest) {
        char[] out = new char[MAP_SIZE * 16];
        int[] dist = new int[gridSize];
        int[] count = new int[8 * 36 + 1];
        int used = 0;
        for (int u = 0; u < MAP_SIZE; u++) {
            if (map[u] >= 0) {
                continue;
            }
            Arrays.fill(count, 0);
            for (int j = 0; j < gridSize; j++) {
                int d2 = 0;
                for (int k = 0; k < 8; k++) {
                    int diff = levels[8 * j + k] - (2 * (u >> 2 * k & 3) + 1);
                    d2 += diff * diff;
                }
                dist[j] = d2;
                count[d2]++;
            }
            int n = 0;
            int last = -1;
            for (int d2 = 0, have = 0; d2 < count.length && have < nearest; d2++) {
                if (count[d2] > 0) {
                    n += count[d2];
                    last = d2;
                    have++;
                }
            }
            if (used + 1 + n > out.length) {
                out = Arrays.copyOf(out, Math.max(2 * out.length, used + 1 + n));
            }
            map[u] = -(used + 1);
            out[used++] = (char) n;
            for (int d2 = 0; d2 <= last; d2++) {
                if (count[d2] == 0) {
                    continue;
                }
                for (int j = 0; j < gridSize; j++) {
                    if (dist[j] == d2) {
                        out[used++] = (char) j;
                    }
                }
            }
        }
        return Arrays.copyOf(out, used);
    }

    /** The key u of the 8 levels L[lo..lo+8), each 0..3. */
    static int key(byte[] L, int lo) {
        int u = 0;
        for (int i = 0; i < 8; i++) {
            u |= L[lo + i] << 2 * i;
        }
        return u;
    }

    /** The grid entry at key u, or a negative number when u is off the grid. */
    int entry(int u) {
        return map[u];
    }

    /**
     * The entry L[lo..lo+8) rounds to: the one at key u, or else, of u's neighbours, the one
     * nearest x[xo..xo+8) at this scale, weighted by w (the first of equals), whose levels then
     * replace L[lo..lo+8).
     */
    int nearest(int u, float[] x, int xo, float[] w, int wo, float scale, byte[] L, int lo) {
        int m = map[u];
        if (m >= 0) {
            return m;
        }
        int start = -m - 1;
        int n = neighbours[start];
        float bestD2 = Float.MAX_VALUE;
        int best = -1;
        for (int j = 1; j <= n; j++) {
            int g = neighbours[start + j];
            float d2 = 0;
            for (int i = 0; i < 8; i++) {
                float q = levels[8 * g + i];
                float diff = scale * q - x[xo + i];
                d2 += w[wo + i] * diff * diff;
            }
            if (d2 < bestD2) {
                bestD2 = d2;
                best = g;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("no IQ2 grid neighbour nearer than Float.MAX_VALUE (NaN or infinite values?)");
        }
        levelsOf(best, L, lo);
        return best;
    }

    /** Writes entry g's coordinates l (0..2) to L[lo..lo+8). */
    void levelsOf(int g, byte[] L, int lo) {
        for (int i = 0; i < 8; i++) {
            L[lo + i] = (byte) ((levels[8 * g + i] - 1) / 2);
        }
    }
}
