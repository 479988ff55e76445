package dev.tern.gguf;

import dev.tern.tensor.GGMLType;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GGUF file (versions 2 and 3), memory-mapped read-only. Metadata and tensor infos are parsed
 * once at open; tensor data stays in the mapping and is handed out as slices, never copied.
 * A model split into parts ({@link GGUFSplit}) is opened from its first part and read as one
 * file. Every structural problem is reported as a {@link GGUFException} naming the file.
 */
public final class GGUFFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    public static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;

    /** A split model's part names: PREFIX-00001-of-00003.gguf, as llama.cpp's gguf-split writes them. */
    private static final Pattern SPLIT_NAME = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf");

    private final Path path;
    private final Arena arena;
    private final int version;
    private final int alignment;
    private final Map<String, MetadataValue> metadata;
    private final Map<String, GGUFTensorInfo> tensors;
    /** Per tensor, where its bytes are. */
    private final Map<String, Location> locations;
    /** The files read, in order: one, or a split model's parts. */
    private final List<Path> parts;
    private final long size;

    private GGUFFile(Path path, Arena arena, int version, int alignment, Map<String, MetadataValue> metadata,
                     Map<String, GGUFTensorInfo> tensors, Map<String, Location> locations, List<Path> parts, long size) {
        this.path = path;
        this.arena = arena;
        this.version = version;
        this.alignment = alignment;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.locations = locations;
        this.parts = List.copyOf(parts);
        this.size = size;
    }

    /** Whether the file starts with the GGUF magic (a llama2.c checkpoint, say, does not). */
    public static boolean isGGUF(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(4);
            return head.length == 4 && (head[0] & 0xFF | (head[1] & 0xFF) << 8 | (head[2] & 0xFF) << 16 | (head[3] & 0xFF) << 24) == MAGIC;
        } catch (NoSuchFileException e) {
            throw new GGUFException(path, "no such file");
        } catch (IOException e) {
            throw new GGUFException(path, "cannot read: " + e.getMessage());
        }
    }

    public static GGUFFile open(Path path) {
        GGUFFile first = openAlone(path);
        try {
            int count = first.splitInt(GGUFSplit.COUNT);
            return count > 1 ? joinParts(first, count) : first;
        } catch (RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /** This file alone, even when it is a part of a split model. */
    static GGUFFile openAlone(Path path) {
        if (Files.isDirectory(path)) {
            throw new GGUFException(path, "is a directory, not a GGUF file");
        }
        Arena arena = Arena.ofShared();
        try {
            return map(path, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static GGUFFile map(Path path, Arena arena) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return parse(path, arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        } catch (NoSuchFileException e) {
            throw new GGUFException(path, "no such file");
        } catch (AccessDeniedException e) {
            throw new GGUFException(path, "permission denied");
        } catch (IOException e) {
            throw new GGUFException(path, "cannot read: " + e.getMessage());
        }
    }

    /**
     * A model split by llama.cpp's gguf-split: the first part holds the metadata and some tensors,
     * each other part (found by its name) more tensors; all of them are read as one file, as
     * llama.cpp loads them.
     */
    private static GGUFFile joinParts(GGUFFile first, int count) {
        Path path = first.path;
        int no = first.splitInt(GGUFSplit.NO);
        Matcher m = SPLIT_NAME.matcher(path.getFileName().toString());
        if (no != 0) {
            String hint = m.matches() ? ": open its first part, " + partName(m.group(1), 0, count) : "";
            throw new GGUFException(path, "is part " + (no + 1) + " of " + count + " of a split model" + hint);
        }
        if (!m.matches() || Integer.parseInt(m.group(2)) != 1 || Integer.parseInt(m.group(3)) != count) {
            throw new GGUFException(path, "is the first of " + count + " parts of a split model, but its name does not end in "
                    + partName("", 0, count) + ", so the other parts cannot be found");
        }
        Map<String, GGUFTensorInfo> tensors = new LinkedHashMap<>(first.tensors);
        Map<String, Location> locations = new HashMap<>(first.locations);
        List<Path> parts = new ArrayList<>(List.of(path));
        long size = first.size;
        for (int i = 1; i < count; i++) {
            Path partPath = path.resolveSibling(partName(m.group(1), i, count));
            GGUFFile part;
            try {
                part = map(partPath, first.arena);
            } catch (GGUFException e) {
                throw new GGUFException(path, "part " + (i + 1) + " of " + count + " of this split model: " + e.getMessage());
            }
            if (part.splitInt(GGUFSplit.NO) != i || part.splitInt(GGUFSplit.COUNT) != count) {
                throw new GGUFException(partPath, "is not part " + (i + 1) + " of " + count + " of " + path.getFileName()
                        + " (its split.no and split.count say part " + (part.splitInt(GGUFSplit.NO) + 1) + " of " + part.splitInt(GGUFSplit.COUNT) + ")");
            }
            for (GGUFTensorInfo t : part.tensors.values()) {
                if (tensors.put(t.name(), t) != null) {
                    throw new GGUFException(partPath, "tensor " + quote(t.name()) + " is also in an earlier part of the split model");
                }
                locations.put(t.name(), new Location(part.locations.get(t.name()).section(), i));
            }
            parts.add(partPath);
            size += part.size;
        }
        MetadataValue expected = first.metadata.get(GGUFSplit.TENSORS);
        if (expected != null && expected.value() instanceof Number n && n.longValue() != tensors.size()) {
            throw new GGUFException(path, "split model is incomplete or corrupt: split.tensors.count is " + n.longValue()
                    + " but its " + count + " parts hold " + tensors.size() + " tensors");
        }
        return new GGUFFile(path, first.arena, first.version, first.alignment, first.metadata, tensors, locations, parts, size);
    }

    /** The name of part {@code no} (from 0) of {@code count} of the split model PREFIX. */
    public static String partName(String prefix, int no, int count) {
        return String.format("%s-%05d-of-%05d.gguf", prefix, no + 1, count);
    }

    /** An integer split key (gguf-split writes them as uint16 and int32), 0 when absent. */
    private int splitInt(String key) {
        MetadataValue v = metadata.get(key);
        if (v == null) {
            return 0;
        }
        if (!(v.value() instanceof Integer || v.value() instanceof Long) || ((Number) v.value()).longValue() < 0
                || ((Number) v.value()).longValue() > 0xFFFF) {
            throw new GGUFException(path, key + " should be a small non-negative integer, got " + quote(String.valueOf(v.value())));
        }
        return ((Number) v.value()).intValue();
    }

    /**
     * As {@link #open(Path)}, with these metadata values in place of the file's or added to them (llama.cpp's
     * {@code --override-kv}, {@link MetadataOverride}); empty: the file's own.
     */
    public static GGUFFile open(Path path, Map<String, MetadataValue> overrides) {
        GGUFFile f = open(path);
        if (overrides.isEmpty()) {
            return f;
        }
        Map<String, MetadataValue> metadata = new LinkedHashMap<>(f.metadata);
        metadata.putAll(overrides);
        return new GGUFFile(f.path, f.arena, f.version, f.alignment, metadata, f.tensors, f.locations, f.parts, f.size);
    }

    private static GGUFFile parse(Path path, Arena arena, MemorySegment mapping) {
        Cursor in = new Cursor(path, mapping);
        if (mapping.byteSize() < 4) {
            throw new GGUFException(path, "truncated: " + mapping.byteSize() + " bytes, not even a GGUF header");
        }
        int magic = in.i32("magic");
        if (magic != MAGIC) {
            throw new GGUFException(path, String.format("not a GGUF file (magic 0x%08x, expected \"GGUF\")", magic));
        }
        int version = in.i32("version");
        if (version != 2 && version != 3) {
            throw new GGUFException(path, "unsupported GGUF version " + Integer.toUnsignedString(version) + " (Tern reads versions 2 and 3)");
        }
        long tensorCount = in.count("tensor count", 8 + 4 + 8 + 4 + 8);
        long kvCount = in.count("metadata count", 8 + 4);

        Map<String, MetadataValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key #" + i);
            GGUFValueType type = in.valueType("metadata " + quote(key));
            MetadataValue value = in.value(type, "metadata " + quote(key), 0);
            if (metadata.put(key, value) != null) {
                throw new GGUFException(path, "duplicate metadata key " + quote(key));
            }
        }

        int alignment = DEFAULT_ALIGNMENT;
        MetadataValue a = metadata.get("general.alignment");
        if (a != null) {
            if (!(a.value() instanceof Number n) || n.longValue() <= 0 || Long.bitCount(n.longValue()) != 1 || n.longValue() > (1 << 20)) {
                throw new GGUFException(path, "general.alignment must be a power of two, got " + quote(String.valueOf(a)));
            }
            alignment = n.intValue();
        }

        Map<String, GGUFTensorInfo> tensors = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("tensor name #" + i);
            String what = "tensor " + quote(name);
            int nDims = in.i32(what + " dimension count");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw new GGUFException(path, what + " has " + Integer.toUnsignedString(nDims) + " dimensions (1 to " + MAX_DIMS + " allowed)");
            }
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = in.i64(what + " dimension " + d);
                if (shape[d] <= 0) {
                    throw new GGUFException(path, what + " has dimension " + d + " = " + Long.toUnsignedString(shape[d]));
                }
                if (elements > Long.MAX_VALUE / shape[d]) {
                    throw new GGUFException(path, what + " has too many elements");
                }
                elements *= shape[d];
            }
            int typeId = in.i32(what + " type");
            GGMLType type = GGMLType.byId(typeId);
            if (type == null) {
                throw new GGUFException(path, what + " has unknown tensor type id " + Integer.toUnsignedString(typeId));
            }
            if (shape[0] % type.blockSize != 0) {
                throw new GGUFException(path, what + " row length " + shape[0] + " is not a multiple of the " + type + " block size " + type.blockSize);
            }
            if (elements / type.blockSize > Long.MAX_VALUE / type.blockBytes) {
                throw new GGUFException(path, what + " has too many elements");
            }
            long offset = in.i64(what + " offset");
            if (offset < 0 || offset % alignment != 0) {
                throw new GGUFException(path, what + " data offset " + Long.toUnsignedString(offset) + " is not aligned to " + alignment);
            }
            if (tensors.put(name, new GGUFTensorInfo(name, shape, type, offset)) != null) {
                throw new GGUFException(path, "duplicate tensor " + quote(name));
            }
        }

        long dataStart = align(in.position(), alignment);
        if (!tensors.isEmpty() && dataStart > mapping.byteSize()) {
            throw new GGUFException(path, "truncated: tensor data would start at byte " + dataStart + " but the file has " + mapping.byteSize());
        }
        for (GGUFTensorInfo t : tensors.values()) {
            long end = dataStart + t.offset() + t.byteSize();
            if (t.offset() > mapping.byteSize() || end < 0 || end > mapping.byteSize()) {
                throw new GGUFException(path, "truncated or corrupt: tensor " + quote(t.name()) + " data ends at byte "
                        + (end < 0 ? "(overflow)" : Long.toString(end)) + " but the file has " + mapping.byteSize());
            }
        }
        Location here = new Location(mapping.asSlice(Math.min(dataStart, mapping.byteSize())), 0);
        Map<String, Location> locations = new HashMap<>();
        for (String name : tensors.keySet()) {
            locations.put(name, here);
        }
        return new GGUFFile(path, arena, version, alignment, metadata, tensors, locations, List.of(path), mapping.byteSize());
    }

    /** A name read from the file, quoted for a one-line message: control characters escaped, length capped. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("'");
        s.codePoints().limit(80).forEach(c -> {
            if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || c == 0x2028 || c == 0x2029) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.append(s.codePointCount(0, s.length()) > 80 ? "'..." : "'").toString();
    }

    static long align(long position, long alignment) {
        return (position + alignment - 1) / alignment * alignment;
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** Bytes of the file, or of all the parts of a split model. */
    public long fileSize() {
        return size;
    }

    /**
     * This model with its tensors renamed ({@code rename} returns null to leave one out): a view of the
     * same mapping, which it takes over (close the view, not this).
     */
    GGUFFile renamed(UnaryOperator<String> rename) {
        Map<String, GGUFTensorInfo> kept = new LinkedHashMap<>();
        Map<String, Location> keptLocations = new HashMap<>();
        for (GGUFTensorInfo t : tensors.values()) {
            String name = rename.apply(t.name());
            if (name != null) {
                if (kept.put(name, new GGUFTensorInfo(name, t.shape(), t.type(), t.offset())) != null) {
                    throw new GGUFException(path, "two tensors would both be named " + quote(name));
                }
                keptLocations.put(name, locations.get(t.name()));
            }
        }
        return new GGUFFile(path, arena, version, alignment, metadata, kept, keptLocations, parts, size);
    }

    /** The index in {@link #parts} of the file that holds the tensor. */
    public int part(GGUFTensorInfo t) {
        return location(t).part();
    }

    /** The files read: this one, or all the parts of a split model in order. */
    public List<Path> parts() {
        return parts;
    }

    public Map<String, MetadataValue> metadata() {
        return metadata;
    }

    /** Tensor infos in file order. */
    public List<GGUFTensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    public GGUFTensorInfo tensor(String name) {
        GGUFTensorInfo t = tensors.get(name);
        if (t == null) {
            throw new GGUFException(path, "missing tensor '" + name + "'");
        }
        return t;
    }

    /** The tensor's bytes, a slice of the read-only mapping. */
    public MemorySegment data(GGUFTensorInfo t) {
        return location(t).section().asSlice(t.offset(), t.byteSize());
    }

    private Location location(GGUFTensorInfo t) {
        Location l = locations.get(t.name());
        if (l == null) {
            throw new IllegalArgumentException("no tensor " + quote(t.name()) + " in " + path);
        }
        return l;
    }

    /** The tensor data section of the file (part) that holds a tensor, and that part's index in {@link #parts}. */
    private record Location(MemorySegment section, int part) {
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    private MetadataValue require(String key) {
        MetadataValue v = metadata.get(key);
        if (v == null) {
            throw new GGUFException(path, "missing metadata key '" + key + "'");
        }
        return v;
    }

    private <T> T as(String key, Class<T> cls, String what) {
        Object v = require(key).value();
        if (!cls.isInstance(v)) {
            throw new GGUFException(path, "metadata '" + key + "' should be " + what + " but is " + metadata.get(key).type());
        }
        return cls.cast(v);
    }

    public String getString(String key) {
        return as(key, String.class, "a string");
    }

    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    public long getLong(String key) {
        Object v = require(key).value();
        if (v instanceof Integer || v instanceof Long) {
            return ((Number) v).longValue();
        }
        throw new GGUFException(path, "metadata '" + key + "' should be an integer but is " + metadata.get(key).type());
    }

    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new GGUFException(path, "metadata '" + key + "' = " + v + " is out of range");
        }
        return (int) v;
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public float getFloat(String key) {
        Object v = require(key).value();
        if (v instanceof Float || v instanceof Double) {
            return ((Number) v).floatValue();
        }
        throw new GGUFException(path, "metadata '" + key + "' should be a float but is " + metadata.get(key).type());
    }

    public float getFloat(String key, float fallback) {
        return has(key) ? getFloat(key) : fallback;
    }

    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? as(key, Boolean.class, "a bool") : fallback;
    }

    public String[] getStringArray(String key) {
        return as(key, String[].class, "an array of strings");
    }

    public float[] getFloatArray(String key) {
        return as(key, float[].class, "an array of float32");
    }

    public int[] getIntArray(String key) {
        return as(key, int[].class, "an array of 32-bit integers");
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Reads the header sequentially, turning every out-of-bounds read into "truncated". */
    private static final class Cursor {
        private final Path path;
        private final MemorySegment seg;
        private long pos;

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long position() {
            return pos;
        }

        private void need(long bytes, String what) {
            if (bytes < 0 || pos + bytes > seg.byteSize() || pos + bytes < 0) {
                throw new GGUFException(path, "truncated while reading " + what + " at byte " + pos + " (file has " + seg.byteSize() + " bytes)");
            }
        }

        int i32(String what) {
            need(4, what);
            int v = seg.get(LE.I32, pos);
            pos += 4;
            return v;
        }

        long i64(String what) {
            need(8, what);
            long v = seg.get(LE.I64, pos);
            pos += 8;
            return v;
        }

        /** A count whose items each take at least {@code minItemBytes}: rejects counts the file cannot hold. */
        long count(String what, long minItemBytes) {
            long n = i64(what);
            if (n < 0 || (n > 0 && n > (seg.byteSize() - pos) / minItemBytes)) {
                throw new GGUFException(path, what + " " + Long.toUnsignedString(n) + " is impossible for a file of " + seg.byteSize() + " bytes (corrupt or truncated)");
            }
            return n;
        }

        String string(String what) {
            long len = i64(what + " length");
            if (len < 0 || len > seg.byteSize() - pos) {
                throw new GGUFException(path, "truncated or corrupt: " + what + " has length " + Long.toUnsignedString(len)
                        + " at byte " + (pos - 8) + " but only " + (seg.byteSize() - pos) + " bytes remain");
            }
            byte[] bytes = seg.asSlice(pos, len).toArray(LE.I8);
            pos += len;
            return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
        }

        GGUFValueType valueType(String what) {
            int id = i32(what + " type");
            GGUFValueType t = GGUFValueType.byId(id);
            if (t == null) {
                throw new GGUFException(path, what + " has unknown value type " + Integer.toUnsignedString(id));
            }
            return t;
        }

        MetadataValue value(GGUFValueType type, String what, int depth) {
            return switch (type) {
                case UINT8 -> scalar(type, Byte.toUnsignedInt(bytes(1, what)[0]));
                case INT8 -> scalar(type, (int) bytes(1, what)[0]);
                case UINT16 -> scalar(type, Short.toUnsignedInt(seg.get(LE.I16, advance(2, what))));
                case INT16 -> scalar(type, (int) seg.get(LE.I16, advance(2, what)));
                case UINT32 -> scalar(type, Integer.toUnsignedLong(i32(what)));
                case INT32 -> scalar(type, i32(what));
                case FLOAT32 -> scalar(type, Float.intBitsToFloat(i32(what)));
                case BOOL -> scalar(type, bytes(1, what)[0] != 0);
                case STRING -> scalar(type, string(what));
                case UINT64, INT64 -> scalar(type, i64(what));
                case FLOAT64 -> scalar(type, Double.longBitsToDouble(i64(what)));
                case ARRAY -> array(what, depth);
            };
        }

        private static MetadataValue scalar(GGUFValueType type, Object v) {
            return new MetadataValue(type, null, v);
        }

        private long advance(long n, String what) {
            need(n, what);
            long p = pos;
            pos += n;
            return p;
        }

        private byte[] bytes(int n, String what) {
            return seg.asSlice(advance(n, what), n).toArray(LE.I8);
        }

        private MetadataValue array(String what, int depth) {
            if (depth > 8) {
                throw new GGUFException(path, what + " nests arrays too deeply");
            }
            GGUFValueType et = valueType(what + " element");
            long n = count(what + " element count", et.minBytes);
            if (n > Integer.MAX_VALUE - 8) {
                throw new GGUFException(path, what + " has " + n + " elements, more than Tern can hold");
            }
            int len = (int) n;
            Object v = switch (et) {
                case UINT8, INT8 -> bytes(len, what);
                case BOOL -> {
                    byte[] b = bytes(len, what);
                    boolean[] out = new boolean[len];
                    for (int i = 0; i < len; i++) {
                        out[i] = b[i] != 0;
                    }
                    yield out;
                }
                case UINT16, INT16 -> seg.asSlice(advance(2L * len, what), 2L * len).toArray(LE.I16);
                case UINT32, INT32 -> seg.asSlice(advance(4L * len, what), 4L * len).toArray(LE.I32);
                case FLOAT32 -> seg.asSlice(advance(4L * len, what), 4L * len).toArray(LE.F32);
                case UINT64, INT64 -> seg.asSlice(advance(8L * len, what), 8L * len).toArray(LE.I64);
                case FLOAT64 -> seg.asSlice(advance(8L * len, what), 8L * len).toArray(LE.F64);
                case STRING -> {
                    String[] out = new String[len];
                    for (int i = 0; i < len; i++) {
                        out[i] = string(what + "[" + i + "]");
                    }
                    yield out;
                }
                case ARRAY -> {
                    MetadataValue[] out = new MetadataValue[len];
                    for (int i = 0; i < len; i++) {
                        out[i] = array(what + "[" + i + "]", depth + 1);
                    }
                    yield out;
                }
            };
            return new MetadataValue(GGUFValueType.ARRAY, et, v);
        }
    }
}
