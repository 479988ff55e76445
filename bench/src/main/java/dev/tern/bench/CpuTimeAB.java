package dev.tern.bench;

import dev.tern.tensor.Aligned;
import dev.tern.tensor.BatchMatmul;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import dev.tern.tensor.TensorFormat;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * A/B timing by thread CPU time, for a machine shared with other work (where JMH's wall-clock
 * scores mostly measure the neighbours): variants alternate round by round, each round's cost
 * is the CPU time of the benchmark thread, and the report gives median and min–max per
 * variant. Usage: {@code java -cp tern-jmh.jar dev.tern.bench.CpuTimeAB matvec TYPE [MB of weights, default 400] [cols, default 2048]} or
 * {@code ... matmul TYPE BATCH [MB, default 400] [cols, default 2048]}.
 */
public final class CpuTimeAB {
    private static final ThreadMXBean BEAN = ManagementFactory.getThreadMXBean();

    private CpuTimeAB() {
    }

    public static void main(String[] args) {
        String what = args[0];
        TensorFormat format = TensorFormat.of(GGMLType.valueOf(args[1]));
        // matvec's optional arguments are MB and cols; matmul's, after the batch, are the same.
        int extra = what.equals("matvec") ? 2 : 3;
        int cols = args.length > extra + 1 ? Integer.parseInt(args[extra + 1]) : 2048;
        long rowBytes = format.type().byteSize(cols);
        long totalBytes = args.length > extra ? Long.parseLong(args[extra]) * 1_000_000L : 400_000_000L;
        // Matrices of 2048 rows, fewer when the whole set is to fit in a cache.
        int rows = (int) Math.min(2048, Math.max(4, totalBytes / rowBytes / 4 * 4));
        if (what.equals("matvec")) {
            int count = (int) Math.max(1, totalBytes / (rowBytes * rows));
            MemorySegment[] ms = new MemorySegment[count];
            for (int i = 0; i < count; i++) {
                ms[i] = Weights.matrix(format, rows, cols, 42 + i);
            }
            float[] x = Weights.vector(cols, 7);
            float[] out = new float[rows];
            double mb = rows * rowBytes / 1e6;
            // "four" is decode's path: a quarter of the rows from each of four ranges at once.
            int quarter = rows / 4;
            long[] offsets = {0, quarter * rowBytes, 2L * quarter * rowBytes, 3L * quarter * rowBytes};
            int[] outs = {0, quarter, 2 * quarter, 3 * quarter};
            // "dequant" is the batched tiles' buffer fill: each row decoded into a block of 32 rows of floats.
            float[] block = new float[BatchMatmul.ROW_BLOCK * cols];
            // "tile-order" is decode's path with --batch-invariant.
            TensorFormat tileOrder = format.inTileOrder();
            run("GB/s", mb / 1e3, count, new String[]{"dot", "rows", "four", "dequant", "tile-order"}, new IntConsumer[]{
                    i -> {
                        for (int r = 0; r < rows; r++) {
                            out[r] = format.dot(ms[i], r * rowBytes, x, 0, cols);
                        }
                    },
                    i -> format.dotRows(ms[i], 0, rowBytes, rows, x, 0, cols, out, 0),
                    i -> format.dotRowsFour(ms[i], offsets, rowBytes, quarter, x, 0, cols, out, outs),
                    i -> {
                        for (int r = 0; r < rows; r++) {
                            format.dequantize(ms[i], r * rowBytes, block, r % BatchMatmul.ROW_BLOCK * cols, cols);
                        }
                    },
                    i -> tileOrder.dotRowsFour(ms[i], offsets, rowBytes, quarter, x, 0, cols, out, outs)});
        } else {
            int batch = Integer.parseInt(args[2]);
            int count = (int) Math.max(1, totalBytes / (rowBytes * rows));
            Tensor[] ws = new Tensor[count];
            for (int i = 0; i < count; i++) {
                ws[i] = new Tensor("w", format, Weights.matrix(format, rows, cols, 42 + i), rows, cols);
            }
            float[] x = Weights.vector(batch * cols, 7);
            // Laid out as the engine hands activations over: from a cache-line boundary.
            float[] xa = new float[Aligned.OFFSET + x.length];
            System.arraycopy(x, 0, xa, Aligned.OFFSET, x.length);
            float[] out = new float[batch * rows];
            run("GFLOP/s", 2.0 * rows * cols * batch / 1e9, count, new String[]{"tiled", "dot"}, new IntConsumer[]{
                    i -> BatchMatmul.multiply(ws[i], 0, rows, xa, Aligned.OFFSET, batch, out, rows),
                    i -> {
                        for (int r = 0; r < rows; r++) {
                            for (int t = 0; t < batch; t++) {
                                out[t * rows + r] = ws[i].dot(r, x, t * cols);
                            }
                        }
                    }});
        }
    }

    /** Alternates the variants for 12 rounds of ~0.25 s CPU each (the first 2 are warm-up). */
    private static void run(String unit, double unitsPerOp, int count, String[] names, IntConsumer[] ops) {
        int rounds = 12;
        double[][] rate = new double[ops.length][rounds];
        int[] next = new int[1];
        for (int round = 0; round < rounds; round++) {
            for (int v = 0; v < ops.length; v++) {
                long start = BEAN.getCurrentThreadCpuTime();
                long end = start + 250_000_000L;
                int done = 0;
                long now;
                do {
                    ops[v].accept(next[0]);
                    next[0] = next[0] + 1 == count ? 0 : next[0] + 1;
                    done++;
                } while ((now = BEAN.getCurrentThreadCpuTime()) < end);
                rate[v][round] = unitsPerOp * done / ((now - start) / 1e9);
            }
        }
        for (int v = 0; v < ops.length; v++) {
            double[] r = Arrays.copyOfRange(rate[v], 2, rounds);
            Arrays.sort(r);
            System.out.printf("%-9s %8.2f %s (min %.2f, max %.2f, n=%d)%n", names[v], (r[r.length / 2 - 1] + r[r.length / 2]) / 2,
                    unit, r[0], r[r.length - 1], r.length);
        }
    }
}
