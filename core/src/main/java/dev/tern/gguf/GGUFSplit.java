package dev.tern.gguf;

import dev.tern.TernException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * llama.cpp's gguf-split: a model written as several GGUF files, and merged back into one. The
 * first part carries all the metadata, every part the keys {@code split.no} (from 0),
 * {@code split.count} and {@code split.tensors.count} (the whole model's), and the parts are
 * named PREFIX-00001-of-0000N.gguf. {@link GGUFFile#open} reads such a model from its first part.
 */
public final class GGUFSplit {
    static final String NO = "split.no";
    static final String COUNT = "split.count";
    static final String TENSORS = "split.tensors.count";

    /** One output file: its path, its tensors (in order) and their bytes. */
    public record Part(Path path, List<GGUFTensorInfo> tensors, long bytes) {
    }

    private GGUFSplit() {
    }

    /**
     * Splits {@code in} into parts named after {@code prefix} (a path without the -0000i-of-0000N.gguf
     * ending), as gguf-split does: in the tensors' order, a new part after every {@code maxTensors}
     * tensors, or (with {@code maxBytes} > 0 instead) before a tensor that would take a part's
     * tensor data past {@code maxBytes}, counting each tensor padded to 32 bytes. Writes nothing
     * when {@code dryRun}.
     */
    public static List<Part> split(Path in, Path prefix, int maxTensors, long maxBytes, boolean dryRun) {
        return split(in, prefix, maxTensors, maxBytes, false, dryRun);
    }

    /**
     * As {@link #split(Path, Path, int, long, boolean)}; {@code metadataOnly}: the first part holds the metadata
     * and no tensor (gguf-split's --no-tensor-first-split, so that it can be read before the large parts arrive).
     */
    public static List<Part> split(Path in, Path prefix, int maxTensors, long maxBytes, boolean metadataOnly, boolean dryRun) {
        if (maxBytes <= 0 && maxTensors < 1) {
            throw new TernException("a split needs at least 1 tensor or a size above 0");
        }
        try (GGUFFile src = GGUFFile.open(in)) {
            List<List<GGUFTensorInfo>> groups = new ArrayList<>();
            if (metadataOnly) {
                groups.add(List.of());
            }
            List<GGUFTensorInfo> current = new ArrayList<>();
            long size = 0;
            for (GGUFTensorInfo t : src.tensors()) {
                long padded = GGUFFile.align(t.byteSize(), GGUFFile.DEFAULT_ALIGNMENT);
                boolean full = maxBytes > 0 ? size + padded > maxBytes && !current.isEmpty() : current.size() == maxTensors;
                if (full) {
                    groups.add(current);
                    current = new ArrayList<>();
                    size = 0;
                }
                current.add(t);
                size += padded;
            }
            groups.add(current);
            int count = groups.size();
            if (count > 99999) {
                throw new TernException(in + ": " + count + " parts, more than the names allow (99999)");
            }
            List<Part> parts = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                Path path = prefix.resolveSibling(GGUFFile.partName(prefix.getFileName().toString(), i, count));
                GGUFWriter w = new GGUFWriter();
                if (i == 0) {
                    w.putAll(src.metadata());
                }
                markPart(w, i, count, src.tensors().size());
                long bytes = 0;
                for (GGUFTensorInfo t : groups.get(i)) {
                    w.copyTensor(src, t);
                    bytes += t.byteSize();
                }
                if (!dryRun) {
                    w.write(path);
                }
                parts.add(new Part(path, groups.get(i), bytes));
            }
            return parts;
        }
    }

    /** Sets the keys that make w's file part {@code no} (from 0) of {@code count} of a split model of {@code tensors} tensors, in gguf-split's types. */
    static void markPart(GGUFWriter w, int no, int count, int tensors) {
        w.put(NO, MetadataValue.ofUInt16(no)).put(COUNT, MetadataValue.ofUInt16(count)).put(TENSORS, MetadataValue.ofInt32(tensors));
    }

    /**
     * Merges the split model whose first part is {@code first} into {@code out}, which must not
     * exist: the first part's metadata with {@code split.count} 0 (so that the result is read as one
     * file), then every part's tensors in order, as gguf-split --merge writes it. Returns the parts read.
     */
    public static List<Path> merge(Path first, Path out, boolean dryRun) {
        if (Files.exists(out)) {
            throw new TernException(out + ": already exists");
        }
        try (GGUFFile src = GGUFFile.open(first)) {
            if (!src.has(COUNT)) {
                throw new TernException(first + ": not part of a split model (no " + COUNT + ")");
            }
            GGUFWriter w = new GGUFWriter().putAll(src.metadata()).put(COUNT, MetadataValue.ofUInt16(0));
            for (GGUFTensorInfo t : src.tensors()) {
                w.copyTensor(src, t);
            }
            if (!dryRun) {
                w.write(out);
            }
            return src.parts();
        }
    }
}
