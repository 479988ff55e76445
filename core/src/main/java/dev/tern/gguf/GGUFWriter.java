package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Writes GGUF version 3 files: metadata in insertion order, tensor infos in the order tensors
 * were added, then the tensor data, each tensor aligned to {@code general.alignment} (32 when
 * absent) and padded with zeros, as llama.cpp writes them. Tensor data is streamed: float
 * sources are asked for a chunk of rows at a time and quantized chunk by chunk, so a file of
 * any size is written in bounded memory. The file appears at its path only once complete.
 */
public final class GGUFWriter {
    public static final int VERSION = 3;
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** Floats per chunk handed to a {@link RowSource}: bounds the writer's memory (4 MiB). */
    private static final int CHUNK_FLOATS = 1 << 20;
    private static final int BUFFER_BYTES = 1 << 20;
    private static final long MAX_RAW_WRITE = 1 << 26;
    private static final int PARALLEL_MIN_FLOATS = 1 << 16;

    /**
     * Produces a tensor's values as floats. The writer asks for every row exactly once, in
     * increasing order, a chunk at a time, so a source may be a sequential generator.
     */
    @FunctionalInterface
    public interface RowSource {
        /** Fills dst[0, rowCount × rowLength) with rows firstRow … firstRow+rowCount-1. */
        void rows(long firstRow, int rowCount, float[] dst);
    }

