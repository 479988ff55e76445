package dev.tern.bench;

import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One row · vector dot product per weight format, at a row length typical of a 1B model. The
 * row set is larger than the caches, so this measures the kernel at memory speed as decode sees
 * it; bytes/s = rows × rowBytes / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:ObjectAlignmentInBytes=64"})
public class DotBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4"})
    public String type;

    @Param({"2048"})
    public int cols;

    @Param({"16384"})
    public int rows;

    private TensorFormat format;
    private MemorySegment weights;
    private long rowBytes;
    private float[] x;
    private int row;

    @Setup
    public void setUp() {
        GGMLType t = GGMLType.valueOf(type);
        format = TensorFormat.of(t);
        rowBytes = t.byteSize(cols);
        weights = Arena.ofAuto().allocate(rowBytes * rows, 64);
        SplittableRandom rnd = new SplittableRandom(42);
        float[] src = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                src[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            format.quantize(src, 0, cols, weights, r * rowBytes);
        }
        x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
    }

    @Benchmark
    public float dot() {
        row = row + 1 == rows ? 0 : row + 1;
        return format.dot(weights, row * rowBytes, x, 0, cols);
    }
}
