package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Converts a GGUF model to another tensor type the way {@code llama-quantize --pure} does, with
 * or without an importance matrix ({@link ImportanceMatrix}): every weight matrix llama.cpp would quantize goes to the
 * requested type, everything else (norms, biases, 1-D tensors) is copied unchanged. Where a
 * matrix's rows do not split into whole blocks, llama.cpp's fallback applies (IQ1–IQ3 and IQ4_XS→IQ4_NL,
 * Q2_K, Q3_K, TQ1_0 and TQ2_0→Q4_0, Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, then F16); for
 * Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL/MXFP4 there is none and, as in llama.cpp, quantization fails.
 * llama-quantize's own mixes (its default mode) are {@link QuantMix}es, given to
 * {@link #quantize(Path, Path, QuantMix)}; a tensor type is pure: MXFP4 goes to every matrix, as llama-quantize
 * {@code --pure MXFP4_MOE} does, where its MXFP4_MOE mix keeps MXFP4 for expert (3-D) tensors and
 * writes the dense ones as Q8_0, and TQ1_0/TQ2_0 keep their own type for the token embedding (the
 * mix gives it Q4_K). Tensors are written in llama-quantize's order and
 * {@code general.quantization_version} and {@code general.file_type} are set as it sets them,
 * so that the result matches llama-quantize's own output wherever the types agree.
 */
public final class ModelQuantizer {
    /** ggml's GGML_QNT_VERSION, recorded in every quantized file. */
    public static final int QUANTIZATION_VERSION = 2;
    private static final List<String> SPLIT_KEYS = List.of(GGUFSplit.NO, GGUFSplit.COUNT, GGUFSplit.TENSORS);
    /** Name fragments of weights llama.cpp never quantizes (those that occur in text models). */
    private static final List<String> NEVER_QUANTIZED = List.of("_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d",
            "shortconv.conv.weight", "attn_rel_b.weight", "altup", "laurel", "per_layer_model_proj", "time_mix_");

    private ModelQuantizer() {
    }

    /**
     * llama-quantize's {@code --output-tensor-type}, {@code --token-embedding-type} (null: the mix's
     * choice), {@code --leave-output-tensor}, {@code --tensor-type}s, {@code --allow-requantize} (quantized
     * tensors are decoded and quantized again instead of refused) and {@code --override-kv}s (metadata written
     * after the file type, each moved to the end as gguf_set does), {@code --keep-split} (a split model's
     * quantized tensors written into parts of their own, {@link #keptSplitParts}) and {@code --prune-layers}
     * ({@link LayerPruning}). An explicit output or embedding
     * type is written as asked, without the row-size fallback, as llama.cpp does.
     */
    public record Overrides(GGMLType outputType, GGMLType tokenEmbeddingType, boolean leaveOutput, List<TensorType> tensorTypes,
                            boolean allowRequantize, List<MetadataOverride> metadata, boolean keepSplit, List<Integer> pruneLayers) {
        public static final Overrides NONE = new Overrides(null, null, false);

        public Overrides {
            for (GGMLType t : new GGMLType[]{outputType, tokenEmbeddingType}) {
                if (t != null) {
                    requireQuantizable(t);
                }
            }
            tensorTypes = List.copyOf(tensorTypes);
            metadata = List.copyOf(metadata);
            pruneLayers = List.copyOf(pruneLayers);
        }

        public Overrides(GGMLType outputType, GGMLType tokenEmbeddingType, boolean leaveOutput) {
            this(outputType, tokenEmbeddingType, leaveOutput, List.of(), false, List.of());
        }

        public Overrides(GGMLType outputType, GGMLType tokenEmbeddingType, boolean leaveOutput, List<TensorType> tensorTypes,
                         boolean allowRequantize, List<MetadataOverride> metadata) {
            this(outputType, tokenEmbeddingType, leaveOutput, tensorTypes, allowRequantize, metadata, false, List.of());
        }

        /**
         * The type of the first {@code --tensor-type} whose pattern is found in the name, or null: as
         * llama_tensor_get_type, such a tensor skips the mix (not the fallback), and only when the file
         * type's own base type is a quantized one.
         */
        GGMLType manual(String name, GGMLType base) {
            if (base.blockSize == 1) {
                return null;
            }
            for (TensorType t : tensorTypes) {
                if (t.pattern().matcher(name).find()) {
                    return t.type();
                }
            }
            return null;
        }
    }

    /** One {@code --tensor-type PATTERN=TYPE}: tensors whose name contains a match of the regular expression get TYPE. */
    public record TensorType(Pattern pattern, GGMLType type) {
        public TensorType {
            requireQuantizable(type);
        }
    }

    /**
     * Writes {@code in} with its weight matrices converted to {@code type}; see the class comment. Every
     * quantize method returns each tensor's plan, and with {@code out} null writes nothing (llama-quantize
     * {@code --dry-run}).
     */
    public static List<Planned> quantize(Path in, Path out, GGMLType type) {
        return quantize(in, out, type, Overrides.NONE);
    }

    /** As {@link #quantize(Path, Path, GGMLType)} with these overrides (llama-quantize --pure with them). */
    public static List<Planned> quantize(Path in, Path out, GGMLType type, Overrides o) {
        return quantize(in, out, type, o, null);
    }

    /** As {@link #quantize(Path, Path, GGMLType, Overrides)}, guided by an importance matrix (null: none). */
    public static List<Planned> quantize(Path in, Path out, GGMLType type, Overrides o, ImportanceMatrix imatrix) {
        requireQuantizable(type);
        return quantize(in, out, fileType(type), f -> withManual(o, type, (name, shape) -> type), o, imatrix);
    }

    /** Writes {@code in} as llama-quantize writes file type {@code mix} by default (not --pure). */
    public static List<Planned> quantize(Path in, Path out, QuantMix mix) {
        return quantize(in, out, mix, Overrides.NONE);
    }

    /** As {@link #quantize(Path, Path, QuantMix)} with these overrides. */
    public static List<Planned> quantize(Path in, Path out, QuantMix mix, Overrides o) {
        return quantize(in, out, mix, o, null);
    }

    /**
     * As {@link #quantize(Path, Path, QuantMix, Overrides)}, guided by an importance matrix (null: none), as
     * llama-quantize {@code --imatrix} is.
     */
    public static List<Planned> quantize(Path in, Path out, QuantMix mix, Overrides o, ImportanceMatrix imatrix) {
        return quantize(in, out, mix.fileType, f -> {
            QuantMix.Shape s = QuantMix.Shape.of(f);
            // the mix gives a tied embedding the output's type, an explicit one included (then through the fallback)
            return withManual(o, mix.base, (name, shape) -> o.outputType() != null && s.tiedOutput() && name.equals("token_embd.weight")
                    ? o.outputType() : mix.typeOf(name, shape[0], s, imatrix != null));
        }, o, imatrix);
    }

    /**
     * llama-quantize {@code --pure} with a file type: every weight matrix in the mix's base type, the file
     * labelled (and held to the importance rule) as that file type.
     */
    public static List<Planned> quantizePure(Path in, Path out, QuantMix mix, Overrides o, ImportanceMatrix imatrix) {
        return quantize(in, out, mix.fileType, f -> withManual(o, mix.base, (name, shape) -> mix.base), o, imatrix);
    }

    /** {@code --tensor-type} overrides, then {@code choice} for the tensors none of them names. */
    private static Choice withManual(Overrides o, GGMLType base, Choice choice) {
        return (name, shape) -> {
            GGMLType manual = o.manual(name, base);
            return manual != null ? manual : choice.of(name, shape);
        };
    }

    /** The type a weight matrix is asked for, before the row-size fallback. */
    private interface Choice {
        GGMLType of(String name, long[] shape);
    }

    /** {@code choices} reads what it needs of the model once, then chooses for each tensor. */
    private static List<Planned> quantize(Path in, Path out, int fileType, Function<GGUFFile, Choice> choices, Overrides o,
                                          ImportanceMatrix imatrix) {
        LayerPruning pruning = new LayerPruning(o.pruneLayers());
        GGUFFile whole = GGUFFile.open(in);
        GGUFFile pruned;
        try {
            pruned = pruning.apply(whole);
        } catch (RuntimeException e) {
            whole.close();
            throw e;
        }
        ImportanceMatrix recorded = imatrix;
        imatrix = pruning.apply(imatrix);
        try (GGUFFile src = pruned) {
            Choice choice = choices.apply(src);
            GGUFWriter w = new GGUFWriter().putAll(src.metadata());
            // llama.cpp re-appends these two keys, so they end up last even when present
            w.remove("general.quantization_version").put("general.quantization_version", MetadataValue.ofUInt32(QUANTIZATION_VERSION));
            w.remove("general.file_type").put("general.file_type", MetadataValue.ofUInt32(fileType));
            SPLIT_KEYS.forEach(w::remove);
            for (MetadataOverride kv : o.metadata()) {
                w.remove(kv.key()).put(kv.key(), kv.written());
            }
            if (recorded != null) {
                recordImportance(w, recorded);
            }
            // set last, so re-appended after the overrides, as llama-quantize sets it
            Map.Entry<String, MetadataValue> blocks = pruning.loweredBlockCount(src);
            if (blocks != null) {
                w.remove(blocks.getKey()).put(blocks.getKey(), blocks.getValue());
            }

            List<GGUFTensorInfo> tensors = new ArrayList<>(src.tensors());
            // --keep-split writes each part's tensors in its file order, as llama.cpp sorts them for it
            tensors.sort(o.keepSplit() ? Comparator.comparingInt(src::part).thenComparingLong(GGUFTensorInfo::offset)
                    : Comparator.comparing(GGUFTensorInfo::name, LLAMA_ORDER));
            // every tensor's type is settled before any is added, so a misfit fails before the slow part
            List<GGMLType> targets = new ArrayList<>();
            for (GGUFTensorInfo t : tensors) {
                GGMLType target;
                try {
                    target = overridden(t, o);
                    if (target == null) {
                        target = tensorType(t.name(), t.shape(), t.type(), choice.of(t.name(), t.shape()));
                    }
                } catch (TernException e) {
                    throw new TernException(in + ": " + e.getMessage());
                }
                if (target != t.type() && !isFloat(t.type()) && !o.allowRequantize()) {
                    throw new TernException(in + ": tensor " + GGUFFile.quote(t.name()) + " is " + t.type()
                            + "; requantizing is refused, as llama-quantize does without --allow-requantize");
                }
                requireImportance(in, fileType, imatrix, t, target);
                targets.add(target);
            }
            int count = o.keepSplit() ? src.parts().size() : 1;
            List<GGUFWriter> writers = new ArrayList<>(List.of(w));
            for (int i = 1; i < count; i++) {
                writers.add(new GGUFWriter());
            }
            if (count > 1) {
                for (int i = 0; i < count; i++) {
                    GGUFSplit.markPart(writers.get(i), i, count, tensors.size());
                }
            }
            List<Planned> plan = new ArrayList<>();
            for (int i = 0; i < tensors.size(); i++) {
                GGUFTensorInfo t = tensors.get(i);
                GGUFWriter part = writers.get(count > 1 ? src.part(t) : 0);
                plan.add(new Planned(t, targets.get(i)));
                if (targets.get(i) == t.type()) {
                    part.copyTensor(src, t);
                } else {
                    part.addTensor(t.name(), t.shape(), targets.get(i), dequantizer(src, t), importance(in, imatrix, t));
                }
            }
            if (out != null) {
                List<Path> paths = o.keepSplit() ? keptSplitParts(out, count) : List.of(out);
                for (int i = 0; i < count; i++) {
                    writers.get(i).write(paths.get(i));
                }
            }
            return List.copyOf(plan);
        }
    }

    /**
     * Where {@code --keep-split} writes a model of {@code count} parts: OUT without its .gguf ending is the
     * prefix of PREFIX-00001-of-0000N.gguf and so on (a model in one file too gets the -00001-of-00001 name),
     * as llama-quantize names them.
     */
    public static List<Path> keptSplitParts(Path out, int count) {
        String name = out.getFileName().toString();
        String prefix = name.endsWith(".gguf") ? name.substring(0, name.length() - ".gguf".length()) : name;
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            paths.add(out.resolveSibling(GGUFFile.partName(prefix, i, count)));
        }
        return paths;
    }

    /** One tensor of a quantization, in llama-quantize's order, and the type it is written in. */
    public record Planned(GGUFTensorInfo tensor, GGMLType to) {
        public long bytesAfter() {
            return to.byteSize(tensor.elementCount());
        }
    }

    /**
     * llama-quantize's refusal ({@link QuantMix#needsImportance}): without a matrix, any quantizable tensor
     * whose type needs one fails the file; with one, a converted tensor that needs one and has no entry.
     */
    private static void requireImportance(Path in, int fileType, ImportanceMatrix imatrix, GGUFTensorInfo t, GGMLType target) {
        if (!isQuantizable(t.name(), t.shape()) || !QuantMix.needsImportance(fileType, t.name(), target)) {
            return;
        }
        if (imatrix == null) {
            throw new TernException(in + ": tensor " + GGUFFile.quote(t.name()) + " in " + target
                    + " needs an importance matrix, as in llama-quantize (make one with tern imatrix, then pass --imatrix)");
        }
        if (target != t.type() && !imatrix.entries().containsKey(t.name())) {
            throw new TernException(in + ": the importance matrix has no entry for tensor " + GGUFFile.quote(t.name())
                    + ", which " + target + " needs");
        }
    }

    /**
     * The keys llama-quantize adds when given an importance matrix (as its kv overrides, after the file
     * type): the file as named, its first dataset, its entries and chunks.
     */
    private static void recordImportance(GGUFWriter w, ImportanceMatrix imatrix) {
        if (imatrix.source() != null) {
            w.put("quantize.imatrix.file", MetadataValue.of(imatrix.source().toString()));
        }
        if (!imatrix.datasets().isEmpty()) {
            w.put("quantize.imatrix.dataset", MetadataValue.of(imatrix.datasets().getFirst()));
        }
        w.put("quantize.imatrix.entries_count", MetadataValue.ofUInt32(imatrix.entries().size()));
        if (imatrix.chunkCount() > 0) {
            w.put("quantize.imatrix.chunks_count", MetadataValue.ofUInt32(imatrix.chunkCount()));
        }
    }

    /**
     * The importance weights llama-quantize gives this tensor's quantizer, or null where the matrix has none
     * for it; a size that does not fit fails, but for the token embedding, which no product's input reaches.
     */
    private static float[] importance(Path in, ImportanceMatrix imatrix, GGUFTensorInfo t) {
        float[] w = imatrix == null ? null : imatrix.importance(t.name());
        if (w == null) {
            return null;
        }
        long expected = t.shape()[0] * (t.shape().length > 2 ? t.shape()[2] : 1);
        if (w.length != expected) {
            if (t.name().equals("token_embd.weight")) {
                return null;
            }
            throw new TernException(in + ": the importance matrix has " + w.length + " values for tensor "
                    + GGUFFile.quote(t.name()) + ", which needs " + expected);
        }
        return w;
    }

    /**
     * The type an override gives this tensor, or null: as llama_tensor_get_type, an explicit output
     * or token-embedding type is taken as it is (rows that do not fit it fail), and a left output
     * keeps its type.
     */
    private static GGMLType overridden(GGUFTensorInfo t, Overrides o) {
        GGMLType explicit = t.name().equals("output.weight") ? (o.leaveOutput() ? t.type() : o.outputType())
                : t.name().equals("token_embd.weight") ? o.tokenEmbeddingType() : null;
        if (explicit != null) {
            if (explicit != t.type() && t.shape()[0] % explicit.blockSize != 0) {
                throw new TernException("tensor " + GGUFFile.quote(t.name()) + " rows of " + t.shape()[0]
                        + " values do not split into " + explicit + " blocks of " + explicit.blockSize);
            }
            return explicit;
        }
        return null;
    }

    private static boolean isFloat(GGMLType t) {
        return t == GGMLType.F32 || t == GGMLType.F16 || t == GGMLType.BF16;
    }

    private static GGUFWriter.RowSource dequantizer(GGUFFile src, GGUFTensorInfo t) {
        TensorFormat from = TensorFormat.of(t.type());
        MemorySegment data = src.data(t);
        int rowLength = Math.toIntExact(t.rowLength());
        long rowBytes = t.type().byteSize(rowLength);
        return (first, count, dst) -> {
            for (int r = 0; r < count; r++) {
                from.dequantize(data, (first + r) * rowBytes, dst, r * rowLength, rowLength);
            }
        };
    }

    /**
     * The type llama-quantize {@code --pure} gives a tensor when asked for {@code target}:
     * {@code current} for tensors it does not quantize, else {@code target} or its fallback.
     *
     * @throws TernException when the rows do not fit {@code target}'s blocks and llama.cpp has no
     *                       fallback, or one Tern does not support
     */
    public static GGMLType tensorType(String name, long[] shape, GGMLType current, GGMLType target) {
        if (!isQuantizable(name, shape)) {
            return current;
        }
        if (shape[0] % target.blockSize == 0) {
            return target;
        }
        GGMLType fallback = switch (target) {
            case IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_XS -> GGMLType.IQ4_NL;
            case Q2_K, Q3_K, TQ1_0, TQ2_0 -> GGMLType.Q4_0;
            case Q4_K -> GGMLType.Q5_0;
            case Q5_K -> GGMLType.Q5_1;
            case Q6_K -> GGMLType.Q8_0;
            default -> throw new TernException("tensor " + GGUFFile.quote(name) + " rows of " + shape[0] + " values do not split into "
                    + target + " blocks of " + target.blockSize + ", and llama.cpp defines no fallback for " + target);
        };
        return shape[0] % fallback.blockSize == 0 ? fallback : GGMLType.F16;
    }

    /** Whether llama-quantize converts this tensor at all: weight matrices, not norms, gates or 1-D tensors. */
    public static boolean isQuantizable(String name, long[] shape) {
        // ggml_n_dims ignores trailing dimensions of 1, so a [n, 1] tensor counts as 1-D
        int dims = 1;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] > 1) {
                dims = d + 1;
            }
        }
        if (dims < 2 || !name.endsWith("weight")) {
            return false;
        }
        if (name.equals("position_embd.weight") || name.equals("token_types.weight")) {
            return false;
        }
        return NEVER_QUANTIZED.stream().noneMatch(name::contains);
    }

    /**
     * The {@code llama_ftype} of a file whose weight matrices are {@code type}: the "_S" variant
     * for K-quants, as no mix is applied, but MOSTLY_Q2_K (10) for Q2_K: the ftype of
     * llama-quantize's "Q2_K" (its Q2_K_S, 21, is a later and smaller mix); MOSTLY_MXFP4_MOE (38),
     * llama.cpp's only MXFP4 ftype, for MXFP4. The types Tern reads but does not write have theirs
     * too, for random models of them.
     */
    public static int fileType(GGMLType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case Q2_K -> 10;
            case Q3_K -> 11;
            case Q4_K -> 14;
            case Q5_K -> 16;
            case Q6_K -> 18;
            case IQ4_NL -> 25;
            case IQ4_XS -> 30;
            case BF16 -> 32;
            case TQ1_0 -> 36;
            case TQ2_0 -> 37;
            case MXFP4 -> 38;
            case IQ2_XXS -> 19;
            case IQ2_XS -> 20;
            case IQ3_XXS -> 23;
            case IQ1_S -> 24;
            case IQ3_S -> 26;
            case IQ2_S -> 28;
            case IQ1_M -> 31;
            default -> throw new TernException("tensor type " + type + " is not supported (supported: " + GGMLType.supportedNames() + ")");
        };
    }

    /** Fails with a one-line message unless Tern can quantize to {@code type}. */
    public static void requireQuantizable(GGMLType type) {
        if (!type.isSupported()) {
            throw new TernException("cannot quantize to " + type + " (types Tern writes: " + GGMLType.supportedNames() + ")");
        }
    }

    /**
     * llama.cpp's tensor order ({@code weight_name_comparer}): tensors outside blocks first, then
     * by block number, then by name bytewise.
     */
    static final Comparator<String> LLAMA_ORDER = (a, b) -> {
        int la = layer(a);
        int lb = layer(b);
        if (la != lb) {
            return Integer.compare(la, lb);
        }
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    };

    /** The N of a "blk.N." name, or -1 (sscanf("blk.%d.") semantics for plain decimal numbers). */
    static int layer(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int i = 4;
        int end = i;
        while (end < name.length() && end - i < 9 && Character.isDigit(name.charAt(end)) && name.charAt(end) < 128) {
            end++;
        }
        return end == i ? -1 : Integer.parseInt(name, i, end, 10);
    }
}