    /**
     * {@code importance}: the quantizer's weights of each row's columns, one array per matrix of shape[0] × shape[1]
     * (experts), or null (see TensorFormat.quantize).
     */
    private record Entry(String name, long[] shape, GGMLType type, RowSource rows, MemorySegment raw, float[][] importance) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        long byteSize() {
            return type.byteSize(elements());
        }
    }

    private final Map<String, MetadataValue> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();

    /**
     * Sets a metadata value; a key already present keeps its position. The value must be
     * shaped as {@link MetadataValue} documents (IllegalArgumentException otherwise).
     */
    public GGUFWriter put(String key, MetadataValue value) {
        MetadataCodec.check(key, value);
        if (key.equals(ALIGNMENT_KEY)) {
            alignmentOf(value);
        }
        metadata.put(key, value);
        return this;
    }

    /** Sets every entry of {@code values}, in its iteration order. */
    public GGUFWriter putAll(Map<String, MetadataValue> values) {
        values.forEach(this::put);
        return this;
    }

    /** Removes a metadata key if present. */
    public GGUFWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /** The metadata to be written, in order (read-only view). */
    public Map<String, MetadataValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * Adds a tensor whose values come from {@code source} as floats and are encoded to
     * {@code type} with {@code TensorFormat.of(type).quantize} while writing.
     *
     * @param shape ggml order: shape[0] is the row length
     */
    public GGUFWriter addTensor(String name, long[] shape, GGMLType type, RowSource source) {
        return addTensor(name, shape, type, source, null);
    }

    /**
     * As {@link #addTensor(String, long[], GGMLType, RowSource)}, each row quantized with importance weights
     * of its columns (llama-quantize --imatrix): shape[0] of them per matrix of shape[0] × shape[1] (a 3-D
     * tensor's experts each have their own, one after the other); null: without.
     */
    public GGUFWriter addTensor(String name, long[] shape, GGMLType type, RowSource source, float[] importance) {
        // a type Tern cannot encode fails here, before any file is touched
        TensorFormat.of(type);
        if (type.requiresImportance() && importance == null) {
            throw new TernException(name + ": " + type + " needs an importance matrix (tern imatrix, then tern quantize --imatrix)");
        }
        Entry e = new Entry(name, shape.clone(), type, source, null, perMatrix(name, shape, importance));
        checkShape(e);
        if (shape[0] > CHUNK_FLOATS * 64L) {
            throw new IllegalArgumentException(name + ": rows of " + shape[0] + " values are too long to stream");
        }
        return add(e);
    }

    /** Adds a tensor from float values in row-major order, encoded to {@code type} while writing. */
    public GGUFWriter addTensor(String name, long[] shape, GGMLType type, float[] values) {
        Entry e = new Entry(name, shape.clone(), type, null, null, null);
        checkShape(e);
        long n = e.elements();
        if (n != values.length) {
            throw new IllegalArgumentException(name + ": shape holds " + n + " values, got " + values.length);
        }
        int rowLength = Math.toIntExact(shape[0]);
        return addTensor(name, shape, type, (first, count, dst) ->
                System.arraycopy(values, Math.toIntExact(first * rowLength), dst, 0, count * rowLength));
    }

    /** Adds a tensor whose bytes are already encoded in {@code type}, such as a slice of another GGUF file. */
    public GGUFWriter addTensor(String name, long[] shape, GGMLType type, MemorySegment bytes) {
        Entry e = new Entry(name, shape.clone(), type, null, bytes, null);
        checkShape(e);
        if (bytes.byteSize() != e.byteSize()) {
            throw new IllegalArgumentException(name + ": " + type + " " + Arrays.toString(shape)
                    + " takes " + e.byteSize() + " bytes, got " + bytes.byteSize());
        }
        return add(e);
    }

    /** Adds a tensor of another GGUF file unchanged: same name, shape, type and bytes. */
    public GGUFWriter copyTensor(GGUFFile file, GGUFTensorInfo tensor) {
        return addTensor(tensor.name(), tensor.shape(), tensor.type(), file.data(tensor));
    }

    private GGUFWriter add(Entry e) {
        if (!tensorNames.add(e.name)) {
            throw new IllegalArgumentException("duplicate tensor '" + e.name + "'");
        }
        tensors.add(e);
        return this;
    }

    private static void checkShape(Entry e) {
        if (e.shape.length < 1 || e.shape.length > 4) {
            throw new IllegalArgumentException(e.name + ": " + e.shape.length + " dimensions (1 to 4 allowed)");
        }
        for (long d : e.shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(e.name + ": dimension " + d + " in " + Arrays.toString(e.shape));
            }
        }
        if (e.shape[0] % e.type.blockSize != 0) {
            throw new IllegalArgumentException(e.name + ": row length " + e.shape[0] + " is not a multiple of the "
                    + e.type + " block size " + e.type.blockSize);
        }
        try {
            Math.multiplyExact(e.elements() / e.type.blockSize, (long) e.type.blockBytes);
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException(e.name + ": " + Arrays.toString(e.shape) + " is too large");
        }
    }

    /** The alignment the file will use: {@code general.alignment} or 32. */
    public int alignment() {
        MetadataValue a = metadata.get(ALIGNMENT_KEY);
        return a == null ? GGUFFile.DEFAULT_ALIGNMENT : alignmentOf(a);
    }

    private static int alignmentOf(MetadataValue a) {
        if (!(a.value() instanceof Integer || a.value() instanceof Long)
                || ((Number) a.value()).longValue() <= 0 || Long.bitCount(((Number) a.value()).longValue()) != 1
                || ((Number) a.value()).longValue() > (1 << 20)) {
            throw new IllegalArgumentException(ALIGNMENT_KEY + " must be an integer power of two up to 2^20, got " + a);
        }
        return ((Number) a.value()).intValue();
    }

    /**
     * Writes the file, replacing any file at {@code path}. Row sources are consumed, so a
     * writer is written once. A failure (I/O or a throwing source)
     * leaves no partial file behind; I/O failures throw a {@link TernException} naming the file.
     */
    public void write(Path path) {
        int alignment = alignment();
        Path dir = path.toAbsolutePath().getParent();
        if (Files.isDirectory(path)) {
            throw new TernException(path + ": is a directory");
        }
        if (!Files.isDirectory(dir)) {
            throw new TernException(path + ": no such directory: " + dir);
        }
        Path tmp;
        try {
            // createFile, unlike createTempFile, gives the usual permissions the finished file keeps
            tmp = Files.createFile(dir.resolve("." + path.getFileName() + "." + Long.toHexString(System.nanoTime()) + ".part"));
        } catch (IOException e) {
            throw new TernException(path + ": cannot create: " + reason(e));
        }
        boolean done = false;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
             Arena arena = Arena.ofShared()) {
            Sink out = new Sink(ch, arena);
            writeHeader(out, alignment);
            writeData(out, alignment, arena);
            out.flush();
            ch.close();
            moveInto(tmp, path);
            done = true;
        } catch (IOException e) {
            throw new TernException(path + ": cannot write: " + reason(e));
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure matters more than a leftover temporary file
                }
            }
        }
    }

    /** What went wrong, without the exception's class name: "permission denied", "No space left on device". */
    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return String.valueOf(e.getMessage());
    }

    private static void moveInto(Path tmp, Path path) throws IOException {
        try {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private void writeHeader(Sink out, int alignment) throws IOException {
        out.i32(GGUFFile.MAGIC);
        out.i32(VERSION);
        out.i64(tensors.size());
        out.i64(metadata.size());
        for (Map.Entry<String, MetadataValue> kv : metadata.entrySet()) {
            out.string(kv.getKey());
            out.i32(kv.getValue().type().id());
            MetadataCodec.write(out, kv.getValue());
        }
        long offset = 0;
        for (Entry e : tensors) {
            out.string(e.name);
            out.i32(e.shape.length);
            for (long d : e.shape) {
                out.i64(d);
            }
            out.i32(e.type.id);
            out.i64(offset);
            offset = GGUFFile.align(offset + e.byteSize(), alignment);
        }
        out.padTo(alignment);
    }

    private void writeData(Sink out, int alignment, Arena arena) throws IOException {
        int maxFloats = 0;
        long maxBytes = 0;
        for (Entry e : tensors) {
            if (e.rows != null) {
                int rowLength = (int) e.shape[0];
                int chunkRows = chunkRows(e);
                maxFloats = Math.max(maxFloats, chunkRows * rowLength);
                maxBytes = Math.max(maxBytes, chunkRows * e.type.byteSize(rowLength));
            }
        }
        float[] floats = new float[maxFloats];
        MemorySegment encoded = maxBytes == 0 ? MemorySegment.NULL : arena.allocate(maxBytes, 64);
        for (Entry e : tensors) {
            if (e.raw != null) {
                for (long p = 0; p < e.raw.byteSize(); p += MAX_RAW_WRITE) {
                    out.write(e.raw.asSlice(p, Math.min(MAX_RAW_WRITE, e.raw.byteSize() - p)));
                }
            } else {
                writeRows(out, e, floats, encoded);
            }
            out.padTo(alignment);
        }
    }

    private static float[][] perMatrix(String name, long[] shape, float[] importance) {
        if (importance == null) {
            return null;
        }
        long matrices = 1;
        for (int d = 2; d < shape.length; d++) {
            matrices *= shape[d];
        }
        if (importance.length != shape[0] * matrices) {
            throw new IllegalArgumentException(name + ": " + importance.length + " importance weights for "
                    + matrices + " matrices of rows of " + shape[0]);
        }
        float[][] out = new float[(int) matrices][];
        for (int m = 0; m < matrices; m++) {
            out[m] = Arrays.copyOfRange(importance, (int) (m * shape[0]), (int) ((m + 1) * shape[0]));
        }
        return out;
    }

    private static int chunkRows(Entry e) {
        long rows = e.elements() / e.shape[0];
        return (int) Math.max(1, Math.min(rows, CHUNK_FLOATS / e.shape[0]));
    }

    private static void writeRows(Sink out, Entry e, float[] floats, MemorySegment encoded) throws IOException {
        TensorFormat format = TensorFormat.of(e.type);
        int rowLength = (int) e.shape[0];
        long rowBytes = e.type.byteSize(rowLength);
        long rows = e.elements() / rowLength;
        int chunkRows = chunkRows(e);
        for (long first = 0; first < rows; first += chunkRows) {
            int n = (int) Math.min(chunkRows, rows - first);
            e.rows.rows(first, n, floats);
            IntStream rowIndexes = IntStream.range(0, n);
            // quantizing is the slow part for block types: rows are independent, so use the cores
            if (e.type != GGMLType.F32 && (long) n * rowLength >= PARALLEL_MIN_FLOATS) {
                rowIndexes = rowIndexes.parallel();
            }
            long firstRow = first;
            rowIndexes.forEach(r -> {
                if (e.importance == null) {
                    format.quantize(floats, r * rowLength, rowLength, encoded, r * rowBytes);
                } else {
                    float[] w = e.importance[(int) ((firstRow + r) / (e.shape.length > 1 ? e.shape[1] : 1))];
                    format.quantize(floats, r * rowLength, rowLength, encoded, r * rowBytes, w);
                }
            });
            out.write(encoded.asSlice(0, n * rowBytes));
        }
    }


    /** Checks and writes metadata values in the shapes {@link MetadataValue} documents. */
    private static final class MetadataCodec {
        private MetadataCodec() {
        }

        static void check(String key, MetadataValue v) {
            if (key == null || v == null || v.type() == null) {
                throw new IllegalArgumentException("metadata '" + key + "': null key, value or type");
            }
            String problem = problem(v, 0);
            if (problem != null) {
                throw new IllegalArgumentException("metadata '" + key + "': " + problem);
            }
        }

        /** What is wrong with v, or null. */
        private static String problem(MetadataValue v, int depth) {
            Object o = v.value();
            if (v.type() != GGUFValueType.ARRAY) {
                return scalarFits(v.type(), o) ? null : v.type() + " cannot hold " + describe(o);
            }
            GGUFValueType et = v.elementType();
            if (et == null || o == null) {
                return "array without element type or value";
            }
            boolean fits = switch (et) {
                case UINT8, INT8 -> o instanceof byte[];
                case UINT16, INT16 -> o instanceof short[];
                case UINT32, INT32 -> o instanceof int[];
                case UINT64, INT64 -> o instanceof long[];
                case FLOAT32 -> o instanceof float[];
                case FLOAT64 -> o instanceof double[];
                case BOOL -> o instanceof boolean[];
                case STRING -> o instanceof String[] a && Arrays.stream(a).allMatch(Objects::nonNull);
                case ARRAY -> o instanceof MetadataValue[];
            };
            if (!fits) {
                return "array of " + et + " cannot be " + describe(o);
            }
            if (et == GGUFValueType.ARRAY) {
                if (depth >= 8) {
                    return "arrays nested too deeply";
                }
                for (MetadataValue e : (MetadataValue[]) o) {
                    if (e == null || e.type() != GGUFValueType.ARRAY) {
                        return "an array of arrays holds a non-array element";
                    }
                    String p = problem(e, depth + 1);
                    if (p != null) {
                        return p;
                    }
                }
            }
            return null;
        }

        private static boolean scalarFits(GGUFValueType t, Object o) {
            return switch (t) {
                case UINT8 -> o instanceof Integer i && i >= 0 && i <= 0xFF;
                case INT8 -> o instanceof Integer i && i >= Byte.MIN_VALUE && i <= Byte.MAX_VALUE;
                case UINT16 -> o instanceof Integer i && i >= 0 && i <= 0xFFFF;
                case INT16 -> o instanceof Integer i && i >= Short.MIN_VALUE && i <= Short.MAX_VALUE;
                case UINT32 -> o instanceof Long l && l >= 0 && l <= 0xFFFFFFFFL;
                case INT32 -> o instanceof Integer;
                case UINT64, INT64 -> o instanceof Long;
                case FLOAT32 -> o instanceof Float;
                case FLOAT64 -> o instanceof Double;
                case BOOL -> o instanceof Boolean;
                case STRING -> o instanceof String;
                case ARRAY -> false;
            };
        }

        private static String describe(Object o) {
            return o == null ? "null" : o.getClass().getSimpleName() + " " + o;
        }

        /** The value's bytes after its type id. */
        static void write(Sink out, MetadataValue v) throws IOException {
            Object o = v.value();
            switch (v.type()) {
                case UINT8, INT8, BOOL -> out.i8(o instanceof Boolean b ? (b ? 1 : 0) : (Integer) o);
                case UINT16, INT16 -> out.i16((Integer) o);
                case UINT32, UINT64, INT64 -> out.put(v.type() == GGUFValueType.UINT32 ? 4 : 8, (Long) o);
                case INT32 -> out.i32((Integer) o);
                case FLOAT32 -> out.i32(Float.floatToRawIntBits((Float) o));
                case FLOAT64 -> out.i64(Double.doubleToRawLongBits((Double) o));
                case STRING -> out.string((String) o);
                case ARRAY -> writeArray(out, v);
            }
        }

        private static void writeArray(Sink out, MetadataValue v) throws IOException {
            out.i32(v.elementType().id());
            out.i64(v.length());
            switch (v.value()) {
                case byte[] a -> out.bytes(a);
                case boolean[] a -> {
                    for (boolean b : a) {
                        out.i8(b ? 1 : 0);
                    }
                }
                case short[] a -> {
                    for (short x : a) {
                        out.i16(x);
                    }
                }
                case int[] a -> {
                    for (int x : a) {
                        out.i32(x);
                    }
                }
                case long[] a -> {
                    for (long x : a) {
                        out.i64(x);
                    }
                }
                case float[] a -> {
                    for (float x : a) {
                        out.i32(Float.floatToRawIntBits(x));
                    }
                }
                case double[] a -> {
                    for (double x : a) {
                        out.i64(Double.doubleToRawLongBits(x));
                    }
                }
                case String[] a -> {
                    for (String x : a) {
                        out.string(x);
                    }
                }
                case MetadataValue[] a -> {
                    for (MetadataValue x : a) {
                        writeArray(out, x);
                    }
                }
                default -> throw new IllegalStateException("unchecked array " + v);
            }
        }
    }

    /** Little-endian output through a buffer, counting bytes for alignment padding. */
    static final class Sink {
        private final FileChannel ch;
        private final ByteBuffer buf;
        private long position;

        Sink(FileChannel ch, Arena arena) {
            this.ch = ch;
            this.buf = arena.allocate(BUFFER_BYTES, 64).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            buf.clear();
        }

        void i8(int v) throws IOException {
            room(1);
            buf.put((byte) v);
            position++;
        }

        void i16(int v) throws IOException {
            room(2);
            buf.putShort((short) v);
            position += 2;
        }

        void i32(int v) throws IOException {
            room(4);
            buf.putInt(v);
            position += 4;
        }

        void i64(long v) throws IOException {
            room(8);
            buf.putLong(v);
            position += 8;
        }

        /** The low {@code width} (4 or 8) bytes of v. */
        void put(int width, long v) throws IOException {
            if (width == 4) {
                i32((int) v);
            } else {
                i64(v);
            }
        }

        void bytes(byte[] b) throws IOException {
            for (int off = 0; off < b.length; ) {
                room(1);
                int n = Math.min(buf.remaining(), b.length - off);
                buf.put(b, off, n);
                off += n;
            }
            position += b.length;
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b);
        }

        /** Writes a segment straight to the file, bypassing the buffer. */
        void write(MemorySegment seg) throws IOException {
            flush();
            ByteBuffer bb = seg.asByteBuffer();
            while (bb.hasRemaining()) {
                ch.write(bb);
            }
            position += seg.byteSize();
        }

        void padTo(int alignment) throws IOException {
            long pad = GGUFFile.align(position, alignment) - position;
            for (long i = 0; i < pad; i++) {
                i8(0);
            }
        }
    }
}
