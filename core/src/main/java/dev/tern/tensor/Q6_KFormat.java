package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q6_K: super-blocks of 256 values as 6-bit levels meaning d·sc·(q-32), with a signed 8-bit
 * scale per 16 values (210 bytes: ql[128] low nibbles, qh[64] high bit pairs, scales[16],
 * fp16 d last). Within each half of 128 values, ql[l] holds values l and l+64, ql[l+32] values
 * l+32 and l+96, and qh[l] the top two bits of l, l+32, l+64, l+96.
 */
public final class Q6_KFormat implements TensorFormat {
    public static final Q6_KFormat INSTANCE = new Q6_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 210;

    private Q6_KFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q6_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o + 208);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h;
                long qh = o + 128 + 32 * h;
                long sc = o + 192 + 8 * h;
                for (int g = 0; g < 2; g++) {
                    int xo = xOff + b * QK + 128 * h + 16 * g;
                    ByteVector a = Vec.load16(w, ql + 16 * g);
                    ByteVector c = Vec.load16(w, ql + 32 + 16 * g);
                    ByteVector hb = Vec.load16(w, qh + 16 * g);
                    ByteVector q1 = a.and((byte) 0x0F).or(hb.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q2 = c.and((byte) 0x0F).or(hb.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30));
                    ByteVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(hb.and((byte) 0x30));
                    ByteVector q4 = c.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30));
                    acc = group(q1, x, xo, d * Blocks.s8(w, sc + g), acc);
                    acc = group(q2, x, xo + 32, d * Blocks.s8(w, sc + g + 2), acc);
                    acc = group(q3, x, xo + 64, d * Blocks.s8(w, sc + g + 4), acc);
                    acc = group(q4, x, xo + 96, d * Blocks.s8(w, sc + g + 6), acc);
                }
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector group(ByteVector q, float[] x, int xo, float scale, FloatVector acc) {
        return Vec.fmaScaled(Vec.fma16(q.sub((byte) 32), x, xo, FloatVector.zero(Vec.F)), scale, acc);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o + 208);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h;
                long qh = o + 128 + 32 * h;
                long sc = o + 192 + 8 * h;
                int y = outOff + b * QK + 128 * h;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int a = Blocks.u8(w, ql + l);
                    int c = Blocks.u8(w, ql + l + 32);
                    int hb = Blocks.u8(w, qh + l);
                    int q1 = ((a & 0xF) | ((hb & 3) << 4)) - 32;
                    int q2 = ((c & 0xF) | (((hb >> 2) & 3) << 4)) - 32;
                    int q3 = ((a >> 4) | (((hb >> 4) & 3) << 4)) - 32;
                    int q4 = ((c >> 4) | (((hb >> 6) & 3) << 4)) - 32;
                    out[y + l] = d * Blocks.s8(w, sc + is) * q1;
                    out[y + l + 32] = d * Blocks.s8(w, sc + is + 2) * q2;
                    out[y + l + 64] = d * Blocks.s8(w, sc + is + 4) * q3;
                    out[y + l + 96] = d * Blocks.s8(w, sc + is + 6) * q4;
                }
            }
        }
    }

    /** quantize_row_q6_K_ref: make_qx_quants (nmax 32, x²-weighted) per 16 values, 8-bit scales. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        float[] scales = new float[QK / 16];
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            java.util.Arrays.fill(block, (byte) 0);
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < QK / 16; ib++) {
                float scale = KQuants.makeQxQuants(16, 32, src, xo + 16 * ib, L, 16 * ib, 1);
                scales[ib] = scale;
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < 1e-15f) {
                MemorySegment.copy(block, 0, dst, Blocks.I8, o, BYTES);
                continue;
            }
            float iscale = -128.f / maxScale;
            short dBits = Blocks.toF16(1 / iscale);
            block[208] = (byte) dBits;
            block[209] = (byte) (dBits >> 8);
            for (int ib = 0; ib < QK / 16; ib++) {
                block[192 + ib] = (byte) Math.min(127, Blocks.nearestInt(iscale * scales[ib]));
            }
            float d0 = Float.float16ToFloat(dBits);
            for (int j = 0; j < QK / 16; j++) {
                float d = d0 * block[192 + j];
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = Blocks.nearestInt(src[xo + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                }
            }
            for (int h = 0; h < 2; h++) {
                int j = 128 * h;
                for (int l = 0; l < 32; l++) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    block[64 * h + l] = (byte) (q1 | (q3 << 4));
                    block[64 * h + l + 32] = (byte) (q2 | (q4 << 4));
                    block[128 + 32 * h + l] = (byte) ((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2)
                            | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
            }
            MemorySegment.copy(block, 0, dst, Blocks.I8, o, BYTES);
        }
    }
}
