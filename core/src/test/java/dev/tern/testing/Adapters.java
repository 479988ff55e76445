package dev.tern.testing;

import dev.tern.gguf.GGUFWriter;
import dev.tern.gguf.MetadataValue;
import dev.tern.tensor.GGMLType;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** LoRA adapter files for tests (llama.cpp's GGUF form). */
public final class Adapters {
    private Adapters() {
    }

    /**
     * An adapter of stories260K's first query projection (64 × 64): A of rank 4 with random values,
     * B filled with {@code b}, no alpha (so scaled by 1).
     */
    public static Path stories260KQuery(Path file, float b) {
        Random rnd = new Random(5);
        float[] a = new float[4 * 64];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        float[] bs = new float[64 * 4];
        Arrays.fill(bs, b);
        new GGUFWriter().put("general.architecture", MetadataValue.of("llama"))
                .put("general.type", MetadataValue.of("adapter")).put("adapter.type", MetadataValue.of("lora"))
                .addTensor("blk.0.attn_q.weight.lora_a", new long[]{64, 4}, GGMLType.F32, a)
                .addTensor("blk.0.attn_q.weight.lora_b", new long[]{4, 64}, GGMLType.F32, bs)
                .write(file);
        return file;
    }
}
