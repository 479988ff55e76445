package dev.tern.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The vectorized dequantizers against plain scalar ports of ggml's dequantize_row_*, bit for bit. */
class DequantizeTest {

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
            "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4"})
    void vectorDequantizeIsBitIdenticalToScalarPort(GGMLType type) {
        TensorFormat format = TensorFormat.of(type);
        Random rnd = new Random(5 + type.id);
        try (Arena arena = Arena.ofConfined()) {
            for (int blocks : new int[]{1, 3, 8}) {
                int n = blocks * type.blockSize;
                long byteOffset = rnd.nextInt(3) * type.blockBytes + rnd.nextInt(2);
                MemorySegment seg = arena.allocate(byteOffset + type.byteSize(n));
                // Random bytes reach every level, bit pattern and scale, finite or not.
                byte[] bytes = new byte[(int) seg.byteSize()];
                rnd.nextBytes(bytes);
                MemorySegment.copy(bytes, 0, seg, Blocks.I8, 0, bytes.length);
                int outOff = rnd.nextInt(5);
                float[] vector = new float[outOff + n];
                float[] scalar = new float[outOff + n];
                format.dequantize(seg, byteOffset, vector, outOff, n);
                ScalarDequantize.of(type, seg, byteOffset, scalar, outOff, n);
                for (int i = 0; i < vector.length; i++) {
                    assertEquals(Float.floatToIntBits(scalar[i]), Float.floatToIntBits(vector[i]),
                            type + " blocks=" + blocks + " value " + i + ": scalar " + scalar[i] + ", vector " + vector[i]);
                }
            }
        }
    }
}
