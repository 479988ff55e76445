package dev.tern.bench;

import dev.tern.tensor.Aligned;
import dev.tern.tensor.BatchMatmul;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import dev.tern.tensor.TensorFormat;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Matrix × matrix for a batch of tokens on one thread: the tiled {@link BatchMatmul} (impl
 * "tiled") against one dot per (row, token) (impl "dot", what the forward pass did before). GFLOP/s = 2 × rows × cols × batch
 * × ops/s / 1e9.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:ObjectAlignmentInBytes=64"})
public class MatmulBenchmark {
    @Param({"F32", "Q8_0", "Q4_0"})
    public String type;

    @Param({"tiled", "dot"})
    public String impl;

    @Param({"1", "4", "16", "64"})
    public int batch;

    @Param({"1024"})
    public int rows;

    @Param({"2048"})
    public int cols;

    private Tensor w;
    private float[] x;
    private float[] xa;
    private float[] out;

    @Setup
    public void setUp() {
        TensorFormat format = TensorFormat.of(GGMLType.valueOf(type));
        MemorySegment data = Weights.matrix(format, rows, cols, 42);
        w = new Tensor("w", format, data, rows, cols);
        x = Weights.vector(batch * cols, 7);
        // Laid out as the engine hands activations over: from a cache-line boundary.
        xa = new float[Aligned.OFFSET + x.length];
        System.arraycopy(x, 0, xa, Aligned.OFFSET, x.length);
        out = new float[batch * rows];
    }

    @Benchmark
    public float[] matmul() {
        switch (impl) {
            case "tiled" -> BatchMatmul.multiply(w, 0, rows, xa, Aligned.OFFSET, batch, out, rows);
            default -> {
                for (int r = 0; r < rows; r++) {
                    for (int t = 0; t < batch; t++) {
                        out[t * rows + r] = w.dot(r, x, t * cols);
                    }
                }
            }
        }
        return out;
    }
}
