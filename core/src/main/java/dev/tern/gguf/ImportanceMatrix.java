package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * An importance matrix as llama-imatrix writes it and llama-quantize {@code --imatrix} reads it: for
 * each weight matrix, by its GGUF name, the sum over the calibration tokens of each input column's
 * square (and of its value), and how many tokens were summed. Files are llama.cpp's GGUF form
 * ({@code NAME.in_sum2}, {@code NAME.counts}, {@code NAME.in_sum} F32 tensors, {@code imatrix.*} keys); the
 * older {@code .dat} form is read too.
 */
public final class ImportanceMatrix {
    public static final String DATASETS_KEY = "imatrix.datasets";
    public static final String CHUNK_COUNT_KEY = "imatrix.chunk_count";
    public static final String CHUNK_SIZE_KEY = "imatrix.chunk_size";
    private static final String SUM2 = ".in_sum2", SUM = ".in_sum", COUNTS = ".counts";

    /**
     * One weight's statistics for each of its nmat matrices (1 for a dense weight): sums of squares and
     * sums (null when the file has none) of rows of cols values, and the tokens counted per matrix.
     */
    public record Entry(float[] sumSquares, float[] sums, float[] counts) {
        int cols() {
            return sumSquares.length / counts.length;
        }
    }

    private final Map<String, Entry> entries;
    private final List<String> datasets;
    private final int chunkCount;
    private final int chunkSize;
    /** The legacy form stores means times the call count, which llama-quantize divides by that count. */
    private final boolean legacy;
    /** The file it was read from, as named (llama-quantize records it), or null. */
    private final Path source;

    public ImportanceMatrix(Map<String, Entry> entries, List<String> datasets, int chunkCount, int chunkSize) {
        this(entries, datasets, chunkCount, chunkSize, false, null);
    }

    ImportanceMatrix(Map<String, Entry> entries, List<String> datasets, int chunkCount, int chunkSize, boolean legacy,
                     Path source) {
        this.entries = Collections.unmodifiableMap(new TreeMap<>(entries));
        this.datasets = List.copyOf(datasets);
        this.chunkCount = chunkCount;
        this.chunkSize = chunkSize;
        this.legacy = legacy;
        this.source = source;
    }

    public Path source() {
        return source;
    }

    /** Whether it was read from the legacy form, whose values are means times the call count. */
    boolean isLegacy() {
        return legacy;
    }

