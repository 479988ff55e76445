package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min;
 * value = d·sc·q - dmin·m (144 bytes: fp16 d, fp16 dmin, scales[12], qs[128]; each 32 bytes of
 * qs hold sub-block 2c in low nibbles and 2c+1 in high nibbles).
 */
public final class Q4_KFormat implements TensorFormat {
    public static final Q4_KFormat INSTANCE = new Q4_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 144;

    private Q4_KFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float dmin = Blocks.f16(w, o + 2);
            for (int c = 0; c < 4; c++) {
                int xo = xOff + b * QK + 64 * c;
                ByteVector q0 = Vec.load16(w, o + 16 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 32 + 32 * c);
                FloatVector lo = Vec.fma16(q0.and((byte) 0x0F), x, xo, FloatVector.zero(Vec.F));
                lo = Vec.fma16(q1.and((byte) 0x0F), x, xo + 16, lo);
                FloatVector hi = Vec.fma16(q0.lanewise(VectorOperators.LSHR, 4), x, xo + 32, FloatVector.zero(Vec.F));
                hi = Vec.fma16(q1.lanewise(VectorOperators.LSHR, 4), x, xo + 48, hi);
                FloatVector xlo = Vec.sum16(x, xo + 16, Vec.sum16(x, xo, FloatVector.zero(Vec.F)));
                FloatVector xhi = Vec.sum16(x, xo + 48, Vec.sum16(x, xo + 32, FloatVector.zero(Vec.F)));
                acc = Vec.fmaScaled(lo, d * KQuants.scaleK4(w, o + 4, 2 * c), acc);
                acc = Vec.fmaScaled(xlo, -(dmin * KQuants.minK4(w, o + 4, 2 * c)), acc);
                acc = Vec.fmaScaled(hi, d * KQuants.scaleK4(w, o + 4, 2 * c + 1), acc);
                acc = Vec.fmaScaled(xhi, -(dmin * KQuants.minK4(w, o + 4, 2 * c + 1)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float min = Blocks.f16(w, o + 2);
            for (int c = 0; c < 4; c++) {
                int y = outOff + b * QK + 64 * c;
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                ByteVector q0 = Vec.load16(w, o + 16 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 32 + 32 * c);
                // x + (-m) is x - m exactly, so ggml's d1·q - m1 is reproduced bit for bit.
                Vec.store16(q0.and((byte) 0x0F), d1, -m1, out, y);
                Vec.store16(q1.and((byte) 0x0F), d1, -m1, out, y + 16);
                Vec.store16(q0.lanewise(VectorOperators.LSHR, 4), d2, -m2, out, y + 32);
                Vec.store16(q1.lanewise(VectorOperators.LSHR, 4), d2, -m2, out, y + 48);
            }
        }
    }

    /** quantize_row_q4_K_ref: make_qkx2_quants per sub-block (nmax 15, 21 trial scales). */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, 15, -1.f, 0.1f, 20, dst, o, o + 4, L);
            for (int j = 0; j < QK; j += 64) {
                for (int l = 0; l < 32; l++) {
                    dst.set(Blocks.I8, o + 16 + j / 2 + l, (byte) (L[j + l] | (L[j + l + 32] << 4)));
                }
            }
        }
    }
}
