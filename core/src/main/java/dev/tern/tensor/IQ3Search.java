package dev.tern.tensor;

import java.util.Arrays;

/**
 * ggml's search for IQ3_XXS and IQ3_S codes (quantize_row_iq3_xxs_impl, quantize_row_iq3_s_impl),
 * ported with the same float operations in the same order so that the bytes are llama.cpp's. A
 * sub-block's magnitudes go in groups of four, each group one grid entry of levels 0..7 (value
 * 2l + 1 times the scale). Scales around the largest magnitude mapped to level 7 are tried; for
 * each, a group whose rounded levels are not an entry takes the nearest of its neighbours, the
 * entries at the fewest distinct distances that iq3xs_init_impl lists.
 */
final class IQ3Search {
    /** The levels of a 4-value group packed 3 bits each (value i at bit 3i): ggml's index into its map. */
    private static final int MAP_SIZE = 4096;
    /** ggml's GROUP_MAX_EPS_IQ3_XXS: an IQ3_XXS sub-block whose magnitudes are all below it is zero. */
    private static final float GROUP_MAX_EPS_XXS = 1e-8f;

    /** Entry e's packed levels. */
    private final int[] grid;
    /** Per packed group: its entry, or −1 − (where its neighbour list starts in {@link #neighbours}). */
    private final int[] map;
    /** Neighbour lists: a count, then that many entries, nearest first (ties by entry). */
    private final short[] neighbours;
    /** IQ3_XXS's variant of the search, else IQ3_S's (see {@link #IQ3Search}). */
    private final boolean xxs;

    /**
     * The index iq3xs_init_impl builds for a grid, read from its entries' byte magnitudes
     * ({@code magnitudes[l]} stands for level l): the neighbours at the 2 smallest distances for
     * 256 entries, 3 for 512. The search of IQ3_XXS ({@code xxs}) or IQ3_S: IQ3_XXS tries 15
     * scales either side of the first, makes the signs of each eight even, counts magnitudes
     * below 1e-8 as zero and rounds again at the chosen scale only the groups off the grid;
     * IQ3_S tries 9, keeps every sign, and rounds every group again when any is off the grid
     * (or no trial won).
     */
    IQ3Search(int[] entries, int[] magnitudes, boolean xxs) {
        this.xxs = xxs;
        int distances = entries.length == 256 ? 2 : 3;
        grid = new int[entries.length];
        map = new int[MAP_SIZE];
        Arrays.fill(map, -1);
        for (int e = 0; e < entries.length; e++) {
            for (int i = 0; i < 4; i++) {
                int l = Arrays.binarySearch(magnitudes, entries[e] >>> 8 * i & 0xFF);
                grid[e] |= l << 3 * i;
            }
            map[grid[e]] = e;
        }
        short[] lists = new short[MAP_SIZE * (entries.length + 1)];
        int end = 0;
        int[] keys = new int[entries.length];
        for (int u = 0; u < MAP_SIZE; u++) {
            if (map[u] >= 0) {
                continue;
            }
            // squared distance and entry in one sortable key, as ggml's qsort orders them
            for (int e = 0; e < entries.length; e++) {
                int d2 = 0;
                for (int i = 0; i < 4; i++) {
                    int diff = 2 * (level(grid[e], i) - level(u, i));
                    d2 += diff * diff;
                }
                keys[e] = d2 << 10 | e;
            }
            Arrays.sort(keys);
            map[u] = -1 - end;
            int start = end++;
            int have = 1;
            for (int j = 0; j < keys.length; j++) {
                if (j > 0 && keys[j] >>> 10 > keys[j - 1] >>> 10 && ++have > distances) {
                    break;
                }
                lists[end++] = (short) (keys[j] & 1023);
            }
            lists[start] = (short) (end - start - 1);
        }
        neighbours = Arrays.copyOf(lists, end);
    }

    private static int level(int packed, int i) {
        return packed >>> 3 * i & 7;
    }

    /** The levels packed from L[off..off+4). */
    private static int pack(byte[] L, int off) {
        return L[off] | L[off + 1] << 3 | L[off + 2] << 6 | L[off + 3] << 9;
    }

