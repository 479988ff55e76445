package dev.tern.gguf;

import dev.tern.tensor.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Damaged GGUF files must be rejected with a one-line {@link GGUFException} naming the file,
 * or opened consistently: never another exception, an OutOfMemoryError or a hang.
 */
class GGUFCorruptionTest {
    private static final String NAME = "damaged-sample.gguf";

    @TempDir
    Path dir;

    /** A header field: where it is, how wide, and what it is. */
    record Field(String what, int offset, int width) {
    }

    /** A small valid file with metadata of several types (arrays, nested arrays) and tensors of three types. */
    private byte[] sample() throws IOException {
        Path p = dir.resolve("sample.gguf");
        MetadataValue nested = new MetadataValue(GGUFValueType.ARRAY, GGUFValueType.ARRAY,
                new MetadataValue[]{MetadataValue.ofArray(new int[]{1, 2}), MetadataValue.ofArray(new String[]{"x"})});
        new GGUFWriter()
                .put("general.architecture", MetadataValue.of("llama"))
                .put("general.alignment", MetadataValue.ofUInt32(32))
                .put("u8", new MetadataValue(GGUFValueType.UINT8, null, 7))
                .put("i16", new MetadataValue(GGUFValueType.INT16, null, -3))
                .put("f64", new MetadataValue(GGUFValueType.FLOAT64, null, 2.5))
                .put("flag", MetadataValue.ofBool(true))
                .put("u64", new MetadataValue(GGUFValueType.UINT64, null, 1L << 40))
                .put("tokens", MetadataValue.ofArray(new String[]{"<unk>", "a", "bc"}))
                .put("scores", MetadataValue.ofArray(new float[]{0f, -1f, -2f}))
                .put("nested", nested)
                .addTensor("emb", new long[]{8, 4}, GGMLType.F32, new float[32])
                .addTensor("norm", new long[]{8}, GGMLType.F32, new float[]{1, 1, 1, 1, 1, 1, 1, 1})
                .addTensor("q", new long[]{32, 2}, GGMLType.Q8_0, MemorySegment.ofArray(new byte[68]))
                .addTensor("cube", new long[]{2, 3, 2}, GGMLType.F32, new float[12])
                .write(p);
        return Files.readAllBytes(p);
    }

