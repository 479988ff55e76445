package dev.tern.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * ggml's IQ2 quantizers (quantize_row_iq2_xxs_impl, _xs_impl and _s_impl), ported with the same
 * float operations in the same order so that results are bit-identical. Each group of 8 values
 * becomes a sign per value and a grid entry for the magnitudes: the entry at the point the
 * magnitudes round to at a trial scale, or the nearest of that point's neighbours on the grid
 * ({@link IQ2Search}). A sub-block's scale is the best weighted least-squares fit over a range of
 * trial scales; the super-block's fp16 d makes the sub-block scales 4-bit codes s, ≈ d·(2s + 1).
 */
final class IQ2Quants {
    private static final int QK = KQuants.QK_K;
    /** ggml's kMaxQ: coordinates 0..2 (grid levels 1, 3, 5). */
    private static final int MAX_Q = 3;
    /** ggml's GROUP_MAX_EPS_IQ2_S: an IQ2_S sub-block whose largest magnitude is below it is zero. */
    private static final float GROUP_MAX_EPS_IQ2_S = 1e-8f;

    private IQ2Quants() {
    }

    /** The sum of squares of the super-block at x[xo..xo+256), as ggml accumulates it. */
    private static float sumSquares(float[] x, int xo) {
        float sumx2 = 0;
        for (int i = 0; i < QK; ++i) {
            sumx2 += x[xo + i] * x[xo + i];
        }
        return sumx2;
    }

    /**
     * weight[i] = qw[i]·√(sigma2 + x²) for the n values at x[xo..], qw from importance[qo..], or
     * without importance (IQ2_S only) sigma2/4 + x²; waux[i] = √weight[i].
     */
    private static void weigh(float[] x, int xo, float[] importance, int qo, float sigma2, int n,
                              float[] weight, float[] waux) {
        for (int i = 0; i < n; ++i) {
            float v = x[xo + i];
            weight[i] = importance != null ? importance[qo + i] * (float) Math.sqrt(sigma2 + v * v) : 0.25f * sigma2 + v * v;
        }
        for (int i = 0; i < n; ++i) {
            waux[i] = (float) Math.sqrt(weight[i]);
        }
    }

    /**
     * Magnitudes of group k (values x[xo + 8k..]) into xval[8k..] and their signs, bit i for a
     * negative value i. With parity (IQ2_XXS and IQ2_XS, which store 7 sign bits and imply the
     * eighth by parity) and an odd count of negatives, the value of least weight·x² (the first of
     * equals) takes the wrong sign, its magnitude negated instead; only the 7 stored bits are
     * returned. Without (IQ2_S), all 8.
     */
    private static int signs(float[] x, int xo, float[] weight, float[] xval, int k, boolean parity) {
        int nflip = 0;
        int s = 0;
        for (int i = 0; i < 8; ++i) {
            float v = x[xo + 8 * k + i];
            if (v >= 0) {
                xval[8 * k + i] = v;
            } else {
                xval[8 * k + i] = -v;
                ++nflip;
                s |= 1 << i;
            }
        }
        if (!parity) {
            return s;
        }
        if (nflip % 2 != 0) {
            int imin = 0;
            float min = weight[8 * k] * x[xo + 8 * k] * x[xo + 8 * k];
            for (int i = 1; i < 8; ++i) {
                float ax = weight[8 * k + i] * x[xo + 8 * k + i] * x[xo + 8 * k + i];
                if (ax < min) {
                    min = ax;
                    imin = i;
                }
            }
            xval[8 * k + imin] = -xval[8 * k + imin];
            s ^= 1 << imin;
        }
        return s & 127;
    }

    /**
     * A sub-block's n values at x[xo..]: their weights ({@link #weigh}, importance from qo), their
     * magnitudes into xval and each group's signs into signs[] ({@link #signs}). Returns the
     * largest magnitude, as ggml's MAX macro scans them.
     */
    private static float prepare(float[] x, int xo, float[] importance, int qo, float sigma2, int n, boolean parity,
                                 float[] weight, float[] waux, float[] xval, int[] signs) {
        weigh(x, xo, importance, qo, sigma2, n, weight, waux);
        for (int k = 0; k < n / 8; ++k) {
            signs[k] = signs(x, xo, weight, xval, k, parity);
        }
        float max = xval[0];
        for (int i = 1; i < n; ++i) {
            max = max > xval[i] ? max : xval[i];
        }
        return max;
    }

    /** Rounds xval[8k..8k+8) at 1/id to coordinates 0..2 in L[8k..], returning their key. */
    private static int round(float[] xval, float id, byte[] L, int k) {
        for (int i = 0; i < 8; ++i) {
            int l = Blocks.nearestInt(0.5f * (id * xval[8 * k + i] - 1));
            L[8 * k + i] = (byte) Math.max(0, Math.min(MAX_Q - 1, l));
        }
        return IQ2Search.key(L, 8 * k);
    }

