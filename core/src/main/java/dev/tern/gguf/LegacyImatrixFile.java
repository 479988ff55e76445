package dev.tern.gguf;

import dev.tern.TernException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** llama-imatrix's legacy {@code .dat} importance matrix files, read and written. */
final class LegacyImatrixFile {
    private LegacyImatrixFile() {
    }

    /**
     * Writes llama-imatrix's legacy {@code .dat} form (its {@code --output-format dat}), for tools that read only
     * that: per weight with any tokens counted, the call count (tokens over the chunk size, rounded up) and each
     * column's mean square times it (1 for a matrix no token reached); then the chunk count and the first dataset.
     */
    static void write(ImportanceMatrix m, Path path) {
        if (m.isLegacy() || m.chunkSize() <= 0) {
            throw new TernException(path + ": the legacy form needs a matrix with its chunk size (one read from GGUF or collected)");
        }
        List<String> kept = m.entries().entrySet().stream().filter(e -> max(e.getValue().counts()) > 0).map(Map.Entry::getKey).toList();
        int bytes = 4 + kept.stream().mapToInt(n -> 12 + n.getBytes(StandardCharsets.UTF_8).length + 4 * m.entries().get(n).sumSquares().length).sum()
                + 8 + (m.datasets().isEmpty() ? 0 : m.datasets().getFirst().getBytes(StandardCharsets.UTF_8).length);
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(kept.size());
        for (String name : kept) {
            ImportanceMatrix.Entry e = m.entries().get(name);
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            int calls = (int) ((max(e.counts()) + (m.chunkSize() - 1)) / m.chunkSize());
            b.putInt(n.length).put(n).putInt(calls).putInt(e.sumSquares().length);
            int cols = e.cols();
            for (int j = 0; j < e.sumSquares().length; j++) {
                float count = e.counts()[j / cols], value = e.sumSquares()[j];
                if (count == 0) {
                    value = 1;
                    count = 1;
                }
                b.putFloat(value / count * calls);
            }
        }
        b.putInt(m.chunkCount());
        byte[] dataset = m.datasets().isEmpty() ? new byte[0] : m.datasets().getFirst().getBytes(StandardCharsets.UTF_8);
        b.putInt(dataset.length).put(dataset);
        try {
            Files.write(path, b.array());
        } catch (IOException e) {
            throw new TernException(path + ": cannot write (" + e.getMessage() + ")");
        }
    }

    private static float max(float[] v) {
        float m = 0;
        for (float x : v) {
            m = Math.max(m, x);
        }
        return m;
    }

    /**
     * llama-imatrix's older form, little-endian: n entries of (name length, name, call count, value count,
     * values), then the chunk count and the dataset's name (both optional).
     */
    static ImportanceMatrix read(Path path) {
        ByteBuffer b;
        try {
            b = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new TernException("importance matrix " + path + ": " + e.getMessage());
        }
        try {
            int n = b.getInt();
            if (n < 1 || n > b.remaining() / 12) {
                throw new TernException(path + ": neither a GGUF nor a legacy importance matrix (" + n + " entries)");
            }
            Map<String, ImportanceMatrix.Entry> entries = new TreeMap<>();
            int maxCalls = 0;
            for (int i = 0; i < n; i++) {
                String name = string(b, path);
                int calls = b.getInt();
                int values = b.getInt();
                if (values < 1 || values > b.remaining() / 4) {
                    throw new TernException(path + ": entry " + GGUFFile.quote(name) + " claims " + values + " values");
                }
                float[] v = new float[values];
                b.asFloatBuffer().get(v);
                b.position(b.position() + 4 * values);
                entries.put(name, new ImportanceMatrix.Entry(v, null, new float[]{calls}));
                maxCalls = Math.max(maxCalls, calls);
            }
            int chunks = b.remaining() >= 4 ? b.getInt() : maxCalls;
            List<String> datasets = new ArrayList<>();
            if (b.remaining() >= 4) {
                datasets.add(string(b, path));
            }
            return new ImportanceMatrix(entries, datasets, chunks, 0, true, path);
        } catch (java.nio.BufferUnderflowException e) {
            throw new TernException(path + ": truncated importance matrix");
        }
    }

    private static String string(ByteBuffer b, Path path) {
        int len = b.getInt();
        if (len < 0 || len > b.remaining()) {
            throw new TernException(path + ": neither a GGUF nor a legacy importance matrix (a name of " + len + " bytes)");
        }
        byte[] s = new byte[len];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
