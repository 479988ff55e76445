package dev.tern.bench;

import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Matrix × vector on one thread, as decode runs it: {@code rows} one-row dot products (impl
 * "dot", the old path) against the format's several-rows kernel (impl "rows"). The matrices
 * together are larger than the caches ({@code mb} MB of weights, cycled through), so this
 * measures the kernels at memory speed; GB/s = mb / 1000 × ops/s / matrices.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:ObjectAlignmentInBytes=64"})
public class MatvecBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4"})
    public String type;

    @Param({"dot", "rows"})
    public String impl;

    @Param({"2048"})
    public int rows;

    @Param({"2048"})
    public int cols;

    /** Total weight bytes in MB, spread over as many rows × cols matrices as it takes. */
    @Param({"600"})
    public int mb;

    private TensorFormat format;
    private MemorySegment[] matrices;
    private long rowBytes;
    private float[] x;
    private float[] out;
    private int next;

    @Setup
    public void setUp() {
        format = TensorFormat.of(GGMLType.valueOf(type));
        rowBytes = format.type().byteSize(cols);
        int count = (int) Math.max(1, mb * 1_000_000L / (rowBytes * rows));
        matrices = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            matrices[i] = Weights.matrix(format, rows, cols, 42 + i);
        }
        x = Weights.vector(cols, 7);
        out = new float[rows];
    }

    /** One matrix × vector; bytes/s = rows × cols × bytes per value × ops/s. */
    @Benchmark
    public float[] matvec() {
        MemorySegment w = matrices[next];
        next = next + 1 == matrices.length ? 0 : next + 1;
        if (impl.equals("rows")) {
            format.dotRows(w, 0, rowBytes, rows, x, 0, cols, out, 0);
        } else {
            for (int r = 0; r < rows; r++) {
                out[r] = format.dot(w, r * rowBytes, x, 0, cols);
            }
        }
        return out;
    }
}
