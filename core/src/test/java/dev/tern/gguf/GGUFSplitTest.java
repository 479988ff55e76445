package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Models split into parts as llama.cpp's gguf-split writes them, read back as one, and merged. */
class GGUFSplitTest {
    private static final Path MODEL = Fixtures.stories15M("stories15M-distilled-q4_k_m.gguf");

    @Test
    void partsHoldTheTensorsInOrderAndReadAsTheWholeModel(@TempDir Path dir) {
        List<GGUFSplit.Part> parts = GGUFSplit.split(MODEL, dir.resolve("m"), 20, 0, false);
        try (GGUFFile whole = GGUFFile.open(MODEL)) {
            int n = whole.tensors().size();
            assertEquals((n + 19) / 20, parts.size());
            for (int i = 0; i < parts.size(); i++) {
                Path p = dir.resolve(String.format("m-%05d-of-%05d.gguf", i + 1, parts.size()));
                assertEquals(p, parts.get(i).path());
                assertEquals(Math.min(20, n - 20 * i), parts.get(i).tensors().size());
                try (GGUFFile part = GGUFFile.openAlone(p)) {
                    // the first part carries the model's metadata; every part the three split keys (gguf-split's types)
                    Map<String, MetadataValue> md = part.metadata();
                    assertEquals(i == 0 ? whole.metadata().size() + 3 : 3, md.size());
                    assertEquals(new MetadataValue(GGUFValueType.UINT16, null, i), md.get("split.no"));
                    assertEquals(new MetadataValue(GGUFValueType.UINT16, null, parts.size()), md.get("split.count"));
                    assertEquals(MetadataValue.ofInt32(n), md.get("split.tensors.count"));
                    assertEquals(whole.tensors().subList(20 * i, Math.min(n, 20 * i + 20)).stream().map(GGUFTensorInfo::name).toList(),
                            part.tensors().stream().map(GGUFTensorInfo::name).toList());
                }
            }
            try (GGUFFile split = GGUFFile.open(parts.getFirst().path())) {
                assertEquals(parts.stream().map(GGUFSplit.Part::path).toList(), split.parts());
                assertSameTensors(whole, split);
                long size = 0;
                for (GGUFSplit.Part p : parts) {
                    size += fileSize(p.path());
                }
                assertEquals(size, split.fileSize());
            }
        }
    }

    @Test
    void bySizeEachPartStaysWithinTheLimit(@TempDir Path dir) {
        long limit = 2_000_000;
        List<GGUFSplit.Part> parts = GGUFSplit.split(MODEL, dir.resolve("s"), 128, limit, false);
        assertTrue(parts.size() > 3, "parts: " + parts.size());
        for (int i = 0; i < parts.size(); i++) {
            List<GGUFTensorInfo> ts = parts.get(i).tensors();
            long padded = ts.stream().mapToLong(t -> GGUFFile.align(t.byteSize(), 32)).sum();
            assertTrue(padded <= limit || ts.size() == 1, "part " + i + ": " + padded + " bytes in " + ts.size() + " tensors");
            if (i + 1 < parts.size()) {
                // a part ends only when its next tensor would not fit
                long next = GGUFFile.align(parts.get(i + 1).tensors().getFirst().byteSize(), 32);
                assertTrue(padded + next > limit, "part " + i + " could have taken the next tensor");
            }
        }
        try (GGUFFile whole = GGUFFile.open(MODEL); GGUFFile split = GGUFFile.open(parts.getFirst().path())) {
            assertSameTensors(whole, split);
        }
    }

    /** gguf-split --no-tensor-first-split: the metadata alone in the first part, read as before. */
    @Test
    void aFirstPartOfMetadataOnly(@TempDir Path dir) {
        List<GGUFSplit.Part> parts = GGUFSplit.split(MODEL, dir.resolve("m"), 30, 0, true, false);
        assertEquals(List.of(), parts.getFirst().tensors());
        try (GGUFFile first = GGUFFile.openAlone(parts.getFirst().path())) {
            assertTrue(first.tensors().isEmpty());
            assertTrue(first.has("general.architecture"));
        }
        try (GGUFFile whole = GGUFFile.open(MODEL); GGUFFile split = GGUFFile.open(parts.getFirst().path())) {
            assertEquals((whole.tensors().size() + 29) / 30 + 1, split.parts().size());
            assertSameTensors(whole, split);
        }
    }

