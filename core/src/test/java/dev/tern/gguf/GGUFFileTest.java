package dev.tern.gguf;

import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class GGUFFileTest {

    @Test
    void readsStories260KHeader() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            assertEquals("llama", f.getString("general.architecture"));
            assertEquals(64, f.getInt("llama.embedding_length"));
            assertEquals(5, f.getInt("llama.block_count"));
            assertEquals(8, f.getInt("llama.attention.head_count"));
            assertEquals(4, f.getInt("llama.attention.head_count_kv"));
            assertEquals(512, f.getInt("llama.context_length"));
            assertEquals(512, f.getStringArray("tokenizer.ggml.tokens").length);
            GGUFTensorInfo emb = f.tensor("token_embd.weight");
            assertEquals(GGMLType.F32, emb.type());
            assertArrayEquals(new long[]{64, 512}, emb.shape());
            Tensor t = Tensor.of(f, emb);
            float[] row = new float[64];
            t.dequantizeRow(3, row, 0);
            float[] x = new float[64];
            x[5] = 1f;
            assertEquals(row[5], t.dot(3, x, 0), 0f);
        }
    }

    @Test
    void missingFileIsOneLine() {
        GGUFException e = assertThrows(GGUFException.class, () -> GGUFFile.open(Fixtures.models().resolve("nope.gguf")));
        assertTrue(e.getMessage().endsWith("nope.gguf: no such file"), e.getMessage());
    }
}