    /** Σ weight·xval·q and Σ weight·q² over n values, q = 2L + 1: the least-squares fit's terms. */
    private static void fit(float[] weight, float[] xval, byte[] L, int n, float[] sums) {
        float sumqx = 0, sumq2 = 0;
        for (int i = 0; i < n; ++i) {
            float w = weight[i];
            float q = 2 * L[i] + 1;
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
        }
        sums[0] = sumqx;
        sums[1] = sumq2;
    }

    /** The grid entry of group k's final coordinates L[8k..], which must be on the grid. */
    private static int onGrid(IQ2Search grid, byte[] L, int k) {
        int g = grid.entry(IQ2Search.key(L, 8 * k));
        if (g < 0) {
            throw new IllegalStateException("IQ2 levels not on the grid");
        }
        return g;
    }

    /** A sub-block scale as its 4-bit code, given 1/d. */
    private static int scaleCode(float id, float scale) {
        return Math.max(0, Math.min(15, Blocks.nearestInt(0.5f * (id * scale - 1))));
    }

    /** IQ2_XXS (66 bytes per 256 values); needs an importance row. */
    static void quantizeXxs(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(GGMLType.IQ2_XXS, n);
        IQ2Search grid = IQ2Search.xxs();
        float[] scales = new float[QK / 32];
        float[] weight = new float[32], waux = new float[32], xval = new float[32], sums = new float[2];
        byte[] L = new byte[32], aux = new byte[32];
        int[] signs = new int[4];
        int[] q2 = new int[2 * (QK / 32)];
        for (int ibl = 0; ibl < n / QK; ++ibl) {
            long y = dstOff + 66L * ibl;
            int xbl = srcOff + QK * ibl;
            dst.asSlice(y, 66).fill((byte) 0);
            Arrays.fill(q2, 0);
            float maxScale = 0;
            float sigma2 = sumSquares(src, xbl) / QK;
            for (int ib = 0; ib < QK / 32; ++ib) {
                int xb = xbl + 32 * ib;
                float max = prepare(src, xb, importance, QK * ibl + 32 * ib, sigma2, 32, true, weight, waux, xval, signs);
                if (max < Blocks.GROUP_MAX_EPS) {
                    scales[ib] = 0;
                    continue;
                }
                float scale = QpQuants.makeQpQuants(32, MAX_Q + 1, xval, 0, L, weight, 0);
                float effMax = scale * MAX_Q;
                if (effMax <= 0) {
                    scales[ib] = 0;
                    continue;
                }
                float best = 0;
                for (int is = -6; is <= 6; ++is) {
                    float id = (2 * MAX_Q - 1 + is * 0.1f) / effMax;
                    float thisScale = 1 / id;
                    for (int k = 0; k < 4; ++k) {
                        grid.nearest(round(xval, id, aux, k), xval, 8 * k, waux, 8 * k, thisScale, aux, 8 * k);
                    }
                    fit(weight, xval, aux, 32, sums);
                    if (sums[1] > 0 && sums[0] * sums[0] > best * sums[1]) {
                        scale = sums[0] / sums[1];
                        best = scale * sums[0];
                        System.arraycopy(aux, 0, L, 0, 32);
                    }
                }
                if (scale > 0) {
                    float id = 1 / scale;
                    for (int k = 0; k < 4; ++k) {
                        int g = grid.nearest(round(xval, id, aux, k), xval, 8 * k, waux, 8 * k, scale, aux, 8 * k);
                        grid.levelsOf(g, L, 8 * k);
                    }
                    fit(weight, xval, L, 32, sums);
                    if (sums[1] > 0) {
                        scale = sums[0] / sums[1];
                    }
                }
                if (scale < 0) {
                    scale = -scale;
                    for (int k = 0; k < 4; ++k) {
                        signs[k] = ~signs[k] & 127;
                    }
                }
                for (int k = 0; k < 4; ++k) {
                    q2[2 * ib] |= onGrid(grid, L, k) << 8 * k;
                    q2[2 * ib + 1] |= signs[k] << 7 * k;
                }
                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 31;
            Blocks.putF16(dst, y, d);
            float id = 1 / d;
            for (int ib = 0; ib < QK / 32; ++ib) {
                q2[2 * ib + 1] |= scaleCode(id, scales[ib]) << 28;
            }
            MemorySegment.copy(q2, 0, dst, Blocks.I32, y + 2, q2.length);
        }
    }

    /**
     * The scale search IQ2_XS and IQ2_S share, for the 16 magnitudes xval of a sub-block whose
     * largest is max: 19 trial scales around max/5, each rounding both groups to the grid (a
     * group off it takes its nearest neighbour at that scale); the best fit's coordinates go to L.
     * Groups that were off the grid are then rounded again at the fitted scale, and the scale
     * refitted. Returns the scale; L's groups are then on the grid (entry 0 when no trial fits,
     * as when all 16 weights are 0: the scale is then max/5).
     */
    private static float search16(IQ2Search grid, float[] xval, float[] weight, float[] waux, float max,
                                  byte[] L, byte[] aux, float[] sums) {
        Arrays.fill(L, (byte) 0);
        float best = 0;
        float scale = max / (2 * MAX_Q - 1);
        int offGrid = 0;
        for (int is = -9; is <= 9; ++is) {
            float id = (2 * MAX_Q - 1 + is * 0.1f) / max;
            float thisScale = 1 / id;
            int off = 0;
            for (int k = 0; k < 2; ++k) {
                int u = round(xval, id, aux, k);
                if (grid.entry(u) < 0) {
                    off |= 1 << k;
                    grid.nearest(u, xval, 8 * k, waux, 8 * k, thisScale, aux, 8 * k);
                }
            }
            fit(weight, xval, aux, 16, sums);
            if (sums[1] > 0 && sums[0] * sums[0] > best * sums[1]) {
                scale = sums[0] / sums[1];
                best = scale * sums[0];
                System.arraycopy(aux, 0, L, 0, 16);
                offGrid = off;
            }
        }
        if (offGrid != 0 && scale > 0) {
            float id = 1 / scale;
            for (int k = 0; k < 2; ++k) {
                if ((offGrid >> k & 1) != 0) {
                    grid.nearest(round(xval, id, L, k), xval, 8 * k, waux, 8 * k, scale, L, 8 * k);
                }
            }
            fit(weight, xval, L, 16, sums);
            if (sums[1] > 0) {
                scale = sums[0] / sums[1];
            }
        }
        return scale;
    }

    /** IQ2_XS (74 bytes per 256 values); needs an importance row. */
    static void quantizeXs(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(GGMLType.IQ2_XS, n);
        quantize16(false, src, srcOff, n, dst, dstOff, importance);
    }

    /** IQ2_S (82 bytes per 256 values), with an importance row or, as llama.cpp also defines it, without (null). */
    static void quantizeS(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(GGMLType.IQ2_S, n);
        quantize16(true, src, srcOff, n, dst, dstOff, importance);
    }

    /**
     * IQ2_XS or (s) IQ2_S, whose quantizers differ only where written here: IQ2_S takes
     * sigma2 = 2·Σx²/256 (IQ2_XS Σx²/256), stores signs whole (no parity), zeroes sub-blocks below
     * 1e-8 (IQ2_XS 1e-15), keeps the grid entries of a super-block whose scales are all 0 (IQ2_XS
     * zeroes them), stores d·0.9875 and lays its block out differently (see the formats).
     */
    private static void quantize16(boolean s, float[] src, int srcOff, int n, MemorySegment dst, long dstOff,
                                   float[] importance) {
        IQ2Search grid = s ? IQ2Search.s() : IQ2Search.xs();
        int bytes = s ? 82 : 74;
        float[] scales = new float[QK / 16];
        float[] weight = new float[16], waux = new float[16], xval = new float[16], sums = new float[2];
        byte[] L = new byte[16], aux = new byte[16];
        int[] signs = new int[2];
        for (int ibl = 0; ibl < n / QK; ++ibl) {
            long y = dstOff + (long) bytes * ibl;
            int xbl = srcOff + QK * ibl;
            dst.asSlice(y, bytes).fill((byte) 0);
            float maxScale = 0;
            float sumx2 = sumSquares(src, xbl);
            float sigma2 = (s ? 2 * sumx2 : sumx2) / QK;
            for (int ib = 0; ib < QK / 16; ++ib) {
                float max = prepare(src, xbl + 16 * ib, importance, QK * ibl + 16 * ib, sigma2, 16, !s, weight, waux, xval, signs);
                if (max < (s ? GROUP_MAX_EPS_IQ2_S : Blocks.GROUP_MAX_EPS)) {
                    scales[ib] = 0;
                    continue;
                }
                float scale = search16(grid, xval, weight, waux, max, L, aux, sums);
                if (scale < 0) {
                    scale = -scale;
                    for (int k = 0; k < 2; ++k) {
                        signs[k] = ~signs[k] & (s ? 255 : 127);
                    }
                }
                for (int k = 0; k < 2; ++k) {
                    int g = onGrid(grid, L, k);
                    int i8 = 2 * ib + k;
                    if (s) {
                        dst.set(Blocks.I8, y + 2 + i8, (byte) g);
                        long qh = y + 66 + i8 / 4;
                        dst.set(Blocks.I8, qh, (byte) (Blocks.u8(dst, qh) | (g >> 8) << 2 * (i8 % 4)));
                        dst.set(Blocks.I8, y + 2 + QK / 8 + i8, (byte) signs[k]);
                    } else {
                        dst.set(Blocks.I16, y + 2 + 2L * i8, (short) (g | signs[k] << 9));
                    }
                }
                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }
            if (maxScale == 0) {
                if (!s) {
                    dst.asSlice(y + 2, QK / 4).fill((byte) 0);
                }
                continue;
            }
            float d = maxScale / 31;
            Blocks.putF16(dst, y, s ? d * 0.9875f : d);
            float id = 1 / d;
            long at = y + bytes - QK / 32;
            for (int ib = 0; ib < QK / 16; ib += 2) {
                dst.set(Blocks.I8, at + ib / 2, (byte) (scaleCode(id, scales[ib]) | scaleCode(id, scales[ib + 1]) << 4));
            }
        }
    }
}
