package dev.tern.gguf;

import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Whole models quantized with an importance matrix against llama.cpp's llama_model_quantize given the
 * same matrix (its compiled library, from a scratch program; the resource's header says how): the
 * tensors' bytes, types and order must be identical. The matrix is {@link #synthetic}, so that the test
 * does not depend on the float rounding of a forward pass.
 */
class ImportanceQuantizeTest {
    @TempDir
    Path dir;

    /**
     * An importance matrix for every blk.* weight of the model: column j of weight number k (in name order)
     * gets 2^(u·12 − 6) with u from s = k·7919 + 1, s = s·6364136223846793005 + 1442695040888963407 mod 2^64,
     * u = (s >>> 40) / 2^24; columns j % 61 == 3 get 0. Counts 1, 9 chunks of 128.
     */
    static ImportanceMatrix synthetic(Path model) {
        Map<String, ImportanceMatrix.Entry> entries = new TreeMap<>();
        try (GGUFFile f = GGUFFile.open(model)) {
            List<GGUFTensorInfo> weights = f.tensors().stream().filter(t -> t.name().startsWith("blk.") && t.shape().length == 2)
                    .sorted(java.util.Comparator.comparing(GGUFTensorInfo::name)).toList();
            for (int k = 0; k < weights.size(); k++) {
                int cols = (int) weights.get(k).shape()[0];
                float[] w = new float[cols];
                long s = k * 7919L + 1;
                for (int j = 0; j < cols; j++) {
                    s = s * 6364136223846793005L + 1442695040888963407L;
                    double u = (s >>> 40) / (double) (1 << 24);
                    w[j] = j % 61 == 3 ? 0f : (float) Math.pow(2, u * 12 - 6);
                }
                entries.put(weights.get(k).name(), new ImportanceMatrix.Entry(w, null, new float[]{1}));
            }
        }
        return new ImportanceMatrix(entries, List.of("synthetic"), 9, 128);
    }

    /** CRC-32 of every tensor's bytes in file order, and the types in order, as the reference lists them. */
    static String digest(Path file) {
        CRC32 crc = new CRC32();
        StringBuilder types = new StringBuilder();
        try (GGUFFile f = GGUFFile.open(file)) {
            for (GGUFTensorInfo t : f.tensors()) {
                crc.update(f.data(t).asByteBuffer());
                types.append(t.type()).append(',');
            }
        }
        return String.format("%08x %s", crc.getValue(), types);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q4_K_M", "Q2_K_S", "Q4_0", "IQ4_XS", "IQ3_M", "IQ2_XXS", "IQ1_M"})
    void matchesLlamaQuantize(String fileType) throws IOException {
        Path model = Fixtures.stories15M("stories15M-distilled-f32.gguf");
        Path out = dir.resolve(fileType + ".gguf");
        ModelQuantizer.quantize(model, out, QuantMix.valueOf(fileType), ModelQuantizer.Overrides.NONE, synthetic(model));
        String expected;
        try (var in = ImportanceQuantizeTest.class.getResourceAsStream("llama-quantize-imatrix-files.txt")) {
            expected = new String(in.readAllBytes()).lines().filter(l -> l.startsWith(fileType + " ")).findFirst().orElseThrow()
                    .substring(fileType.length() + 1);
        }
        assertEquals(expected, digest(out));
    }
}
