package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;

/** Q8_0: blocks of 32 signed bytes with one fp16 scale (34 bytes: d, qs[32]). */
public final class Q8_0Format implements TensorFormat {
    public static final Q8_0Format INSTANCE = new Q8_0Format(false);
    /**
     * The same with its dot products in {@link BatchMatmul}'s order, for 512-bit vectors: each quant
     * scaled to its weight (as the tiles' decoded rows are) and multiplied-added into one accumulator
     * per lane, where INSTANCE scales each block's sum. A token then gets the same bits from the
     * tiles in a batch as alone ({@code --batch-invariant}; {@link #inTileOrder}), for one more
     * multiply per sixteen weights in decode.
     */
    static final Q8_0Format TILE_ORDER = new Q8_0Format(true);
    private static final int QK = 32;
    private static final int BYTES = 34;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final boolean tileOrder;

    private Q8_0Format(boolean tileOrder) {
        this.tileOrder = tileOrder;
    }

    /** With 512-bit vectors its own kernels in tile order, else each row decoded ({@link TileOrderFormat}). */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TILE_ORDER : TileOrderFormat.of(INSTANCE);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q8_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        if (tileOrder) {
            return dotTileOrder(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            acc = block(w, byteOffset + (long) b * BYTES, x, xOff + b * QK, acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot} in tile order: each quant times its block's scale, multiplied-added with x into
     * one accumulator per lane; the lanes' sum plus the tiles' empty scalar tail (+0, which turns a
     * −0 sum into +0 as BatchMatmul's put does).
     */
    private static float dotTileOrder(MemorySegment w, long o, float[] x, int xo, int blocks) {
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < blocks; b++, o += BYTES, xo += QK) {
            FloatVector d = FloatVector.broadcast(Vec.F, Blocks.f16(w, o));
            acc = wide16(w, o + 2).mul(d).fma(FloatVector.fromArray(Vec.F, x, xo), acc);
            acc = wide16(w, o + 18).mul(d).fma(FloatVector.fromArray(Vec.F, x, xo + 16), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /**
     * A row of each range at a time, the four sharing each activation load. Below 512-bit vectors
     * a block takes twice the vector code and the loop grows past C2's inlining budget, so its
     * vectors get boxed (AVX2, one thread, two rows at a time: 1.0 against 7.6 GB/s): there the
     * ranges are read a row at a time.
     */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL < 16) {
            TensorFormat.super.dotRowsFour(w, offsets, rowBytes, rows, x, xOff, n, out, outs);
            return;
        }
        long end = (long) (n / QK) * BYTES;
        for (int r = 0; r < rows; r++) {
            long step = r * rowBytes;
            if (tileOrder) {
                dotQuadTileOrder(w.asSlice(offsets[0] + step, end), w.asSlice(offsets[1] + step, end),
                        w.asSlice(offsets[2] + step, end), w.asSlice(offsets[3] + step, end), x, xOff, out, outs[0] + r,
                        outs[1] + r, outs[2] + r, outs[3] + r);
                continue;
            }
            dotQuad(w.asSlice(offsets[0] + step, end), w.asSlice(offsets[1] + step, end), w.asSlice(offsets[2] + step, end),
                    w.asSlice(offsets[3] + step, end), x, xOff, out, outs[0] + r, outs[1] + r, outs[2] + r, outs[3] + r);
        }
    }

    /**
     * {@link #dot} of rows a, b, c and e (each a slice of its own, so that the JIT checks its
     * bounds once per row rather than at every load) into out[ia], out[ib], out[ic] and out[ie],
     * their blocks read in turn, in dot's order of operations. Four rows rather than two share
     * each activation load (`CpuTimeAB matvec Q8_0 400 2048`, one thread, four, standalone copy:
     * 18.7 → 20.6 GB/s from memory, 20.9 → 22.1 in cache).
     */
    private static void dotQuad(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e, float[] x, int xOff,
                                float[] out, int ia, int ib, int ic, int ie) {
        FloatVector accA = FloatVector.zero(Vec.F), accB = accA, accC = accA, accE = accA, zero = accA;
        long end = a.byteSize();
        int xo = xOff;
        for (long o = 0; o < end; o += BYTES, xo += QK) {
            FloatVector x0 = FloatVector.fromArray(Vec.F, x, xo), x1 = FloatVector.fromArray(Vec.F, x, xo + 16);
            FloatVector sa = wide16(a, o + 2).fma(x0, zero), sb = wide16(b, o + 2).fma(x0, zero);
            FloatVector sc = wide16(c, o + 2).fma(x0, zero), se = wide16(e, o + 2).fma(x0, zero);
            sa = wide16(a, o + 18).fma(x1, sa);
            sb = wide16(b, o + 18).fma(x1, sb);
            sc = wide16(c, o + 18).fma(x1, sc);
            se = wide16(e, o + 18).fma(x1, se);
            accA = Vec.fmaScaled(sa, Blocks.f16(a, o), accA);
            accB = Vec.fmaScaled(sb, Blocks.f16(b, o), accB);
            accC = Vec.fmaScaled(sc, Blocks.f16(c, o), accC);
            accE = Vec.fmaScaled(se, Blocks.f16(e, o), accE);
        }
        out[ia] = accA.reduceLanes(VectorOperators.ADD);
        out[ib] = accB.reduceLanes(VectorOperators.ADD);
        out[ic] = accC.reduceLanes(VectorOperators.ADD);
        out[ie] = accE.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #dotQuad} in tile order (1B Q8_0 decode, alternated: 26.0–27.2 → 25.3–26.0 t/s). */
    private static void dotQuadTileOrder(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e, float[] x,
                                         int xOff, float[] out, int ia, int ib, int ic, int ie) {
        FloatVector accA = FloatVector.zero(Vec.F), accB = accA, accC = accA, accE = accA;
        long end = a.byteSize();
        int xo = xOff;
        for (long o = 0; o < end; o += BYTES, xo += QK) {
            FloatVector x0 = FloatVector.fromArray(Vec.F, x, xo), x1 = FloatVector.fromArray(Vec.F, x, xo + 16);
            FloatVector da = FloatVector.broadcast(Vec.F, Blocks.f16(a, o)), db = FloatVector.broadcast(Vec.F, Blocks.f16(b, o));
            FloatVector dc = FloatVector.broadcast(Vec.F, Blocks.f16(c, o)), de = FloatVector.broadcast(Vec.F, Blocks.f16(e, o));
            accA = wide16(a, o + 2).mul(da).fma(x0, accA);
            accB = wide16(b, o + 2).mul(db).fma(x0, accB);
            accC = wide16(c, o + 2).mul(dc).fma(x0, accC);
            accE = wide16(e, o + 2).mul(de).fma(x0, accE);
            accA = wide16(a, o + 18).mul(da).fma(x1, accA);
            accB = wide16(b, o + 18).mul(db).fma(x1, accB);
            accC = wide16(c, o + 18).mul(dc).fma(x1, accC);
            accE = wide16(e, o + 18).mul(de).fma(x1, accE);
        }
        out[ia] = accA.reduceLanes(VectorOperators.ADD) + 0f;
        out[ib] = accB.reduceLanes(VectorOperators.ADD) + 0f;
        out[ic] = accC.reduceLanes(VectorOperators.ADD) + 0f;
        out[ie] = accE.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /** Sixteen quants at o widened to floats (512-bit vectors only). */
    private static FloatVector wide16(MemorySegment row, long o) {
        return (FloatVector) ByteVector.fromMemorySegment(B16, row, o, LE).convertShape(B2F, Vec.F, 0);
    }

    /**
     * {@link #dot} for 256-bit vectors: each 8 quants loaded as 8 bytes and widened straight to
     * floats (not 16 widened in two pieces), two accumulators, the row through a slice of its own
     * (`CpuTimeAB matvec Q8_0 64 2048`, AVX2, one thread, four: 6.6–7.2 → 8.8–9.4 GB/s; in cache
     * 10–11, so bound by its instructions). Stepping two rows together as on AVX-512 gained nothing.
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc0 = FloatVector.zero(H), acc1 = acc0;
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            FloatVector s0 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(B2F, H, 0))
                    .mul(FloatVector.fromArray(H, x, xi));
            FloatVector s1 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(B2F, H, 0))
                    .mul(FloatVector.fromArray(H, x, xi + 8));
            s0 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 18, LE).convertShape(B2F, H, 0))
                    .fma(FloatVector.fromArray(H, x, xi + 16), s0);
            s1 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 26, LE).convertShape(B2F, H, 0))
                    .fma(FloatVector.fromArray(H, x, xi + 24), s1);
            acc0 = s0.fma(d, acc0);
            acc1 = s1.fma(d, acc1);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot256} of one row with two tokens, each eight quants widened once for both, each
     * token's sums in dot256's order. The generic loop below, two 16-quant
     * halves per block, grows past C2's inlining budget with 8-lane vectors and boxes them: two
     * or three tokens ran at a tenth of one token's speed (`CpuTimeAB matmul Q8_0 2 100 2048`,
     * AVX2, one thread: 1.55 against 15.3 GFLOP/s).
     */
    private static void dot2x256(MemorySegment w, long o, float[] x, int x0, int x1, int blocks, float[] out, int o0, int o1) {
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector a0 = FloatVector.zero(H), a1 = a0, b0 = a0, b1 = a0;
        int xi = 0;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(B2F, H, 0);
            FloatVector sa0 = q.mul(FloatVector.fromArray(H, x, x0 + xi));
            FloatVector sb0 = q.mul(FloatVector.fromArray(H, x, x1 + xi));
            q = (FloatVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(B2F, H, 0);
            FloatVector sa1 = q.mul(FloatVector.fromArray(H, x, x0 + xi + 8));
            FloatVector sb1 = q.mul(FloatVector.fromArray(H, x, x1 + xi + 8));
            q = (FloatVector) ByteVector.fromMemorySegment(B8, row, p + 18, LE).convertShape(B2F, H, 0);
            sa0 = q.fma(FloatVector.fromArray(H, x, x0 + xi + 16), sa0);
            sb0 = q.fma(FloatVector.fromArray(H, x, x1 + xi + 16), sb0);
            q = (FloatVector) ByteVector.fromMemorySegment(B8, row, p + 26, LE).convertShape(B2F, H, 0);
            sa1 = q.fma(FloatVector.fromArray(H, x, x0 + xi + 24), sa1);
            sb1 = q.fma(FloatVector.fromArray(H, x, x1 + xi + 24), sb1);
            a0 = sa0.fma(d, a0);
            a1 = sa1.fma(d, a1);
            b0 = sb0.fma(d, b0);
            b1 = sb1.fma(d, b1);
        }
        out[o0] = a0.add(a1).reduceLanes(VectorOperators.ADD);
        out[o1] = b0.add(b1).reduceLanes(VectorOperators.ADD);
    }

    /** acc + one block's products with x[xo..xo+32), in {@link #dot}'s order. */
    private static FloatVector block(MemorySegment w, long o, float[] x, int xo, FloatVector acc) {
        FloatVector s = Vec.fma16(Vec.load16(w, o + 2), x, xo, FloatVector.zero(Vec.F));
        s = Vec.fma16(Vec.load16(w, o + 18), x, xo + 16, s);
        return Vec.fmaScaled(s, Blocks.f16(w, o), acc);
    }

    /** Each block's quants are loaded and widened once and serve both tokens. */
    @Override
    public void dotRows2(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int x0, int x1, int n,
                         float[] out, int out0Off, int out1Off) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            for (int r = 0; r < rows; r++) {
                dot2x256(w, byteOffset + r * rowBytes, x, x0, x1, n / QK, out, out0Off + r, out1Off + r);
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            long row = byteOffset + r * rowBytes;
            if (tileOrder) {
                dot2TileOrder(w, row, x, x0, x1, n / QK, out, out0Off + r, out1Off + r);
                continue;
            }
            FloatVector acc0 = FloatVector.zero(Vec.F), acc1 = acc0;
            for (int b = 0; b < n / QK; b++) {
                long o = row + (long) b * BYTES;
                int k = b * QK;
                ByteVector lo = Vec.load16(w, o + 2), hi = Vec.load16(w, o + 18);
                FloatVector s0 = Vec.fma16(hi, x, x0 + k + 16, Vec.fma16(lo, x, x0 + k, FloatVector.zero(Vec.F)));
                FloatVector s1 = Vec.fma16(hi, x, x1 + k + 16, Vec.fma16(lo, x, x1 + k, FloatVector.zero(Vec.F)));
                float d = Blocks.f16(w, o);
                acc0 = Vec.fmaScaled(s0, d, acc0);
                acc1 = Vec.fmaScaled(s1, d, acc1);
            }
            out[out0Off + r] = acc0.reduceLanes(VectorOperators.ADD);
            out[out1Off + r] = acc1.reduceLanes(VectorOperators.ADD);
        }
    }

    /** {@link #dotTileOrder} of the row at o with the tokens at x0 and x1, each block's weights scaled once for both. */
    private static void dot2TileOrder(MemorySegment w, long o, float[] x, int x0, int x1, int blocks, float[] out, int o0, int o1) {
        FloatVector acc0 = FloatVector.zero(Vec.F), acc1 = acc0;
        for (int b = 0, k = 0; b < blocks; b++, o += BYTES, k += QK) {
            FloatVector d = FloatVector.broadcast(Vec.F, Blocks.f16(w, o));
            FloatVector lo = wide16(w, o + 2).mul(d), hi = wide16(w, o + 18).mul(d);
            acc0 = hi.fma(FloatVector.fromArray(Vec.F, x, x0 + k + 16), lo.fma(FloatVector.fromArray(Vec.F, x, x0 + k), acc0));
            acc1 = hi.fma(FloatVector.fromArray(Vec.F, x, x1 + k + 16), lo.fma(FloatVector.fromArray(Vec.F, x, x1 + k), acc1));
        }
        out[o0] = acc0.reduceLanes(VectorOperators.ADD) + 0f;
        out[o1] = acc1.reduceLanes(VectorOperators.ADD) + 0f;
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            Vec.store16(Vec.load16(w, o + 2), d, out, yo);
            Vec.store16(Vec.load16(w, o + 18), d, out, yo + 16);
        }
    }

    /** quantize_row_q8_0_ref: scale amax/127, values rounded half away from zero. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float amax = 0.0f;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[xo + j]));
            }
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                dst.set(Blocks.I8, o + 2 + j, (byte) (int) Blocks.roundf(src[xo + j] * id));
            }
        }
    }
}