    /**
     * For the magnitudes at xval[off..], whose rounded levels {@code packed} are off the grid: the
     * levels of the neighbour whose values scale·(2l + 1) are nearest them (squared differences
     * weighted by waux), into L[off..].
     */
    private void nearestNeighbour(int packed, float[] xval, float[] waux, int off, float scale, byte[] L) {
        int list = -1 - map[packed];
        float bestD2 = Float.MAX_VALUE;
        int best = -1;
        for (int j = 1; j <= neighbours[list]; ++j) {
            int e = neighbours[list + j];
            float d2 = 0;
            for (int i = 0; i < 4; ++i) {
                float q = 2 * level(grid[e], i) + 1;
                float diff = scale * q - xval[off + i];
                d2 += waux[off + i] * diff * diff;
            }
            if (d2 < bestD2) {
                bestD2 = d2;
                best = e;
            }
        }
        for (int i = 0; i < 4; ++i) {
            L[off + i] = (byte) level(grid[best], i);
        }
    }

    /** The magnitudes at xval[off..] rounded to levels for the scale 1/id, into L[off..] and packed (maybe off the grid). */
    private static int round(float[] xval, int off, float id, byte[] L) {
        for (int i = 0; i < 4; ++i) {
            int l = Blocks.nearestInt(0.5f * (id * xval[off + i] - 1));
            L[off + i] = (byte) Math.max(0, Math.min(7, l));
        }
        return pack(L, off);
    }

    /** One quantize call's scratch, and the sub-block last coded: its scale, grid entries and signs. */
    static final class SubBlock {
        final int[] entries = new int[8];
        /** Bit i set when value i is negative; for IQ3_XXS, four 7-bit groups (the eighth sign is their parity). */
        int signs;
        float scale;
        private final float[] weight = new float[32];
        private final float[] waux = new float[32];
        private final float[] xval = new float[32];
        private final byte[] levels = new byte[32];
        private final byte[] trial = new byte[32];
        private final boolean[] onGrid = new boolean[8];
        private final boolean[] trialOnGrid = new boolean[8];
        private float sumqx;
        private float sumq2;

        /** The weighted fit of levels L to the magnitudes: Σw·x·q and Σw·q², q = 2l + 1. */
        private void fit(byte[] L) {
            sumqx = 0;
            sumq2 = 0;
            for (int i = 0; i < 32; ++i) {
                float w = weight[i];
                float q = 2 * L[i] + 1;
                sumqx += w * xval[i] * q;
                sumq2 += w * q * q;
            }
        }
    }

    /** Where a super-block's coded sub-blocks go. */
    interface Sink {
        /** Sub-block ib, the {@code coded}-th one coded (sub-blocks that count as zero are not). */
        void put(int ib, int coded, SubBlock sb);
    }

    /**
     * Codes the 8 sub-blocks of the 256 values at x[xo..] (their importance weights from
     * importance[io..], or x² when importance is null), handing each one coded to sink; scales[ib]
     * gets its scale, 0 for one that counts as zero. Returns the largest scale.
     */
    float code(float[] x, int xo, float[] importance, int io, float[] scales, SubBlock sb, Sink sink) {
        // sigma2 of quantize_row_iq3_*_impl: twice the mean square, the importance weights' floor
        float sumx2 = 0;
        for (int i = 0; i < KQuants.QK_K; ++i) {
            sumx2 += x[xo + i] * x[xo + i];
        }
        float sigma2 = 2 * sumx2 / KQuants.QK_K;
        float maxScale = 0;
        int coded = 0;
        for (int ib = 0; ib < 8; ++ib) {
            scales[ib] = 0;
            if (code(x, xo + 32 * ib, importance, io + 32 * ib, sigma2, sb)) {
                sink.put(ib, coded++, sb);
                scales[ib] = sb.scale;
                maxScale = maxScale > sb.scale ? maxScale : sb.scale;
            }
        }
        return maxScale;
    }

    /** A sub-block scale as its 4-bit code l for the super-block's 1/d, scale ≈ d·(2l + 1): ggml's rounding. */
    static int scaleCode(float id, float scale) {
        return Math.max(0, Math.min(15, Blocks.nearestInt(0.5f * (id * scale - 1))));
    }

