package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: Q4_K with a fifth bit per value (176 bytes: fp16 d, fp16 dmin, scales[12], qh[32],
 * qs[128]; bit 2c of qh[l] is the fifth bit of value l of sub-block 2c, bit 2c+1 of 2c+1).
 */
public final class Q5_KFormat implements TensorFormat {
    public static final Q5_KFormat INSTANCE = new Q5_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 176;

    private Q5_KFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float dmin = Blocks.f16(w, o + 2);
            ByteVector qh0 = Vec.load16(w, o + 16);
            ByteVector qh1 = Vec.load16(w, o + 32);
            for (int c = 0; c < 4; c++) {
                int xo = xOff + b * QK + 64 * c;
                byte u1 = (byte) (1 << (2 * c));
                byte u2 = (byte) (2 << (2 * c));
                ByteVector q0 = Vec.load16(w, o + 48 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 64 + 32 * c);
                ByteVector l0 = q0.and((byte) 0x0F).add((byte) 16, bitSet(qh0, u1));
                ByteVector l1 = q1.and((byte) 0x0F).add((byte) 16, bitSet(qh1, u1));
                ByteVector h0 = q0.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh0, u2));
                ByteVector h1 = q1.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh1, u2));
                FloatVector lo = Vec.fma16(l1, x, xo + 16, Vec.fma16(l0, x, xo, FloatVector.zero(Vec.F)));
                FloatVector hi = Vec.fma16(h1, x, xo + 48, Vec.fma16(h0, x, xo + 32, FloatVector.zero(Vec.F)));
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

    private static VectorMask<Byte> bitSet(ByteVector qh, byte bit) {
        return qh.and(bit).compare(VectorOperators.NE, (byte) 0);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float min = Blocks.f16(w, o + 2);
            ByteVector qh0 = Vec.load16(w, o + 16);
            ByteVector qh1 = Vec.load16(w, o + 32);
            for (int c = 0; c < 4; c++) {
                int y = outOff + b * QK + 64 * c;
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                byte u1 = (byte) (1 << (2 * c));
                byte u2 = (byte) (2 << (2 * c));
                ByteVector q0 = Vec.load16(w, o + 48 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 64 + 32 * c);
                Vec.store16(q0.and((byte) 0x0F).add((byte) 16, bitSet(qh0, u1)), d1, -m1, out, y);
                Vec.store16(q1.and((byte) 0x0F).add((byte) 16, bitSet(qh1, u1)), d1, -m1, out, y + 16);
                Vec.store16(q0.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh0, u2)), d2, -m2, out, y + 32);
                Vec.store16(q1.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh1, u2)), d2, -m2, out, y + 48);
            }
        }
    }

    /** quantize_row_q5_K_ref: make_qkx2_quants per sub-block (nmax 31, 16 trial scales). */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, 31, -0.5f, 0.1f, 15, dst, o, o + 4, L);
            byte[] qh = new byte[32];
            int m1 = 1;
            int m2 = 2;
            for (int c = 0; c < QK; c += 64) {
                for (int j = 0; j < 32; j++) {
                    int l1 = L[c + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        qh[j] |= (byte) m1;
                    }
                    int l2 = L[c + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        qh[j] |= (byte) m2;
                    }
                    dst.set(Blocks.I8, o + 48 + c / 2 + j, (byte) (l1 | (l2 << 4)));
                }
                m1 <<= 2;
                m2 <<= 2;
            }
            MemorySegment.copy(qh, 0, dst, Blocks.I8, o + 16, 32);
        }
    }
}
