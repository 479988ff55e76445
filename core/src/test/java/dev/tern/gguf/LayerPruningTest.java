package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama-quantize's --prune-layers, checked against files llama.cpp's llama_model_quantize wrote (their CRC-32s). */
class LayerPruningTest {
    private static final Path F32 = Fixtures.stories15M("stories15M-distilled-f32.gguf");

    @Test
    void laterBlocksAreRenumbered() {
        LayerPruning p = new LayerPruning(List.of(3, 1, 3));
        assertEquals("blk.0.attn_q.weight", p.rename("blk.0.attn_q.weight"));
        assertNull(p.rename("blk.1.ffn_down.weight"));
        assertEquals("blk.1.attn_norm.weight", p.rename("blk.2.attn_norm.weight"));
        assertNull(p.rename("blk.3.attn_v.weight"));
        assertEquals("blk.2.ffn_up.weight", p.rename("blk.4.ffn_up.weight"));
        assertEquals("blk.10.attn_k.weight", p.rename("blk.12.attn_k.weight"));
        assertEquals("output.weight", p.rename("output.weight"));
    }

    /**
     * Byte for byte as llama.cpp prunes and quantizes: its attn_v rules count the layers kept, its FFN rules
     * the model's original layer count, and the lowered block count is written last.
     */
    @Test
    void prunedModelsMatchLlamaQuantize(@TempDir Path dir) throws Exception {
        Path q4 = dir.resolve("q4.gguf");
        ModelQuantizer.quantize(F32, q4, QuantMix.Q4_K_M, pruning(false, 1, 3));
        assertEquals(0x984c5918L, crc(q4));
        try (GGUFFile f = GGUFFile.open(q4)) {
            assertEquals(4, f.getInt("llama.block_count"));
            assertEquals("llama.block_count", List.copyOf(f.metadata().keySet()).getLast());
            assertTrue(f.hasTensor("blk.3.ffn_down.weight") && !f.hasTensor("blk.4.attn_q.weight"));
        }
        Path q3 = dir.resolve("q3.gguf");
        ModelQuantizer.quantize(F32, q3, QuantMix.Q3_K_M, pruning(false, 0, 5));
        assertEquals(0xcc3084f6L, crc(q3));
    }

    /** A split model pruned with --keep-split: its parts as llama.cpp writes them. */
    @Test
    void splitModelKeepsItsPartsWhenPruned(@TempDir Path dir) throws Exception {
        List<GGUFSplit.Part> parts = GGUFSplit.split(F32, dir.resolve("f"), 20, 0, false);
        ModelQuantizer.quantize(parts.getFirst().path(), dir.resolve("ks.gguf"), QuantMix.Q4_K_M, pruning(true, 2));
        List<Path> out = ModelQuantizer.keptSplitParts(dir.resolve("ks.gguf"), 3);
        assertEquals(0x89af5187L, crc(out.get(0)));
        assertEquals(0x7a49d70fL, crc(out.get(1)));
        assertEquals(0x26016b9cL, crc(out.get(2)));
    }

    @Test
    void layersThatAreNotThereAreRefused(@TempDir Path dir) {
        Path out = dir.resolve("x.gguf");
        TernException past = assertThrows(TernException.class, () -> ModelQuantizer.quantize(F32, out, QuantMix.Q8_0, pruning(false, 6)));
        assertTrue(past.getMessage().endsWith("--prune-layers 6: the model has layers 0 to 5"), past.getMessage());
        TernException all = assertThrows(TernException.class,
                () -> ModelQuantizer.quantize(F32, out, QuantMix.Q8_0, pruning(false, 0, 1, 2, 3, 4, 5)));
        assertTrue(all.getMessage().endsWith("would leave none of the model's 6 layers"), all.getMessage());
        assertThrows(TernException.class, () -> new LayerPruning(List.of(-1)));
        assertTrue(Files.notExists(out));
    }

    private static ModelQuantizer.Overrides pruning(boolean keepSplit, Integer... layers) {
        return new ModelQuantizer.Overrides(null, null, false, List.of(), false, List.of(), keepSplit, List.of(layers));
    }

    private static long crc(Path p) throws Exception {
        CRC32 c = new CRC32();
        c.update(Files.readAllBytes(p));
        return c.getValue();
    }
}
