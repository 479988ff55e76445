package dev.tern.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * Random blocks of the lattice types ({@link GGMLType#isGridSearched()}), whose quantizers are slow,
 * for benchmark models and kernel tests: every bit pattern of those layouts is a valid block once
 * its fp16 scale is finite, so the blocks are random bytes with the scale set.
 */
public final class RandomBlocks {
    private RandomBlocks() {
    }

    /** {@code blocks} random blocks of type at dst[off..], each with fp16 scale d. */
    public static void fill(GGMLType type, Random rnd, MemorySegment dst, long off, long blocks, float d) {
        byte[] block = new byte[type.blockBytes];
        short half = Float.floatToFloat16(d);
        for (long b = 0; b < blocks; b++) {
            long o = off + b * type.blockBytes;
            rnd.nextBytes(block);
            MemorySegment.copy(block, 0, dst, ValueLayout.JAVA_BYTE, o, block.length);
            if (type == GGMLType.IQ1_M) {
                // IQ1_M has no d field: its fp16 scale is the top nibbles of the four 16-bit scale words (bytes 48..55)
                for (int k = 0; k < 4; k++) {
                    long at = o + 48 + 2 * k;
                    dst.set(Blocks.I16, at, (short) (dst.get(Blocks.I16, at) & 0x0FFF | (half >>> 4 * k & 0xF) << 12));
                }
            } else {
                dst.set(Blocks.I16, o, half);
            }
        }
    }
}