    /**
     * Walks the header as the GGUF specification lays it out (independently of the reader),
     * listing every field. Returns the fields; {@code end[0]} receives the header's end.
     */
    private static List<Field> fields(byte[] file, int[] end) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        List<Field> out = new ArrayList<>();
        out.add(new Field("magic", 0, 4));
        out.add(new Field("version", 4, 4));
        out.add(new Field("tensor count", 8, 8));
        out.add(new Field("kv count", 16, 8));
        long tensors = b.getLong(8);
        long kvs = b.getLong(16);
        b.position(24);
        for (int i = 0; i < kvs; i++) {
            String key = string(b, out, "key #" + i);
            out.add(new Field(key + " value type", b.position(), 4));
            value(b, out, key, b.getInt());
        }
        for (int i = 0; i < tensors; i++) {
            String name = string(b, out, "tensor #" + i);
            out.add(new Field(name + " n_dims", b.position(), 4));
            int dims = b.getInt();
            for (int d = 0; d < dims; d++) {
                out.add(new Field(name + " dim " + d, b.position(), 8));
                b.getLong();
            }
            out.add(new Field(name + " type", b.position(), 4));
            b.getInt();
            out.add(new Field(name + " offset", b.position(), 8));
            b.getLong();
        }
        end[0] = b.position();
        return out;
    }

    private static String string(ByteBuffer b, List<Field> out, String what) {
        out.add(new Field(what + " length", b.position(), 8));
        byte[] s = new byte[(int) b.getLong()];
        b.get(s);
        return new String(s, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static void value(ByteBuffer b, List<Field> out, String what, int type) {
        int width = switch (type) {
            case 0, 1, 7 -> 1;
            case 2, 3 -> 2;
            case 4, 5, 6 -> 4;
            case 10, 11, 12 -> 8;
            default -> 0;
        };
        if (width > 0) {
            out.add(new Field(what + " value", b.position(), width));
            b.position(b.position() + width);
        } else if (type == 8) {
            string(b, out, what);
        } else if (type == 9) {
            array(b, out, what);
        } else {
            throw new AssertionError("sample has value type " + type);
        }
    }

    private static void array(ByteBuffer b, List<Field> out, String what) {
        out.add(new Field(what + " array type", b.position(), 4));
        int et = b.getInt();
        out.add(new Field(what + " array count", b.position(), 8));
        long n = b.getLong();
        for (int i = 0; i < n; i++) {
            if (et == 9) {
                array(b, out, what + "[" + i + "]");
            } else {
                value(b, out, what + "[" + i + "]", et);
            }
        }
    }

    /** Opens p; a failure must be a one-line GGUFException naming the file, a success must be consistent. */
    private static void check(Path p, String what, boolean mustFail) {
        try (GGUFFile f = GGUFFile.open(p)) {
            assertFalse(mustFail, what + ": opened a file that must be rejected");
            for (GGUFTensorInfo t : f.tensors()) {
                long bytes = Math.multiplyExact(t.elementCount() / t.type().blockSize, (long) t.type().blockBytes);
                assertEquals(bytes, t.byteSize(), what);
                assertEquals(bytes, f.data(t).byteSize(), what);
            }
            f.metadata().values().forEach(MetadataValue::toString);
        } catch (GGUFException e) {
            String m = e.getMessage();
            assertTrue(m.contains(p.getFileName().toString()), what + ": message does not name the file: " + m);
            assertFalse(m.contains("\n") || m.contains("\r"), what + ": message is not one line: " + m);
            assertTrue(m.length() < 1000, what + ": message too long: " + m.length());
        } catch (Throwable t) {
            fail(what + ": " + t, t);
        }
    }

    private Path write(byte[] bytes) throws IOException {
        Path p = dir.resolve(NAME);
        Files.write(p, bytes);
        return p;
    }

    /** Checks bytes as a file, then deletes it: rewriting one file in place makes ext4 flush it every time. */
    private void checkBytes(byte[] bytes, String what, boolean mustFail) throws IOException {
        Path p = write(bytes);
        check(p, what, mustFail);
        Files.delete(p);
    }

    @Test
    void truncatedAtAnyLengthIsRejected() throws IOException {
        byte[] full = sample();
        int[] end = new int[1];
        fields(full, end);
        long dataStart = GGUFFile.align(end[0], 32);
        long dataEnd;
        try (GGUFFile f = GGUFFile.open(write(full))) {
            dataEnd = dataStart + f.tensors().stream().mapToLong(t -> t.offset() + t.byteSize()).max().orElseThrow();
        }
        Files.delete(dir.resolve(NAME));
        Set<Integer> lengths = new LinkedHashSet<>();
        for (int n = 0; n <= dataStart; n++) {
            lengths.add(n);
        }
        for (int n = (int) dataStart; n < full.length; n += 7) {
            lengths.add(n);
        }
        lengths.add((int) dataEnd - 1);
        lengths.add((int) dataEnd);
        lengths.add(full.length - 1);
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            for (int n : lengths) {
                checkBytes(Arrays.copyOf(full, n), "truncated to " + n, n < dataEnd);
            }
        });
    }

    @Test
    void everyHeaderFieldWithExtremeValues() throws IOException {
        byte[] full = sample();
        List<Field> fields = fields(full, new int[1]);
        assertTrue(fields.size() > 50, "walked " + fields.size() + " fields");
        assertTrue(fields.stream().anyMatch(f -> f.what().equals("general.alignment value")));
        assertTrue(fields.stream().anyMatch(f -> f.what().equals("nested[1] array count")));
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            for (Field f : fields) {
                for (long v : extremes(f, full)) {
                    byte[] bad = full.clone();
                    ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
                    switch (f.width()) {
                        case 1 -> b.put(f.offset(), (byte) v);
                        case 2 -> b.putShort(f.offset(), (short) v);
                        case 4 -> b.putInt(f.offset(), (int) v);
                        default -> b.putLong(f.offset(), v);
                    }
                    checkBytes(bad, f.what() + " = " + v, false);
                }
            }
        });
    }

    private static List<Long> extremes(Field f, byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long orig = switch (f.width()) {
            case 1 -> b.get(f.offset());
            case 2 -> b.getShort(f.offset());
            case 4 -> b.getInt(f.offset());
            default -> b.getLong(f.offset());
        };
        List<Long> v = new ArrayList<>(List.of(0L, 1L, 2L, 3L, -1L, -2L, orig + 1, orig - 1, orig * 2, orig + 32));
        if (f.width() >= 4) {
            v.addAll(List.of(5L, 8L, 9L, 12L, 13L, 99L, 16L, 64L, 1L << 20, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFFL));
        }
        if (f.width() == 8) {
            v.addAll(List.of(1L << 32, 1L << 40, 1L << 62, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 31));
        }
        if (f.what().endsWith(" type")) {
            // every ggml type id, known or not, supported or not
            for (long id = 0; id <= 40; id++) {
                v.add(id);
            }
        }
        return v;
    }

    @Test
    void emptyFileDirectoryAndMissingFile() throws IOException {
        checkBytes(new byte[0], "empty file", true);
        checkBytes("GGU".getBytes(), "3 bytes", true);
        checkBytes("GGUF".getBytes(), "magic only", true);
        Path sub = dir.resolve("a-directory.gguf");
        Files.createDirectory(sub);
        check(sub, "directory", true);
        check(dir.resolve("missing.gguf"), "missing file", true);
    }

    /**
     * A count larger than any Java array in a file big enough to seem to hold it: a sparse
     * 2.2 GB file (no disk space used) whose bool array claims 2^31+5 elements.
     */
    @Test
    void hugeArrayCountInAHugeSparseFile() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GGUFFile.MAGIC).putInt(3).putLong(0).putLong(1);
        b.putLong(1).put((byte) 'k').putInt(GGUFValueType.ARRAY.id()).putInt(GGUFValueType.BOOL.id()).putLong((1L << 31) + 5);
        Path p = dir.resolve("huge-sparse.gguf");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(b.array(), 0, b.position());
            f.setLength((1L << 31) + 200_000_000L);
        }
        check(p, "bool array of 2^31+5", true);
    }
}
