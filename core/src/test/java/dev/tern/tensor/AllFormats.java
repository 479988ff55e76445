package dev.tern.tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/** The formats under test, F32 included. */
final class AllFormats {
    private AllFormats() {
    }

    /** The formats whose quantizers are quick (not {@link GGMLType#isGridSearched()}). */
    static List<TensorFormat> all() {
        return List.of(F32Format.INSTANCE, F16Format.INSTANCE, BF16Format.INSTANCE, Q8_0Format.INSTANCE,
                Q4_0Format.INSTANCE, Q4_1Format.INSTANCE, Q5_0Format.INSTANCE, Q5_1Format.INSTANCE,
                Q2_KFormat.INSTANCE, Q3_KFormat.INSTANCE, Q4_KFormat.INSTANCE, Q5_KFormat.INSTANCE, Q6_KFormat.INSTANCE,
                IQ4_NLFormat.INSTANCE, IQ4_XSFormat.INSTANCE, TQ1_0Format.INSTANCE, TQ2_0Format.INSTANCE, MXFP4Format.INSTANCE);
    }

    static List<TensorFormat> lossy() {
        return all().subList(1, all().size());
    }

    /** The lattice formats: kernel tests give them random blocks (see {@link #write}). */
    static List<TensorFormat> gridSearched() {
        return List.of(IQ2_XXSFormat.INSTANCE, IQ2_XSFormat.INSTANCE, IQ2_SFormat.INSTANCE,
                IQ3_XXSFormat.INSTANCE, IQ3_SFormat.INSTANCE, IQ1_SFormat.INSTANCE, IQ1_MFormat.INSTANCE);
    }

    /** Every format with kernels. */
    static List<TensorFormat> readable() {
        return Stream.concat(all().stream(), gridSearched().stream()).toList();
    }

    /**
     * Weights for a kernel test: {@code src[srcOff..srcOff+n)} quantized into dst at dstOff, or, for
     * a lattice format, n values' worth of {@link RandomBlocks} seeded from src.
     */
    static void write(TensorFormat format, float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        GGMLType type = format.type();
        if (!type.isGridSearched()) {
            format.quantize(src, srcOff, n, dst, dstOff);
        } else {
            Random rnd = new Random(Float.floatToRawIntBits(src[srcOff]) * 31L + n);
            RandomBlocks.fill(type, rnd, dst, dstOff, n / type.blockSize, (rnd.nextFloat() - 0.5f) * 0.1f);
        }
    }
}
