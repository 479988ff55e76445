package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The scale searches shared by the k-quant reference quantizers (ggml-quants.c), ported with
 * the same float operations in the same order so that results are bit-identical.
 */
final class KQuants {
    static final int QK_K = 256;
    private static final float GROUP_MAX_EPS = 1e-15f;

    private KQuants() {
    }

    /**
     * make_qx_quants as the reference quantizers call it (rmse_type 1, no importance weights):
     * symmetric levels L in [0, 2·nmax) for x[xo..xo+n), each value weighted by x², the scale
     * refined over 18 trial scales around nmax/max. Returns the scale.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            int l = Blocks.nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                int l = Blocks.nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = Blocks.nearestInt(iscale * x[xo + i]);
                    L[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * make_qkx2_quants as the k-quant reference quantizers call it (squared error, nstep ≥ 1):
     * asymmetric levels L in [0, nmax] with a minimum, found by trying nstep+1 scales around
     * nmax/(max-min) and keeping the lowest weighted error. Returns the scale;
     * theMin[0] receives the (positive) offset to subtract.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] L, int lo, float[] theMin,
                                byte[] laux, float rmin, float rdelta, int nstep) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; ++i) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            theMin[0] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = Blocks.nearestInt(iscale * (x[xo + i] - min));
            l = Math.max(0, Math.min(nmax, l));
            L[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            bestError += weights[i] * (diff * diff);
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l = Blocks.nearestInt(iscale * (x[xo + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = (byte) l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[xo + i];
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    curError += weights[i] * (diff * diff);
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    /** get_scale_min_k4's scale: the 6-bit scale of sub-block j from the 12 packed bytes at {@code scales}. */
    static int scaleK4(MemorySegment w, long scales, int j) {
        if (j < 4) {
            return Blocks.u8(w, scales + j) & 63;
        }
        return (Blocks.u8(w, scales + j + 4) & 0xF) | ((Blocks.u8(w, scales + j - 4) >> 6) << 4);
    }

    /**
     * {@link #scaleK4} from the 12 scale bytes read as three little-endian ints (s0: bytes 0–3,
     * s1: 4–7, s2: 8–11): no memory access, so that it fits inside the 512-bit kernels.
     */
    static int scaleK4(int s0, int s1, int s2, int j) {
        if (j < 4) {
            return (s0 >>> 8 * j) & 63;
        }
        int k = 8 * (j - 4);
        return ((s2 >>> k) & 0xF) | (((s0 >>> k) & 0xFF) >> 6 << 4);
    }

    /** {@link #minK4} from the 12 scale bytes read as three ints, as {@link #scaleK4(int, int, int, int)}. */
    static int minK4(int s0, int s1, int s2, int j) {
        if (j < 4) {
            return (s1 >>> 8 * j) & 63;
        }
        int k = 8 * (j - 4);
        return (((s2 >>> k) & 0xFF) >> 4) | (((s1 >>> k) & 0xFF) >> 6 << 4);
    }

    /** get_scale_min_k4's min: the 6-bit min of sub-block j. */
    static int minK4(MemorySegment w, long scales, int j) {
        if (j < 4) {
            return Blocks.u8(w, scales + j + 4) & 63;
        }
        return (Blocks.u8(w, scales + j + 4) >> 4) | ((Blocks.u8(w, scales + j) >> 6) << 4);
    }

    /**
     * The shared first half of quantize_row_q4_K_ref / q5_K_ref: per 32-value sub-block scale
     * and min search, packed into 12 bytes of 6-bit values at {@code scalesOut}, d and dmin
     * stored, and the final levels (0..nmax) written to L.
     */
    static void quantizeScalesMinsK4(float[] x, int xo, int nmax, float rmin, float rdelta, int nstep,
                                     MemorySegment y, long dOff, long scalesOff, byte[] L) {
        float[] weights = new float[32];
        float[] mins = new float[QK_K / 32];
        float[] scales = new float[QK_K / 32];
        float[] theMin = new float[1];
        byte[] laux = new byte[32];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int base = xo + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l) {
                sumX2 += x[base + l] * x[base + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; ++l) {
                weights[l] = avX + Math.abs(x[base + l]);
            }
            scales[j] = makeQkx2Quants(32, nmax, x, base, weights, L, 32 * j, theMin, laux, rmin, rdelta, nstep);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        byte[] packed = new byte[12];
        for (int j = 0; j < QK_K / 32; ++j) {
            int ls = Math.min(63, Blocks.nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, Blocks.nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                packed[j] = (byte) ls;
                packed[j + 4] = (byte) lm;
            } else {
                packed[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte) ((ls >> 4) << 6);
                packed[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        MemorySegment.copy(packed, 0, y, Blocks.I8, scalesOff, 12);
        Blocks.putF16(y, dOff, maxScale / 63.f);
        Blocks.putF16(y, dOff + 2, maxMin / 63.f);

        float d0 = Blocks.f16(y, dOff);
        float dmin0 = Blocks.f16(y, dOff + 2);
        for (int j = 0; j < QK_K / 32; ++j) {
            float d = d0 * scaleK4(y, scalesOff, j);
            if (d == 0) {
                continue;
            }
            float dm = dmin0 * minK4(y, scalesOff, j);
            for (int ii = 0; ii < 32; ++ii) {
                int l = Blocks.nearestInt((x[xo + 32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
