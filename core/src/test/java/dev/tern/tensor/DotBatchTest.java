package dev.tern.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** dotBatch against one {@link TensorFormat#dot} call per activation vector. */
class DotBatchTest {

    static List<TensorFormat> formats() {
        return AllFormats.all();
    }

    @ParameterizedTest
    @MethodSource("formats")
    void batchMatchesSingleDots(TensorFormat format) {
        int bs = format.type().blockSize;
        int[] sizes = bs == 1 ? new int[]{5, 300, 1037} : new int[]{bs, 3 * bs, Math.max(2048, 9 * bs)};
        Random rnd = new Random(11 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : sizes) {
                for (int batch : new int[]{1, 5}) {
                    int xOff = rnd.nextInt(4);
                    float[] w = DotKernelTest.gaussian(rnd, n);
                    long byteOffset = format.type().blockBytes * (long) rnd.nextInt(3);
                    MemorySegment seg = arena.allocate(byteOffset + format.type().byteSize(n));
                    format.quantize(w, 0, n, seg, byteOffset);
                    float[][] xs = new float[batch][];
                    for (int b = 0; b < batch; b++) {
                        xs[b] = DotKernelTest.gaussian(rnd, n + xOff);
                    }
                    int outOff = 2;
                    int stride = 3;
                    float[] out = new float[outOff + batch * stride];
                    Arrays.fill(out, Float.NaN);
                    format.dotBatch(seg, byteOffset, xs, xOff, n, out, outOff, stride);

                    float[] deq = new float[n];
                    format.dequantize(seg, byteOffset, deq, 0, n);
                    for (int b = 0; b < batch; b++) {
                        double absSum = 0;
                        for (int i = 0; i < n; i++) {
                            absSum += Math.abs((double) deq[i] * xs[b][xOff + i]);
                        }
                        float single = format.dot(seg, byteOffset, xs[b], xOff, n);
                        assertEquals(single, out[outOff + b * stride], 2.0 * n * 0x1p-24 * absSum + 1e-30,
                                format.type() + " n=" + n + " batch=" + batch + " b=" + b);
                    }
                    for (int i = 0; i < out.length; i++) {
                        if (i < outOff || (i - outOff) % stride != 0) {
                            assertTrue(Float.isNaN(out[i]), "dotBatch wrote outside its slots at " + i);
                        }
                    }
                }
            }
        }
    }
}
