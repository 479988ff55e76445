package dev.tern.model;

import dev.tern.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes minimal GGUF v3 files byte by byte, straight from the format description, for tests
 * (independent of the project's GGUF writer). Metadata: String, Integer (UINT32), Float (FLOAT32).
 */
final class TinyGGUF {
    private record Entry(String name, long[] shape, int type, byte[] data) {
    }

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();

    TinyGGUF put(String key, Object value) {
        metadata.put(key, value);
        return this;
    }

    /** An F32 tensor with ggml shape {cols, rows} (or {n} for vectors). */
    TinyGGUF f32(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        tensors.add(new Entry(name, shape, 0, b.array()));
        return this;
    }

    TinyGGUF f32(String name, Tensor t) {
        return f32(name, t.toFloats(), t.cols(), t.rows());
    }

    TinyGGUF without(String name) {
        tensors.removeIf(t -> t.name().equals(name));
        return this;
    }

    TinyGGUF raw(String name, int type, byte[] data, long... shape) {
        tensors.add(new Entry(name, shape, type, data));
        return this;
    }

    void write(Path path) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        i32(out, 0x46554747);
        i32(out, 3);
        i64(out, tensors.size());
        i64(out, metadata.size());
        for (Map.Entry<String, Object> e : metadata.entrySet()) {
            string(out, e.getKey());
            switch (e.getValue()) {
                case String s -> {
                    i32(out, 8);
                    string(out, s);
                }
                case Integer i -> {
                    i32(out, 4);
                    i32(out, i);
                }
                case Float f -> {
                    i32(out, 6);
                    i32(out, Float.floatToIntBits(f));
                }
                default -> throw new IllegalArgumentException(e.getKey());
            }
        }
        long offset = 0;
        for (Entry t : tensors) {
            string(out, t.name());
            i32(out, t.shape().length);
            for (long d : t.shape()) {
                i64(out, d);
            }
            i32(out, t.type());
            i64(out, offset);
            offset = align(offset + t.data().length);
        }
        pad(out);
        for (Entry t : tensors) {
            out.write(t.data());
            pad(out);
        }
        Files.write(path, out.toByteArray());
    }

    private static long align(long n) {
        return (n + 31) / 32 * 32;
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 32 != 0) {
            out.write(0);
        }
    }

    private static void i32(ByteArrayOutputStream out, int v) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    private static void i64(ByteArrayOutputStream out, long v) {
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        i64(out, b.length);
        out.writeBytes(b);
    }
}