    /** One sub-block of {@link #code(float[], int, float[], int, float[], SubBlock, Sink)}: false, with nothing coded, when it counts as zero. */
    private boolean code(float[] x, int xb, float[] importance, int io, float sigma2, SubBlock sb) {
        for (int i = 0; i < 32; ++i) {
            float v = x[xb + i];
            sb.weight[i] = importance == null ? v * v : importance[io + i] * (float) Math.sqrt(sigma2 + v * v);
            sb.waux[i] = (float) Math.sqrt(sb.weight[i]);
        }
        sb.signs = 0;
        for (int k = 0; k < 4; ++k) {
            sb.signs |= xxs ? (evenSigns(x, xb + 8 * k, sb.weight, 8 * k, sb.xval) & 127) << 7 * k
                    : signs(x, xb + 8 * k, sb.xval, 8 * k) << 8 * k;
        }
        float max = sb.xval[0];
        for (int i = 1; i < 32; ++i) {
            max = max > sb.xval[i] ? max : sb.xval[i];
        }
        if (xxs ? max < GROUP_MAX_EPS_XXS : max == 0) {
            return false;
        }
        float scale = search(max, sb);
        if (scale < 0) {
            scale = -scale;
            sb.signs = xxs ? ~sb.signs & 0x0FFFFFFF : ~sb.signs;
        }
        sb.scale = scale;
        for (int k = 0; k < 8; ++k) {
            sb.entries[k] = map[pack(sb.levels, 4 * k)];
        }
        return true;
    }

    /** The magnitudes of the 8 values at x[xo..] into xval[off..] and their signs, bit i set when value i is negative. */
    private static int signs(float[] x, int xo, float[] xval, int off) {
        int s = 0;
        for (int i = 0; i < 8; ++i) {
            float v = x[xo + i];
            if (v >= 0) {
                xval[off + i] = v;
            } else {
                xval[off + i] = -v;
                s |= 1 << i;
            }
        }
        return s;
    }

    /**
     * {@link #signs}, but when an odd number are negative, the value of least weight·x² keeps its
     * sign instead, its magnitude negated: IQ3_XXS stores seven signs of eight and the parity.
     */
    private static int evenSigns(float[] x, int xo, float[] weight, int off, float[] xval) {
        int s = signs(x, xo, xval, off);
        if (Integer.bitCount(s) % 2 != 0) {
            int imin = 0;
            float min = weight[off] * x[xo] * x[xo];
            for (int i = 1; i < 8; ++i) {
                float ax = weight[off + i] * x[xo + i] * x[xo + i];
                if (ax < min) {
                    min = ax;
                    imin = i;
                }
            }
            xval[off + imin] = -xval[off + imin];
            s ^= 1 << imin;
        }
        return s;
    }

    /**
     * The levels sb.levels of the magnitudes sb.xval (max the largest) and the scale that goes
     * with them: the trial with the best weighted fit Σwqx²/Σwq², its groups rounded again at that
     * scale, and the scale fitted again to the result.
     */
    private float search(float max, SubBlock sb) {
        byte[] L = sb.levels;
        Arrays.fill(L, (byte) 0);
        Arrays.fill(sb.onGrid, xxs);
        int tries = xxs ? 15 : 9;
        float best = 0;
        float scale = max / 15;
        for (int is = -tries; is <= tries; ++is) {
            float id = (15 + is * 0.2f) / max;
            float thisScale = 1 / id;
            for (int k = 0; k < 8; ++k) {
                int u = round(sb.xval, 4 * k, id, sb.trial);
                sb.trialOnGrid[k] = map[u] >= 0;
                if (!sb.trialOnGrid[k]) {
                    nearestNeighbour(u, sb.xval, sb.waux, 4 * k, thisScale, sb.trial);
                }
            }
            sb.fit(sb.trial);
            if (sb.sumq2 > 0 && sb.sumqx * sb.sumqx > best * sb.sumq2) {
                scale = sb.sumqx / sb.sumq2;
                best = scale * sb.sumqx;
                System.arraycopy(sb.trial, 0, L, 0, 32);
                System.arraycopy(sb.trialOnGrid, 0, sb.onGrid, 0, 8);
            }
        }
        boolean offGrid = false;
        for (boolean on : sb.onGrid) {
            offGrid |= !on;
        }
        if (offGrid && scale > 0) {
            float id = 1 / scale;
            for (int k = 0; k < 8; ++k) {
                if (xxs && sb.onGrid[k]) {
                    continue;
                }
                int u = round(sb.xval, 4 * k, id, L);
                if (map[u] < 0) {
                    nearestNeighbour(u, sb.xval, sb.waux, 4 * k, scale, L);
                }
            }
            sb.fit(L);
            if (sb.sumq2 > 0) {
                scale = sb.sumqx / sb.sumq2;
            }
        }
        return scale;
    }
}
