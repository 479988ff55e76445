package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import org.openjdk.jmh.annotations.*;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Decode attention at depth for a Llama-3.2-1B-like shape (16 layers, 32 query heads, 8 KV
 * heads of 64): one operation is one token's attention through all 16 layers over
 * {@code depth} cached positions, per KV cache type. The cache (up to 268 MB in F32) is larger
 * than the CPU caches, so this is the memory-bound case; KV bytes read per operation =
 * (depth + 1) × {@link BlockPool#bytesPerPosition()} (F16 at 2048: 67 MB). It lives in
 * dev.tern.model to reach the package-private kernel.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
public class AttentionBenchmark {
    @Param({"2048", "4096"})
    public int depth;

    @Param({"F32", "F16", "Q8_0"})
    public String cacheType;

    @Param({"2"})
    public int threads;

    private ModelConfig config;
    private WorkerPool workers;
    private Attention attention;
    private Batch batch;
    private float[] q, out;

    @Setup
    public void setUp() {
        config = new ModelConfig("llama", 2048, 8192, 16, 32, 8, 64, 32000, 8192, 1e-5f, 5e5f, 64, RopeStyle.NORMAL, 1f,
                false, true);
        int kvDim = config.kvDim();
        BlockPool pool = new BlockPool(config.layers(), kvDim, config.headDim(), BlockPool.blocksFor(depth + 1),
                KVCacheType.valueOf(cacheType));
        BlockTable seq = new BlockTable(pool, depth + 1);
        seq.grow(depth + 1);
        SplittableRandom random = new SplittableRandom(7);
        float[] k = new float[kvDim], v = new float[kvDim];
        for (int p = 0; p <= depth; p++) {
            for (int l = 0; l < config.layers(); l++) {
                for (int i = 0; i < kvDim; i++) {
                    k[i] = (float) random.nextDouble(-2, 2);
                    v[i] = (float) random.nextDouble(-1, 1);
                }
                pool.write(seq.block(p), l, seq.slot(p), k, 0, v, 0);
            }
        }
        batch = new Batch().add(0, seq, depth, true);
        q = new float[config.qDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextDouble(-1, 1);
        }
        out = new float[config.qDim()];
        workers = new WorkerPool(threads);
        attention = new Attention(config);
    }

    @TearDown
    public void tearDown() {
        workers.close();
    }

    @Benchmark
    public float decodeAllLayers() {
        for (int l = 0; l < config.layers(); l++) {
            attention.run(workers, l, batch, q, out, 0);
        }
        return out[0];
    }
}
