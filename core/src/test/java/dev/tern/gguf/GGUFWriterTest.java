package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.UnsupportedTensorTypeException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GGUFWriterTest {
    @TempDir
    Path dir;

    /** Every scalar and array type of GGUF, with edge values, as MetadataValue represents them. */
    static Map<String, MetadataValue> allTypes() {
        Map<String, MetadataValue> m = new LinkedHashMap<>();
        m.put("u8", new MetadataValue(GGUFValueType.UINT8, null, 255));
        m.put("i8", new MetadataValue(GGUFValueType.INT8, null, -128));
        m.put("u16", new MetadataValue(GGUFValueType.UINT16, null, 65535));
        m.put("i16", new MetadataValue(GGUFValueType.INT16, null, -32768));
        m.put("u32", MetadataValue.ofUInt32(0xFFFFFFFFL));
        m.put("i32", MetadataValue.ofInt32(Integer.MIN_VALUE));
        m.put("f32", MetadataValue.ofFloat32(-1.5e-7f));
        m.put("bool.true", MetadataValue.ofBool(true));
        m.put("bool.false", MetadataValue.ofBool(false));
        m.put("str", MetadataValue.of("héllo ▁wörld 🙂"));
        m.put("str.empty", MetadataValue.of(""));
        m.put("u64", new MetadataValue(GGUFValueType.UINT64, null, -1L));
        m.put("i64", new MetadataValue(GGUFValueType.INT64, null, Long.MIN_VALUE));
        m.put("f64", new MetadataValue(GGUFValueType.FLOAT64, null, Math.PI));
        m.put("a.u8", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.UINT8, new byte[]{0, 1, (byte) 255}));
        m.put("a.i8", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.INT8, new byte[]{-128, 127}));
        m.put("a.u16", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.UINT16, new short[]{(short) 65535, 7}));
        m.put("a.i16", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.INT16, new short[]{-32768, 32767}));
        m.put("a.u32", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.UINT32, new int[]{-1, 0, 42}));
        m.put("a.i32", MetadataValue.ofArray(new int[]{Integer.MIN_VALUE, Integer.MAX_VALUE}));
        m.put("a.f32", MetadataValue.ofArray(new float[]{1f, -0f, Float.NaN, Float.POSITIVE_INFINITY}));
        m.put("a.bool", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.BOOL, new boolean[]{true, false, true}));
        m.put("a.str", MetadataValue.ofArray(new String[]{"a", "", "<0x0A>", "日本"}));
        m.put("a.u64", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.UINT64, new long[]{-1L, 1L << 40}));
        m.put("a.i64", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.INT64, new long[]{Long.MIN_VALUE}));
        m.put("a.f64", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.FLOAT64, new double[]{-2.25, 1e300}));
        m.put("a.empty", MetadataValue.ofArray(new int[0]));
        MetadataValue inner1 = MetadataValue.ofArray(new int[]{1, 2, 3});
        MetadataValue inner2 = MetadataValue.ofArray(new int[]{});
        m.put("a.nested", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.ARRAY, new MetadataValue[]{inner1, inner2}));
        MetadataValue strs = MetadataValue.ofArray(new String[]{"x", "yz"});
        MetadataValue mid = new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.ARRAY, new MetadataValue[]{strs});
        m.put("a.nested2", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.ARRAY, new MetadataValue[]{mid, mid}));
        return m;
    }

    static void assertSameValue(String key, MetadataValue expected, MetadataValue actual) {
        assertEquals(expected.type(), actual.type(), key);
        assertEquals(expected.elementType(), actual.elementType(), key);
        if (expected.value() instanceof MetadataValue[] e) {
            MetadataValue[] a = assertInstanceOf(MetadataValue[].class, actual.value(), key);
            assertEquals(e.length, a.length, key);
            for (int i = 0; i < e.length; i++) {
                assertSameValue(key + "[" + i + "]", e[i], a[i]);
            }
        } else {
            assertTrue(java.util.Objects.deepEquals(expected.value(), actual.value()),
                    key + ": expected " + expected + " got " + actual);
        }
    }

    static void assertSameMetadata(Map<String, MetadataValue> expected, Map<String, MetadataValue> actual) {
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()), "metadata keys and order");
        expected.forEach((k, v) -> assertSameValue(k, v, actual.get(k)));
    }

    static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void everyValueTypeAndTensorKindRoundTrips() {
        Random rnd = new Random(1);
        float[] vec = new float[7];
        float[] mat = new float[5 * 3];
        float[] cube = new float[4 * 2 * 3];
        for (float[] a : List.of(vec, mat, cube)) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
            }
        }
        byte[] q8 = new byte[2 * 34 * 3];
        rnd.nextBytes(q8);
        byte[] iq = new byte[66];
        rnd.nextBytes(iq);

        GGUFWriter w = new GGUFWriter().putAll(allTypes());
        w.addTensor("vec", new long[]{7}, GGMLType.F32, vec);
        w.addTensor("mat", new long[]{5, 3}, GGMLType.F32, mat);
        w.addTensor("cube", new long[]{4, 2, 3}, GGMLType.F32, cube);
        w.addTensor("raw.q8", new long[]{64, 3}, GGMLType.Q8_0, MemorySegment.ofArray(q8));
        w.addTensor("raw.iq", new long[]{256}, GGMLType.IQ2_XXS, MemorySegment.ofArray(iq));
        Path p = dir.resolve("all.gguf");
        w.write(p);

        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(3, f.version());
            assertSameMetadata(allTypes(), f.metadata());
            assertEquals(List.of("vec", "mat", "cube", "raw.q8", "raw.iq"), f.tensors().stream().map(GGUFTensorInfo::name).toList());
            assertArrayEquals(new long[]{4, 2, 3}, f.tensor("cube").shape());
            assertEquals(GGMLType.IQ2_XXS, f.tensor("raw.iq").type());
            for (GGUFTensorInfo t : f.tensors()) {
                assertEquals(0, t.offset() % 32, t.name());
            }
            assertArrayEquals(vec, f.data(f.tensor("vec")).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertArrayEquals(mat, f.data(f.tensor("mat")).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertArrayEquals(cube, f.data(f.tensor("cube")).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertArrayEquals(q8, bytes(f.data(f.tensor("raw.q8"))));
            assertArrayEquals(iq, bytes(f.data(f.tensor("raw.iq"))));
        }
    }

    /** The exact bytes of a tiny file, laid out by hand from the GGUF specification. */
    @Test
    void tinyFileHasTheSpecifiedLayout() throws IOException {
        Path p = dir.resolve("tiny.gguf");
        new GGUFWriter()
                .put("k", MetadataValue.ofUInt32(7))
                .addTensor("t", new long[]{2}, GGMLType.F32, new float[]{1f, -2f})
                .addTensor("u", new long[]{1}, GGMLType.F32, new float[]{0.5f})
                .write(p);
        ByteBuffer e = ByteBuffer.allocate(200).order(ByteOrder.LITTLE_ENDIAN);
        e.put("GGUF".getBytes()).putInt(3).putLong(2).putLong(1);
        e.putLong(1).put((byte) 'k').putInt(4).putInt(7);
        e.putLong(1).put((byte) 't').putInt(1).putLong(2).putInt(0).putLong(0);
        e.putLong(1).put((byte) 'u').putInt(1).putLong(1).putInt(0).putLong(32);
        assertEquals(107, e.position());
        e.position(128); // data section: header padded to 32
        e.putFloat(1f).putFloat(-2f);
        e.position(160); // second tensor at offset 32
        e.putFloat(0.5f);
        e.position(192); // the last tensor is padded too, as llama.cpp does
        byte[] expected = Arrays.copyOf(e.array(), e.position());
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void honoursGeneralAlignment() throws IOException {
        Path p = dir.resolve("a64.gguf");
        new GGUFWriter()
                .put("general.alignment", MetadataValue.ofUInt32(64))
                .addTensor("a", new long[]{3}, GGMLType.F32, new float[]{1, 2, 3})
                .addTensor("b", new long[]{20}, GGMLType.F32, new float[20])
                .addTensor("c", new long[]{1}, GGMLType.F32, new float[]{9})
                .write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.tensor("a").offset());
            assertEquals(64, f.tensor("b").offset());
            assertEquals(192, f.tensor("c").offset());
            assertEquals(0, f.fileSize() % 64);
            assertEquals(9f, f.data(f.tensor("c")).get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        }
        long dataStart = Files.size(p) - 256;
        assertEquals(0, dataStart % 64);
        assertThrows(IllegalArgumentException.class, () -> new GGUFWriter().put("general.alignment", MetadataValue.ofUInt32(48)));
        assertThrows(IllegalArgumentException.class, () -> new GGUFWriter().put("general.alignment", MetadataValue.of("32")));
    }

    @Test
    void rewritesStories260KByteForByte() throws IOException {
        Path original = Fixtures.stories260K("stories260K-f32.gguf");
        Path copy = dir.resolve("copy.gguf");
        try (GGUFFile f = GGUFFile.open(original)) {
            GGUFWriter w = new GGUFWriter().putAll(f.metadata());
            for (GGUFTensorInfo t : f.tensors()) {
                w.copyTensor(f, t);
            }
            w.write(copy);
        }
        assertEquals(-1, Files.mismatch(original, copy), "first differing byte");
    }

    @Test
    void rowSourcesAreStreamedInOrderAndChunked() {
        int rowLength = 3000;
        int rows = 1000; // 3M floats: several chunks
        List<long[]> calls = new ArrayList<>();
        GGUFWriter.RowSource src = (first, count, dst) -> {
            calls.add(new long[]{first, count});
            for (int r = 0; r < count; r++) {
                for (int c = 0; c < rowLength; c++) {
                    dst[r * rowLength + c] = (first + r) * 10_000 + c;
                }
            }
        };
        Path p = dir.resolve("big.gguf");
        new GGUFWriter().addTensor("big", new long[]{rowLength, rows}, GGMLType.F32, src).write(p);
        assertTrue(calls.size() > 1, "expected several chunks, got " + calls.size());
        long next = 0;
        for (long[] c : calls) {
            assertEquals(next, c[0]);
            next += c[1];
        }
        assertEquals(rows, next);
        try (GGUFFile f = GGUFFile.open(p)) {
            MemorySegment d = f.data(f.tensor("big"));
            ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int r : new int[]{0, 1, 349, 350, 999}) {
                for (int c : new int[]{0, 1, 2999}) {
                    assertEquals(r * 10_000f + c, d.getAtIndex(le, (long) r * rowLength + c), r + "," + c);
                }
            }
        }
    }

    @Test
    void failingSourceLeavesNoFile() throws IOException {
        Path p = dir.resolve("fail.gguf");
        GGUFWriter w = new GGUFWriter().addTensor("x", new long[]{4, 2}, GGMLType.F32, (first, count, dst) -> {
            throw new IllegalStateException("boom");
        });
        assertThrows(IllegalStateException.class, () -> w.write(p));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void rejectsInvalidInput() {
        GGUFWriter w = new GGUFWriter();
        assertThrows(IllegalArgumentException.class, () -> w.put("x", new MetadataValue(GGUFValueType.UINT8, null, 256)));
        assertThrows(IllegalArgumentException.class, () -> w.put("x", new MetadataValue(GGUFValueType.UINT32, null, 5)));
        assertThrows(IllegalArgumentException.class, () -> w.put("x", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.INT32, new float[1])));
        assertThrows(IllegalArgumentException.class, () -> w.put("x", new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.ARRAY,
                new MetadataValue[]{MetadataValue.of("not an array")})));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{3}, GGMLType.F32, new float[2]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{0, 2}, GGMLType.F32, new float[0]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{1, 1, 1, 1, 1}, GGMLType.F32, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{33}, GGMLType.Q8_0, MemorySegment.ofArray(new byte[34])));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{32}, GGMLType.Q8_0, MemorySegment.ofArray(new byte[33])));
        assertThrows(UnsupportedTensorTypeException.class, () -> w.addTensor("t", new long[]{256}, GGMLType.Q8_K, new float[256]));
        TernException unweighted = assertThrows(TernException.class, () -> w.addTensor("t", new long[]{256}, GGMLType.IQ2_XXS, new float[256]));
        assertTrue(unweighted.getMessage().startsWith("t: IQ2_XXS needs an importance matrix"), unweighted.getMessage());
        w.addTensor("t", new long[]{1}, GGMLType.F32, new float[1]);
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[]{1}, GGMLType.F32, new float[1]));
    }

    @Test
    void unwritablePathIsOneLineNamingTheFile() {
        Path p = dir.resolve("no-such-dir").resolve("out.gguf");
        TernException e = assertThrows(TernException.class, () -> new GGUFWriter().write(p));
        assertEquals(p + ": no such directory: " + p.getParent(), e.getMessage());
        TernException onDir = assertThrows(TernException.class, () -> new GGUFWriter().write(dir));
        assertEquals(dir + ": is a directory", onDir.getMessage());
    }
}
