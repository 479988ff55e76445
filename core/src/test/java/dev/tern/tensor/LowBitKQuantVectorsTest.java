package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Q2_K and Q3_K against references made outside Tern (the resources' headers say how):
 * gguf-py's numpy dequantizers for the block layouts, llama.cpp's compiled
 * quantize_row_*_ref for the quantizers.
 */
class LowBitKQuantVectorsTest {

    /** One line of a vector file: a type, then the text before and after the "|". */
    private record Vector(GGMLType type, String left, String right) {
        static List<Vector> read(String name) throws IOException {
            List<Vector> out = new ArrayList<>();
            try (InputStream in = LowBitKQuantVectorsTest.class.getResourceAsStream(name)) {
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    if (line.isBlank() || line.startsWith("#")) {
                        continue;
                    }
                    int sp = line.indexOf(' ');
                    int bar = line.indexOf(" | ");
                    out.add(new Vector(GGMLType.valueOf(line.substring(0, sp)), line.substring(sp + 1, bar), line.substring(bar + 3)));
                }
            }
            assertFalse(out.isEmpty(), name);
            return out;
        }
    }

    private static float[] floats(String s) {
        String[] parts = s.trim().split(" ");
        float[] f = new float[parts.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = Float.parseFloat(parts[i]);
        }
        return f;
    }

    /**
     * Same operations in the same order as numpy's (d·sc, then ·q, then − dmin·m, all float32,
     * no fused multiply-add), so the values must be identical bit for bit. The dot kernels run
     * on the same blocks against the scalar reference.
     */
    @Test
    void dequantizeMatchesGgufPy() throws IOException {
        int lines = 0;
        Random rnd = new Random(3);
        for (Vector v : Vector.read("q2k-q3k-dequantize.txt")) {
            TensorFormat f = TensorFormat.of(v.type());
            byte[] bytes = HexFormat.of().parseHex(v.left());
            float[] expected = floats(v.right());
            int n = expected.length;
            assertEquals(v.type().byteSize(n), bytes.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(bytes.length + 1);
                // one byte in, so that nothing relies on alignment
                MemorySegment.copy(bytes, 0, seg, Blocks.I8, 1, bytes.length);
                float[] got = new float[n + 2];
                f.dequantize(seg, 1, got, 2, n);
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(got[2 + i]),
                            v.type() + " value " + i + ": gguf-py " + expected[i] + ", ours " + got[2 + i]);
                }
                float[] x = DotKernelTest.gaussian(rnd, n + 1);
                double absSum = 0;
                for (int i = 0; i < n; i++) {
                    absSum += Math.abs((double) expected[i] * x[1 + i]);
                }
                double tol = 2.0 * n * 0x1p-24 * absSum;
                float ref = f.dotReference(seg, 1, x, 1, n);
                assertEquals(ref, f.dot(seg, 1, x, 1, n), tol, v.type() + " dot");
                float[] out = new float[1];
                f.dotRows(seg, 1, bytes.length, 1, x, 1, n, out, 0);
                assertEquals(ref, out[0], tol, v.type() + " dotRows");
            }
            lines++;
        }
        assertEquals(6, lines);
    }

    /** Our quantizers reproduce llama.cpp's reference quantizers byte for byte. */
    @Test
    void quantizeMatchesLlamaCppReference() throws IOException {
        int lines = 0;
        for (Vector v : Vector.read("q2k-q3k-quantize.txt")) {
            TensorFormat f = TensorFormat.of(v.type());
            float[] row = floats(v.left());
            byte[] expected = HexFormat.of().parseHex(v.right());
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(expected.length + 3);
                f.quantize(row, 0, row.length, seg, 3);
                long at = seg.asSlice(3).mismatch(MemorySegment.ofArray(expected));
                assertEquals(-1, at, v.type() + " row of " + row.length + ": first differing byte (block " + at / v.type().blockBytes + ")");
            }
            lines++;
        }
        assertEquals(14, lines);
    }
}
