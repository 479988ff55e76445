package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Importance matrix files in llama.cpp's two forms. The GGUF form is checked key by key and tensor by
 * tensor as llama-imatrix's save_imatrix lays it out; the legacy form is written here byte by byte as
 * its save_imatrix_legacy does, and must give llama-quantize's weights (the stored means).
 */
class ImportanceMatrixTest {
    @TempDir
    Path dir;

    private static ImportanceMatrix sample() {
        return new ImportanceMatrix(Map.of(
                "blk.1.ffn_down.weight", new ImportanceMatrix.Entry(new float[]{8, 2, 0, 4}, new float[]{1, -1, 0, 2}, new float[]{4}),
                "blk.0.attn_q.weight", new ImportanceMatrix.Entry(new float[]{3, 6}, new float[]{1, 1}, new float[]{0})),
                List.of("calibration.txt"), 7, 512);
    }

    @Test
    void ggufFormHasLlamaImatrixLayout() {
        Path p = dir.resolve("m.gguf");
        sample().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(List.of("general.type", "imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"),
                    List.copyOf(f.metadata().keySet()));
            assertEquals("imatrix", f.getString("general.type"));
            assertEquals(7, f.getInt("imatrix.chunk_count"));
            assertEquals(List.of("blk.0.attn_q.weight.in_sum2", "blk.0.attn_q.weight.counts", "blk.0.attn_q.weight.in_sum",
                            "blk.1.ffn_down.weight.in_sum2", "blk.1.ffn_down.weight.counts", "blk.1.ffn_down.weight.in_sum"),
                    f.tensors().stream().map(GGUFTensorInfo::name).toList());
            assertArrayEquals(new long[]{4, 1}, f.tensor("blk.1.ffn_down.weight.in_sum2").shape());
            assertArrayEquals(new long[]{1, 1}, f.tensor("blk.1.ffn_down.weight.counts").shape());
        }
        ImportanceMatrix back = ImportanceMatrix.read(p);
        assertEquals(List.of("calibration.txt"), back.datasets());
        assertEquals(512, back.chunkSize());
        assertEquals(p, back.source());
        // llama-quantize's weights: sum of squares / count, and 1 where no token was counted
        assertArrayEquals(new float[]{2, 0.5f, 0, 1}, back.importance("blk.1.ffn_down.weight"));
        assertArrayEquals(new float[]{1, 1}, back.importance("blk.0.attn_q.weight"));
        assertNull(back.importance("output.weight"));
    }

    /** llama-imatrix --in-file: sums and counts add up weight by weight; chunks are the most tokens counted over the chunk size. */
    @Test
    void mergedMatricesAddUp() {
        ImportanceMatrix other = new ImportanceMatrix(Map.of(
                "blk.1.ffn_down.weight", new ImportanceMatrix.Entry(new float[]{1, 1, 1, 1}, new float[]{0, 0, 0, 1}, new float[]{6}),
                "blk.2.ffn_up.weight", new ImportanceMatrix.Entry(new float[]{5}, null, new float[]{3})),
                List.of("more.txt"), 1, 2);
        ImportanceMatrix m = ImportanceMatrix.merge(List.of(sample(), other), 2);
        assertEquals(List.of("blk.0.attn_q.weight", "blk.1.ffn_down.weight", "blk.2.ffn_up.weight"), List.copyOf(m.entries().keySet()));
        ImportanceMatrix.Entry down = m.entries().get("blk.1.ffn_down.weight");
        assertArrayEquals(new float[]{9, 3, 1, 5}, down.sumSquares());
        assertArrayEquals(new float[]{1, -1, 0, 3}, down.sums());
        assertArrayEquals(new float[]{10}, down.counts());
        assertEquals(5, m.chunkCount());
        assertEquals(List.of("calibration.txt", "more.txt"), m.datasets());
        ImportanceMatrix wrong = new ImportanceMatrix(Map.of("blk.0.attn_q.weight",
                new ImportanceMatrix.Entry(new float[3], null, new float[]{1})), List.of(), 1, 2);
        assertTrue(assertThrows(TernException.class, () -> ImportanceMatrix.merge(List.of(sample(), wrong), 2))
                .getMessage().contains("disagree on the size"));
    }

    @Test
    void legacyFormGivesTheStoredMeans() throws IOException {
        // save_imatrix_legacy: entries of (name, ncall, nval, (sum/count)·ncall), then the chunk count and the dataset
        ByteBuffer b = ByteBuffer.allocate(200).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(1);
        byte[] name = "blk.0.ffn_up.weight".getBytes(StandardCharsets.UTF_8);
        b.putInt(name.length).put(name).putInt(10).putInt(3);
        b.putFloat(0.5f * 10).putFloat(2f * 10).putFloat(0.25f * 10);
        b.putInt(10);
        byte[] ds = "wiki.train.raw".getBytes(StandardCharsets.UTF_8);
        b.putInt(ds.length).put(ds);
        Path p = dir.resolve("m.dat");
        Files.write(p, Arrays.copyOf(b.array(), b.position()));
        ImportanceMatrix m = ImportanceMatrix.read(p);
        assertArrayEquals(new float[]{0.5f, 2f, 0.25f}, m.importance("blk.0.ffn_up.weight"));
        assertEquals(10, m.chunkCount());
        assertEquals(List.of("wiki.train.raw"), m.datasets());

        Files.write(p, Arrays.copyOf(b.array(), 30));
        assertTrue(assertThrows(TernException.class, () -> ImportanceMatrix.read(p)).getMessage().contains("truncated"));
    }

    /** llama-imatrix --output-format dat: entries with tokens only, means times the call count, read back as the means. */
    @Test
    void legacyFormWrittenAsLlamaImatrixWritesIt() throws IOException {
        Path p = dir.resolve("m.dat");
        new ImportanceMatrix(Map.of(
                "blk.1.ffn_down.weight", new ImportanceMatrix.Entry(new float[]{8, 2, 0, 4}, null, new float[]{1030}),
                "blk.0.attn_q.weight", new ImportanceMatrix.Entry(new float[]{3, 6}, null, new float[]{0})),
                List.of("calibration.txt"), 2, 512).writeLegacy(p);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, b.getInt());
        byte[] name = new byte[b.getInt()];
        b.get(name);
        assertEquals("blk.1.ffn_down.weight", new String(name, StandardCharsets.UTF_8));
        assertEquals(3, b.getInt(), "calls: 1030 tokens in chunks of 512, rounded up");
        assertEquals(4, b.getInt());
        assertEquals(8f / 1030 * 3, b.getFloat());
        ImportanceMatrix back = ImportanceMatrix.read(p);
        float[] w = back.importance("blk.1.ffn_down.weight");
        float[] expected = {8f / 1030, 2f / 1030, 0, 4f / 1030};
        for (int j = 0; j < 4; j++) {
            assertEquals(expected[j], w[j], 1e-6f * expected[j]);
        }
        assertEquals(2, back.chunkCount());
        assertEquals(List.of("calibration.txt"), back.datasets());
    }

    @Test
    void otherFilesAreOneLineErrors() throws IOException {
        assertTrue(assertThrows(TernException.class, () -> ImportanceMatrix.read(dir.resolve("none.gguf")))
                .getMessage().contains("no such file"));
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "this is not an importance matrix at all, just text");
        assertTrue(assertThrows(TernException.class, () -> ImportanceMatrix.read(text)).getMessage().contains("neither"));
        Path model = Fixtures.stories260K("stories260K-f32.gguf");
        assertTrue(assertThrows(TernException.class, () -> ImportanceMatrix.read(model)).getMessage().contains("without importance data"));
    }
}
