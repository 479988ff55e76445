package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * TQ2_0, llama.cpp's 2-bit ternary type (TriLM, BitNet b1.58): blocks of 256 values as 2-bit
 * codes q meaning (q − 1)·d (66 bytes: qs[64], fp16 d). Within each half of 128 values, bits
 * 2l..2l+1 of qs[32h + m] hold value 128h + 32l + m (m < 32). Codes are 0..2 as llama.cpp writes
 * them; a stored 3 reads as 2·d, as ggml's dequantize_row_tq2_0 decodes it.
 */
public final class TQ2_0Format implements TensorFormat {
    public static final TQ2_0Format INSTANCE = new TQ2_0Format();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 66;
    private static final int D = 64;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Lookup tables for selectFrom, indexed by a byte's low nibble (selectFrom takes indexes
     * modulo 16): as float bits, the level q − 1 of its low code (bits 0–1) and of its high
     * code (bits 2–3).
     */
    private static final int[] LOW = new int[16];
    private static final int[] HIGH = new int[16];

    static {
        for (int i = 0; i < 16; i++) {
            LOW[i] = Float.floatToIntBits((i & 3) - 1);
            HIGH[i] = Float.floatToIntBits((i >> 2) - 1);
        }
    }

    private TQ2_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.TQ2_0;
    }

    /** The levels q − 1 of the 16 codes at bits 2l..2l+1 of the bytes at off. */
    private static ByteVector levels(MemorySegment w, long off, int l) {
        return Vec.load16(w, off).lanewise(LSHR, 2 * l).and((byte) 3).sub((byte) 1);
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(LOW, HIGH, w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            FloatVector s = FloatVector.zero(Vec.F);
            for (int c = 0; c < 4; c++) {
                int xo = xOff + b * QK + 128 * (c >> 1) + 16 * (c & 1);
                for (int l = 0; l < 4; l++) {
                    s = Vec.fma16(levels(w, o + 16 * c, l), x, xo + 32 * l, s);
                }
            }
            acc = Vec.fmaScaled(s, Blocks.f16(w, o + D), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 512-bit kernel, written out in full (a vector that crosses a call the JIT does not
     * inline gets boxed). Each 16 bytes of qs widen to ints once; a lane's four codes then
     * become their levels as floats by a table lookup each, the low nibble's two codes without
     * a shift (selectFrom reads the index modulo 16) and the high nibble's after one. Each chunk
     * of qs has its own sum, so that the block's sixteen multiply-adds form four short chains.
     */
    private static float dot512(int[] low, int[] high, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector lo = IntVector.fromArray(I, low, 0);
        IntVector hi = IntVector.fromArray(I, high, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xb = xo;
        for (long p = 0; p < end; p += BYTES, xb += QK) {
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, row, p, LE).convertShape(B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 16, LE).convertShape(B2I, I, 0);
            IntVector q2 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 32, LE).convertShape(B2I, I, 0);
            IntVector q3 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 48, LE).convertShape(B2I, I, 0);
            IntVector h0 = q0.lanewise(LSHR, 4), h1 = q1.lanewise(LSHR, 4), h2 = q2.lanewise(LSHR, 4), h3 = q3.lanewise(LSHR, 4);
            FloatVector s0 = q0.selectFrom(lo).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb));
            FloatVector s1 = q1.selectFrom(lo).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb + 16));
            FloatVector s2 = q2.selectFrom(lo).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb + 128));
            FloatVector s3 = q3.selectFrom(lo).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb + 144));
            s0 = q0.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 32), s0);
            s1 = q1.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 48), s1);
            s2 = q2.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 160), s2);
            s3 = q3.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 176), s3);
            s0 = h0.selectFrom(lo).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 64), s0);
            s1 = h1.selectFrom(lo).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 80), s1);
            s2 = h2.selectFrom(lo).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 192), s2);
            s3 = h3.selectFrom(lo).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 208), s3);
            s0 = h0.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 96), s0);
            s1 = h1.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 112), s1);
            s2 = h2.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 224), s2);
            s3 = h3.selectFrom(hi).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 240), s3);
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            acc = s0.add(s1).add(s2.add(s3)).fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2), with no table: eight bytes a load, widened to
     * int lanes and or-ed into the float 2²³, so that masking all but code l leaves the float
     * 2²³ + q·4ˡ, and subtracting 2²³ + 4ˡ the level times 4ˡ, exactly; each code's sum is
     * scaled back at the end, by a power of two. That is an and and a subtract a vector, where a
     * lookup takes a shift and a selectFrom (two instructions, one to wrap the index). Each
     * iteration takes half a block, its four loads written out, so that the x offsets step by a
     * constant and C2 drops their range checks. The generic {@link #dot} ran 1.2–1.3 GB/s here,
     * this 2.8–3.1 (CpuTimeAB matvec TQ2_0, one thread, Zen 3); from cache, a loop over the
     * block's eight loads read 2.2 GB/s with lookups and 2.4 with this decoding, and writing out
     * the whole block 3.3, twice the code for a tenth more.
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int h = 0; h < 2 * blocks; h++) {
            long b = o + (long) (h >> 1) * BYTES, p = b + 32 * (h & 1);
            int xh = xo + 128 * h;
            FloatVector s0 = FloatVector.zero(H), s1 = s0, s2 = s0, s3 = s0;
            IntVector q = ((IntVector) ByteVector.fromMemorySegment(B8, w, p, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).or(0x4B000000);
            s0 = q.and(0x4B000003).reinterpretAsFloats().sub(0x1p23f + 1).fma(FloatVector.fromArray(H, x, xh), s0);
            s1 = q.and(0x4B00000C).reinterpretAsFloats().sub(0x1p23f + 4).fma(FloatVector.fromArray(H, x, xh + 32), s1);
            s2 = q.and(0x4B000030).reinterpretAsFloats().sub(0x1p23f + 16).fma(FloatVector.fromArray(H, x, xh + 64), s2);
            s3 = q.and(0x4B0000C0).reinterpretAsFloats().sub(0x1p23f + 64).fma(FloatVector.fromArray(H, x, xh + 96), s3);
            q = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).or(0x4B000000);
            s0 = q.and(0x4B000003).reinterpretAsFloats().sub(0x1p23f + 1).fma(FloatVector.fromArray(H, x, xh + 8), s0);
            s1 = q.and(0x4B00000C).reinterpretAsFloats().sub(0x1p23f + 4).fma(FloatVector.fromArray(H, x, xh + 40), s1);
            s2 = q.and(0x4B000030).reinterpretAsFloats().sub(0x1p23f + 16).fma(FloatVector.fromArray(H, x, xh + 72), s2);
            s3 = q.and(0x4B0000C0).reinterpretAsFloats().sub(0x1p23f + 64).fma(FloatVector.fromArray(H, x, xh + 104), s3);
            q = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + 16, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).or(0x4B000000);
            s0 = q.and(0x4B000003).reinterpretAsFloats().sub(0x1p23f + 1).fma(FloatVector.fromArray(H, x, xh + 16), s0);
            s1 = q.and(0x4B00000C).reinterpretAsFloats().sub(0x1p23f + 4).fma(FloatVector.fromArray(H, x, xh + 48), s1);
            s2 = q.and(0x4B000030).reinterpretAsFloats().sub(0x1p23f + 16).fma(FloatVector.fromArray(H, x, xh + 80), s2);
            s3 = q.and(0x4B0000C0).reinterpretAsFloats().sub(0x1p23f + 64).fma(FloatVector.fromArray(H, x, xh + 112), s3);
            q = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + 24, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).or(0x4B000000);
            s0 = q.and(0x4B000003).reinterpretAsFloats().sub(0x1p23f + 1).fma(FloatVector.fromArray(H, x, xh + 24), s0);
            s1 = q.and(0x4B00000C).reinterpretAsFloats().sub(0x1p23f + 4).fma(FloatVector.fromArray(H, x, xh + 56), s1);
            s2 = q.and(0x4B000030).reinterpretAsFloats().sub(0x1p23f + 16).fma(FloatVector.fromArray(H, x, xh + 88), s2);
            s3 = q.and(0x4B0000C0).reinterpretAsFloats().sub(0x1p23f + 64).fma(FloatVector.fromArray(H, x, xh + 120), s3);
            float d = Float.float16ToFloat(w.get(Blocks.I16, b + D));
            acc = s0.add(s1.mul(0x1p-2f)).add(s2.mul(0x1p-4f).add(s3.mul(0x1p-6f))).fma(FloatVector.broadcast(H, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** (q − 1)·d, one product per value, as ggml's dequantize_row_tq2_0 computes it. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o + D);
            for (int c = 0; c < 4; c++) {
                int yo = outOff + b * QK + 128 * (c >> 1) + 16 * (c & 1);
                for (int l = 0; l < 4; l++) {
                    Vec.store16(levels(w, o + 16 * c, l), d, out, yo + 32 * l);
                }
            }
        }
    }

    /**
     * quantize_row_tq2_0_ref (what llama-quantize's quantize_tq2_0 calls): d = the block's
     * largest magnitude, each value's code lroundf(x/d) + 1.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            float d = Ternary.largestMagnitude(src, xo);
            float id = d != 0 ? 1.0f / d : 0.0f;
            for (int j = 0; j < 64; j += 32) {
                for (int m = 0; m < 32; m++) {
                    int q = 0;
                    for (int l = 0; l < 4; l++) {
                        q += (Ternary.code(src[xo + 4 * j + m + 32 * l], id) & 3) << (2 * l);
                    }
                    block[j + m] = (byte) q;
                }
            }
            short h = Blocks.toF16(d);
            block[D] = (byte) h;
            block[D + 1] = (byte) (h >> 8);
            MemorySegment.copy(block, 0, dst, Blocks.I8, dstOff + (long) b * BYTES, BYTES);
        }
    }
}
