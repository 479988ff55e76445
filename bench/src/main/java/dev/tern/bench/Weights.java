package dev.tern.bench;

import dev.tern.tensor.RandomBlocks;
import dev.tern.tensor.TensorFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.SplittableRandom;

/** Random benchmark inputs: a weight matrix quantized in some format, and activation vectors. */
final class Weights {
    private Weights() {
    }

    /** rows × cols uniform(-1, 1) values in format (random blocks for a lattice type, whose quantizer is slow), 64-byte aligned. */
    static MemorySegment matrix(TensorFormat format, int rows, int cols, long seed) {
        long rowBytes = format.type().byteSize(cols);
        MemorySegment w = Arena.ofAuto().allocate(rowBytes * rows, 64);
        if (format.type().isGridSearched()) {
            RandomBlocks.fill(format.type(), new Random(seed), w, 0, rows * rowBytes / format.type().blockBytes, 0.01f);
            return w;
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] src = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                src[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            format.quantize(src, 0, cols, w, r * rowBytes);
        }
        return w;
    }

    static float[] vector(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return x;
    }
}
