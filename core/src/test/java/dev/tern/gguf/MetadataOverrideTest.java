package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.model.Model;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** llama.cpp's --override-kv: parsed, read in place of a file's values at load, and written by quantize. */
class MetadataOverrideTest {
    @TempDir
    Path dir;

    @Test
    void parsesLlamaCppsForms() {
        assertEquals(new MetadataValue(GGUFValueType.INT64, null, 8192L), MetadataOverride.parse("llama.context_length=int:8192").value());
        assertEquals(new MetadataValue(GGUFValueType.FLOAT64, null, 0.5), MetadataOverride.parse("a.b=float:0.5").value());
        assertEquals(MetadataValue.ofBool(false), MetadataOverride.parse("tokenizer.ggml.add_bos_token=bool:false").value());
        assertEquals(MetadataValue.of("a:b=c"), MetadataOverride.parse("general.name=str:a:b=c").value());
        assertEquals(MetadataValue.ofUInt32(7), MetadataOverride.parse("x=int:-7").written());
        for (String bad : List.of("noequals", "k=int", "=int:1", "k=int:x", "k=bool:yes", "k=double:1")) {
            assertThrows(TernException.class, () -> MetadataOverride.parse(bad), bad);
        }
    }

    @Test
    void loadingReadsTheOverride() {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        try (Model plain = Model.load(file);
             Model shorter = Model.load(file, MetadataOverride.asMetadata(List.of(MetadataOverride.parse("llama.context_length=int:64"))))) {
            assertEquals(512, plain.config().contextLength());
            assertEquals(64, shorter.config().contextLength());
        }
        TernException e = assertThrows(TernException.class,
                () -> Model.load(file, Map.of("llama.context_length", MetadataValue.of("x"))));
        assertTrue(e.getMessage().contains("should be an integer"), e.getMessage());
        // A mixture of experts (Mixtral's llama.expert_count) is refused in one line, not as a missing tensor.
        TernException moe = assertThrows(TernException.class,
                () -> Model.load(file, MetadataOverride.asMetadata(List.of(MetadataOverride.parse("llama.expert_count=int:8")))));
        assertTrue(moe.getMessage().endsWith("mixture-of-experts models (8 experts, as Mixtral) are not supported"), moe.getMessage());
    }

    /** As llama-quantize: after the file type, an existing key moved to the end, ints as UINT32. */
    @Test
    void quantizeWritesThem() {
        Path in = Fixtures.stories15M("stories15M-distilled-f32.gguf"), out = dir.resolve("q.gguf");
        ModelQuantizer.quantize(in, out, QuantMix.Q8_0, new ModelQuantizer.Overrides(null, null, false, List.of(), false,
                List.of(MetadataOverride.parse("general.name=str:renamed"), MetadataOverride.parse("tern.test=int:3"))));
        try (GGUFFile f = GGUFFile.open(out)) {
            List<String> keys = List.copyOf(f.metadata().keySet());
            assertEquals(List.of("general.file_type", "general.name", "tern.test"), keys.subList(keys.size() - 3, keys.size()));
            assertEquals("renamed", f.getString("general.name"));
            assertEquals(MetadataValue.ofUInt32(3), f.metadata().get("tern.test"));
        }
    }
}
