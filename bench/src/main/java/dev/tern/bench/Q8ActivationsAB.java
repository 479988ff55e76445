package dev.tern.bench;

import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The activation-format experiment for Q8_0 matrix × vector: float activations (Tern's kernel)
 * against activations quantized to Q8_0 blocks as llama.cpp does, multiplied in 16-bit integers
 * (the Vector API has no VNNI or pmaddubsw; products of two int8 fit in a short, adjacent pairs
 * are summed into ints) and scaled per block. Timed by thread CPU time, alternating, on a
 * matrix set of the given size in MB. Usage: {@code java -cp tern-jmh.jar
 * dev.tern.bench.Q8ActivationsAB [MB]}.
 */
public final class Q8ActivationsAB {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ThreadMXBean BEAN = ManagementFactory.getThreadMXBean();

    private Q8ActivationsAB() {
    }

    public static void main(String[] args) {
        long total = (args.length > 0 ? Long.parseLong(args[0]) : 400) * 1_000_000L;
        TensorFormat q8 = TensorFormat.of(GGMLType.Q8_0);
        int cols = 2048;
        long rowBytes = q8.type().byteSize(cols);
        int rows = (int) Math.min(2048, Math.max(4, total / rowBytes / 4 * 4));
        int count = (int) Math.max(1, total / (rowBytes * rows));
        MemorySegment[] ms = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            ms[i] = Weights.matrix(q8, rows, cols, 42 + i);
        }
        float[] x = Weights.vector(cols, 7);
        float[] out = new float[rows];
        short[] xq = new short[cols];
        float[] dx = new float[cols / 32];
        double gb = rows * rowBytes / 1e9;
        double[][] rate = new double[2][12];
        int next = 0;
        for (int round = 0; round < 12; round++) {
            for (int v = 0; v < 2; v++) {
                long start = BEAN.getCurrentThreadCpuTime(), now;
                int done = 0;
                do {
                    if (v == 0) {
                        q8.dotRows(ms[next], 0, rowBytes, rows, x, 0, cols, out, 0);
                    } else {
                        quantize(x, cols, xq, dx);
                        intRows(ms[next], rowBytes, rows, xq, dx, cols, out);
                    }
                    next = next + 1 == count ? 0 : next + 1;
                    done++;
                } while ((now = BEAN.getCurrentThreadCpuTime()) < start + 250_000_000L);
                rate[v][round] = gb * done / ((now - start) / 1e9);
            }
        }
        String[] names = {"float activations", "int8 activations"};
        for (int v = 0; v < 2; v++) {
            double[] r = Arrays.copyOfRange(rate[v], 2, 12);
            Arrays.sort(r);
            System.out.printf("%-18s %7.2f GB/s (min %.2f, max %.2f, n=%d)%n", names[v], (r[4] + r[5]) / 2, r[0], r[9], r.length);
        }
    }

    /** x as Q8_0 blocks (amax/127 scale, round to nearest), widened to shorts. */
    private static void quantize(float[] x, int n, short[] xq, float[] dx) {
        for (int b = 0; b < n / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + i]));
            }
            float d = amax / 127, id = d != 0 ? 1 / d : 0;
            dx[b] = d;
            for (int i = 0; i < 32; i++) {
                xq[b * 32 + i] = (short) Math.round(x[b * 32 + i] * id);
            }
        }
    }

    private static void intRows(MemorySegment w, long rowBytes, int rows, short[] xq, float[] dx, int n, float[] out) {
        for (int r = 0; r < rows; r += 4) {
            long o0 = r * rowBytes, o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int b = 0; b < n / 32; b++) {
                long bo = b * 34L;
                ShortVector xv = ShortVector.fromArray(S, xq, b * 32);
                float d = dx[b];
                IntVector p0 = ((ShortVector) ByteVector.fromMemorySegment(B32, w, o0 + bo + 2, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2S, S, 0)).mul(xv).reinterpretAsInts();
                a0 = ((FloatVector) p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(p0.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, d * Float.float16ToFloat(w.get(I16, o0 + bo))), a0);
                IntVector p1 = ((ShortVector) ByteVector.fromMemorySegment(B32, w, o1 + bo + 2, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2S, S, 0)).mul(xv).reinterpretAsInts();
                a1 = ((FloatVector) p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(p1.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, d * Float.float16ToFloat(w.get(I16, o1 + bo))), a1);
                IntVector p2 = ((ShortVector) ByteVector.fromMemorySegment(B32, w, o2 + bo + 2, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2S, S, 0)).mul(xv).reinterpretAsInts();
                a2 = ((FloatVector) p2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(p2.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, d * Float.float16ToFloat(w.get(I16, o2 + bo))), a2);
                IntVector p3 = ((ShortVector) ByteVector.fromMemorySegment(B32, w, o3 + bo + 2, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2S, S, 0)).mul(xv).reinterpretAsInts();
                a3 = ((FloatVector) p3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(p3.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, d * Float.float16ToFloat(w.get(I16, o3 + bo))), a3);
            }
            out[r] = a0.reduceLanes(VectorOperators.ADD);
            out[r + 1] = a1.reduceLanes(VectorOperators.ADD);
            out[r + 2] = a2.reduceLanes(VectorOperators.ADD);
            out[r + 3] = a3.reduceLanes(VectorOperators.ADD);
        }
    }
}
