package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The non-linear 4-bit levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl) and their shared
 * quantizer, ggml's quantize_row_iq4_nl_impl with or without importance weights, ported with the
 * same float operations in the same order so that results are bit-identical.
 */
final class IQ4Quants {
    /** Level of each 4-bit code, ascending: denser near zero, where most weights are. */
    static final byte[] LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    /** Starting scales tried on either side of the first one. */
    private static final int NTRY = 7;

    private IQ4Quants() {
    }

    /**
     * best_index_int8: the code of the level nearest x, ties to the upper one. A branch-free
     * binary search over the midpoints, compared doubled so that both sides are exact.
     */
    static int bestIndex(float x) {
        float x2 = x + x;
        int idx = 0;
        for (int step = 8; step > 0; step >>= 1) {
            int j = idx + step;
            idx = x2 >= (float) (LEVELS[j - 1] + LEVELS[j]) ? j : idx;
        }
        return idx;
    }

    /**
     * Encodes the {@code superBlock} values at x[xo..] in sub-blocks of 32, as quantize_iq4_nl and
     * quantize_iq4_xs do (the search ggml calls ntry 7). Each value is weighted by its square, or,
     * given importance weights, x[xo + j] by importance[io + j]·√(σ² + x²), σ² twice the
     * super-block's mean square. A sub-block's scale starts from its value of largest magnitude
     * mapped to the outermost level, then the least-squares scale for the nearest codes; 15 other
     * starting points compete. One sub-block (IQ4_NL) keeps its scale in fp16; several (IQ4_XS)
     * become 6-bit multiples of one fp16 d. The codes are then picked again for the final scale.
     * Writes d at dOff, the codes at qsOff (16 bytes per sub-block, value j in the low nibble of
     * byte j and value j+16 in its high nibble) and, for several sub-blocks, their scales plus 32
     * at scalesOff: the high 2 bits as a 16-bit word, then the low 4 bits, two to a byte.
     */
    static void quantize(float[] x, int xo, int superBlock, float[] importance, int io,
                         MemorySegment y, long dOff, long scalesOff, long qsOff) {
        int subBlocks = superBlock / 32;
        float sigma2 = 0;
        for (int j = 0; j < superBlock; ++j) {
            sigma2 += x[xo + j] * x[xo + j];
        }
        sigma2 *= 2.f / superBlock;
        byte[] codes = new byte[superBlock];
        float[] scales = new float[subBlocks];
        float[] weight = new float[32];
        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < subBlocks; ++ib) {
            int xb = xo + 32 * ib;
            for (int j = 0; j < 32; ++j) {
                float v = x[xb + j];
                weight[j] = importance == null ? v * v : importance[io + 32 * ib + j] * (float) Math.sqrt(sigma2 + v * v);
            }
            float max = Blocks.largestMagnitude(x, xb, 32);
            if (Math.abs(max) < Blocks.GROUP_MAX_EPS) {
                scales[ib] = 0;
                continue;
            }
            float d = -max / LEVELS[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                float q = LEVELS[bestIndex(id * x[xb + j])];
                float w = weight[j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
            float best = d * sumqx;
            for (int itry = -NTRY; itry <= NTRY; ++itry) {
                id = (itry + LEVELS[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; ++j) {
                    float q = LEVELS[bestIndex(id * x[xb + j])];
                    float w = weight[j];
                    sumqx += w * q * x[xb + j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (subBlocks > 1) {
            float d = -maxScale / 32;
            Blocks.putF16(y, dOff, d);
            float id = d != 0 ? 1 / d : 0.f;
            int scalesH = 0;
            for (int ib = 0; ib < subBlocks; ++ib) {
                int l = Math.max(-32, Math.min(31, Blocks.nearestInt(id * scales[ib])));
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0.f;
                for (int j = 0; j < 32; ++j) {
                    codes[32 * ib + j] = (byte) bestIndex(idl * x[xo + 32 * ib + j]);
                }
                l += 32;
                long lo = scalesOff + 2 + ib / 2;
                int low = ib % 2 == 0 ? l & 0xF : Blocks.u8(y, lo) | (l & 0xF) << 4;
                y.set(Blocks.I8, lo, (byte) low);
                scalesH |= (l >> 4) << 2 * ib;
            }
            y.set(Blocks.I16, scalesOff, (short) scalesH);
        } else {
            Blocks.putF16(y, dOff, scales[0]);
            float id = scales[0] != 0 ? 1 / scales[0] : 0;
            for (int j = 0; j < superBlock; ++j) {
                codes[j] = (byte) bestIndex(id * x[xo + j]);
            }
        }

        for (int i = 0; i < subBlocks; ++i) {
            for (int j = 0; j < 16; ++j) {
                y.set(Blocks.I8, qsOff + 16 * i + j, (byte) (codes[32 * i + j] | codes[32 * i + 16 + j] << 4));
            }
        }
    }
}