    /** Writes llama-imatrix's legacy {@code .dat} form ({@link LegacyImatrixFile}). */
    public void writeLegacy(Path path) {
        LegacyImatrixFile.write(this, path);
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public List<String> datasets() {
        return datasets;
    }

    public int chunkCount() {
        return chunkCount;
    }

    public int chunkSize() {
        return chunkSize;
    }

    /**
     * The weights llama-quantize gives the quantizer of this tensor's rows, or null when the file has
     * none for it: each column's mean square, sum/count in float; 1 for a matrix no token reached
     * (llama-quantize's load_imatrix).
     */
    public float[] importance(String tensorName) {
        Entry e = entries.get(tensorName);
        if (e == null) {
            return null;
        }
        int cols = e.cols();
        float[] w = new float[e.sumSquares.length];
        for (int m = 0; m < e.counts.length; m++) {
            float count = e.counts[m];
            for (int j = m * cols; j < (m + 1) * cols; j++) {
                w[j] = legacy ? (count > 0 ? e.sumSquares[j] / count : e.sumSquares[j])
                        : (count > 0 ? e.sumSquares[j] / count : 1f);
            }
        }
        return w;
    }

    /**
     * llama-imatrix {@code --in-file}: the matrices' sums and counts added weight by weight, their datasets
     * listed in order, and the chunk count re-derived as llama-imatrix does: the most tokens any weight
     * counted, in chunks of {@code chunkSize}.
     */
    public static ImportanceMatrix merge(List<ImportanceMatrix> parts, int chunkSize) {
        Map<String, Entry> merged = new TreeMap<>();
        List<String> datasets = new ArrayList<>();
        for (ImportanceMatrix m : parts) {
            if (m.legacy) {
                throw new TernException(m.source + ": merging the legacy .dat form is not supported; convert it with llama-imatrix first");
            }
            datasets.addAll(m.datasets);
            m.entries.forEach((name, e) -> merged.merge(name, e, (a, b) -> add(name, a, b)));
        }
        float maxCount = 0;
        for (Entry e : merged.values()) {
            for (float c : e.counts) {
                maxCount = Math.max(maxCount, c);
            }
        }
        return new ImportanceMatrix(merged, datasets, (int) (maxCount / chunkSize), chunkSize);
    }

    private static Entry add(String name, Entry a, Entry b) {
        if (a.sumSquares.length != b.sumSquares.length || a.counts.length != b.counts.length) {
            throw new TernException("importance matrices disagree on the size of " + GGUFFile.quote(name) + ": "
                    + a.sumSquares.length + " and " + b.sumSquares.length + " values");
        }
        float[] squares = a.sumSquares.clone(), counts = a.counts.clone();
        float[] sums = a.sums == null || b.sums == null ? null : a.sums.clone();
        for (int j = 0; j < squares.length; j++) {
            squares[j] += b.sumSquares[j];
            if (sums != null) {
                sums[j] += b.sums[j];
            }
        }
        for (int m = 0; m < counts.length; m++) {
            counts[m] += b.counts[m];
        }
        return new Entry(squares, sums, counts);
    }

    /**
     * llama-quantize's {@code --include-weights} / {@code --exclude-weights}: only the entries whose name
     * contains one of {@code include} (when given), without those that contain one of {@code exclude}.
     */
    public ImportanceMatrix filter(List<String> include, List<String> exclude) {
        return renamed(name -> (include.isEmpty() || include.stream().anyMatch(name::contains))
                && exclude.stream().noneMatch(name::contains) ? name : null);
    }

    /** The entries under new names ({@code rename} returns null to drop one), as for a model with layers pruned. */
    ImportanceMatrix renamed(UnaryOperator<String> rename) {
        Map<String, Entry> kept = new TreeMap<>();
        entries.forEach((name, e) -> {
            String to = rename.apply(name);
            if (to != null) {
                kept.put(to, e);
            }
        });
        return new ImportanceMatrix(kept, datasets, chunkCount, chunkSize, legacy, source);
    }

    /** Writes llama-imatrix's GGUF form: names sorted, each with in_sum2, counts and (when kept) in_sum. */
    public void write(Path path) {
        GGUFWriter w = new GGUFWriter()
                .put("general.type", MetadataValue.of("imatrix"))
                .put(DATASETS_KEY, MetadataValue.ofArray(datasets.toArray(String[]::new)))
                .put(CHUNK_COUNT_KEY, MetadataValue.ofUInt32(chunkCount))
                .put(CHUNK_SIZE_KEY, MetadataValue.ofUInt32(chunkSize));
        entries.forEach((name, e) -> {
            long cols = e.cols(), nmat = e.counts.length;
            w.addTensor(name + SUM2, new long[]{cols, nmat}, GGMLType.F32, e.sumSquares);
            w.addTensor(name + COUNTS, new long[]{1, nmat}, GGMLType.F32, e.counts);
            if (e.sums != null) {
                w.addTensor(name + SUM, new long[]{cols, nmat}, GGMLType.F32, e.sums);
            }
        });
        w.write(path);
    }

    /** Reads either form; a file that is neither ends in a one-line TernException. */
    public static ImportanceMatrix read(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new TernException("importance matrix " + path + ": no such file");
        }
        return GGUFFile.isGGUF(path) ? readGGUF(path) : LegacyImatrixFile.read(path);
    }

    private static ImportanceMatrix readGGUF(Path path) {
        try (GGUFFile f = GGUFFile.open(path)) {
            Map<String, GGUFTensorInfo> sum2 = new TreeMap<>(), sum = new TreeMap<>(), counts = new TreeMap<>();
            for (GGUFTensorInfo t : f.tensors()) {
                String n = t.name();
                Map<String, GGUFTensorInfo> kind = n.endsWith(SUM2) ? sum2 : n.endsWith(SUM) ? sum : n.endsWith(COUNTS) ? counts : null;
                if (kind != null) {
                    if (t.type() != GGMLType.F32) {
                        throw new TernException(path + ": importance tensor " + GGUFFile.quote(n) + " is " + t.type() + ", not F32");
                    }
                    kind.put(n.substring(0, n.lastIndexOf('.')), t);
                }
            }
            if (sum2.isEmpty()) {
                throw new TernException(path + ": a GGUF file without importance data (no *" + SUM2 + " tensors)");
            }
            Map<String, Entry> entries = new TreeMap<>();
            for (Map.Entry<String, GGUFTensorInfo> s2 : sum2.entrySet()) {
                String name = s2.getKey();
                GGUFTensorInfo c = counts.get(name), s = sum.get(name);
                float[] squares = floats(f, s2.getValue());
                float[] sums = s == null ? null : floats(f, s);
                if (c == null || (sums != null && sums.length != squares.length)
                        || c.elementCount() == 0 || squares.length % c.elementCount() != 0) {
                    throw new TernException(path + ": mismatched sums and counts for " + GGUFFile.quote(name));
                }
                entries.put(name, new Entry(squares, sums, floats(f, c)));
            }
            List<String> datasets = f.has(DATASETS_KEY) ? Arrays.asList(f.getStringArray(DATASETS_KEY)) : List.of();
            return new ImportanceMatrix(entries, datasets, f.getInt(CHUNK_COUNT_KEY, 0), f.getInt(CHUNK_SIZE_KEY, 0), false, path);
        }
    }

    private static float[] floats(GGUFFile f, GGUFTensorInfo t) {
        return f.data(t).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }
}