    @Test
    void mergeWritesOneFileWithEveryTensor(@TempDir Path dir) {
        List<GGUFSplit.Part> parts = GGUFSplit.split(MODEL, dir.resolve("m"), 25, 0, false);
        Path merged = dir.resolve("merged.gguf");
        assertEquals(parts.size(), GGUFSplit.merge(parts.getFirst().path(), merged, false).size());
        try (GGUFFile whole = GGUFFile.open(MODEL); GGUFFile one = GGUFFile.open(merged)) {
            assertEquals(List.of(merged), one.parts());
            assertSameTensors(whole, one);
            // as gguf-split --merge writes it: the first part's metadata, split.count 0 so that it reads as one file
            assertEquals(new MetadataValue(GGUFValueType.UINT16, null, 0), one.metadata().get("split.count"));
            for (Map.Entry<String, MetadataValue> e : whole.metadata().entrySet()) {
                MetadataValue v = one.metadata().get(e.getKey());
                assertEquals(e.getValue().type(), v.type(), e.getKey());
                assertTrue(Objects.deepEquals(e.getValue().value(), v.value()), e.getKey());
            }
        }
        TernException again = assertThrows(TernException.class, () -> GGUFSplit.merge(parts.getFirst().path(), merged, false));
        assertTrue(again.getMessage().endsWith("already exists"), again.getMessage());
        TernException whole = assertThrows(TernException.class, () -> GGUFSplit.merge(MODEL, dir.resolve("x.gguf"), false));
        assertTrue(whole.getMessage().contains("not part of a split model"), whole.getMessage());
    }

    /**
     * A split F32 model quantizes to llama.cpp's own Q4_K_M file of the whole model, byte for byte; with
     * --keep-split to parts holding the same tensors as the input's parts, in their order.
     */
    @Test
    void aSplitModelQuantizesAsTheWholeOneAndKeepsItsParts(@TempDir Path dir) throws Exception {
        List<GGUFSplit.Part> parts = GGUFSplit.split(Fixtures.stories15M("stories15M-distilled-f32.gguf"), dir.resolve("f"), 20, 0, false);
        Path whole = dir.resolve("whole.gguf");
        ModelQuantizer.quantize(parts.getFirst().path(), whole, QuantMix.Q4_K_M);
        assertEquals(-1L, Files.mismatch(whole, MODEL));

        ModelQuantizer.Overrides keep = new ModelQuantizer.Overrides(null, null, false, List.of(), false, List.of(), true, List.of());
        ModelQuantizer.quantize(parts.getFirst().path(), dir.resolve("q.gguf"), QuantMix.Q4_K_M, keep);
        List<Path> kept = ModelQuantizer.keptSplitParts(dir.resolve("q.gguf"), parts.size());
        assertEquals(dir.resolve("q-00001-of-00003.gguf"), kept.getFirst());
        for (int i = 0; i < parts.size(); i++) {
            try (GGUFFile part = GGUFFile.openAlone(kept.get(i))) {
                assertEquals(parts.get(i).tensors().stream().map(GGUFTensorInfo::name).toList(),
                        part.tensors().stream().map(GGUFTensorInfo::name).toList());
                assertEquals(new MetadataValue(GGUFValueType.UINT16, null, i), part.metadata().get("split.no"));
            }
        }
        try (GGUFFile one = GGUFFile.open(MODEL); GGUFFile split = GGUFFile.open(kept.getFirst())) {
            for (GGUFTensorInfo t : one.tensors()) {
                assertEquals(-1L, one.data(t).mismatch(split.data(split.tensor(t.name()))), t.name());
            }
        }
    }

    @Test
    void aPartMissingMisnamedOrOpenedOutOfTurnIsAOneLineError(@TempDir Path dir) throws Exception {
        List<GGUFSplit.Part> parts = GGUFSplit.split(MODEL, dir.resolve("m"), 20, 0, false);
        int count = parts.size();
        assertError(parts.get(1).path(), "is part 2 of " + count + " of a split model: open its first part, m-00001-of-0000" + count + ".gguf");

        Path renamed = dir.resolve("model.gguf");
        Files.copy(parts.getFirst().path(), renamed);
        assertError(renamed, "is the first of " + count + " parts of a split model, but its name does not end in -00001-of-0000" + count
                + ".gguf, so the other parts cannot be found");

        Path last = parts.getLast().path();
        Files.move(last, dir.resolve("aside.gguf"));
        assertError(parts.getFirst().path(), "part " + count + " of " + count + " of this split model: " + last + ": no such file");

        // a part from another split in its place: its split.no says so
        Files.copy(parts.get(1).path(), last);
        assertError(parts.getFirst().path(), last + ": is not part " + count + " of " + count);
    }

    private static void assertError(Path path, String expected) {
        GGUFException e = assertThrows(GGUFException.class, () -> GGUFFile.open(path).close());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    private static void assertSameTensors(GGUFFile expected, GGUFFile actual) {
        assertEquals(expected.tensors().stream().map(GGUFTensorInfo::name).toList(), actual.tensors().stream().map(GGUFTensorInfo::name).toList());
        for (GGUFTensorInfo t : expected.tensors()) {
            GGUFTensorInfo u = actual.tensor(t.name());
            assertEquals(t.type(), u.type(), t.name());
            assertArrayEquals(t.shape(), u.shape(), t.name());
            assertEquals(-1L, expected.data(t).mismatch(actual.data(u)), t.name());
        }
    }

    private static long fileSize(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        }
    }
}
