package dev.tern.engine;

import dev.tern.TernException;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** llama.cpp's embedding normalizations (common_embd_normalize) on vectors worked out by hand. */
class EmbeddingNormTest {
    private static final double[] V = {3, -4, 0};

    @Test
    void eachNormAsLlamaCppNumbersIt() {
        assertArrayEquals(new float[]{3, -4, 0}, EmbeddingNorm.apply(V, -1));
        assertArrayEquals(new float[]{24570, -32760, 0}, EmbeddingNorm.apply(V, 0), 1e-3f);
        assertArrayEquals(new float[]{3 / 7f, -4 / 7f, 0}, EmbeddingNorm.apply(V, 1), 1e-7f);
        assertArrayEquals(new float[]{0.6f, -0.8f, 0}, EmbeddingNorm.apply(V, 2), 1e-7f);
        double p3 = Math.cbrt(27 + 64);
        assertArrayEquals(new float[]{(float) (3 / p3), (float) (-4 / p3), 0}, EmbeddingNorm.apply(V, 3), 1e-7f);
        assertArrayEquals(new float[]{0, 0}, EmbeddingNorm.apply(new double[]{0, 0}, 2));
        assertThrows(TernException.class, () -> EmbeddingNorm.apply(V, -2));
        assertThrows(TernException.class, () -> EmbeddingNorm.apply(V, EmbeddingNorm.MAX_P + 1));
    }
}
