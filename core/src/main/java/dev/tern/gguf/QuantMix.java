package dev.tern.gguf;

import dev.tern.tensor.GGMLType;

/**
 * llama-quantize's file types as it writes them by default (not {@code --pure}) for dense
 * Llama-family models: the type's base tensor type for most weights, and others where its
 * {@code llama_tensor_get_type_impl} chooses them: the output matrix (or a tied token embedding)
 * in Q6_K (Q5_K for the 1- and 2-bit IQ types and IQ3_XXS; Q8_0 for Q8_0, and when its rows do not
 * split into the base type's blocks, and for MXFP4_MOE); attn_v, ffn_down, attn_output (and for
 * IQ3_XS and IQ3_XXS attn_q, attn_k, ffn_gate, ffn_up) raised or lowered per layer as each type
 * says; the token embedding of the low-bit types in Q2_K or IQ3_S, TQ1_0/TQ2_0's in Q4_K;
 * MXFP4_MOE's dense matrices in Q8_0 (it keeps MXFP4 for experts). A few choices depend on whether
 * an importance matrix is given. Dense models only: llama.cpp's branches for 8 or more experts and
 * for Falcon never apply. The row-size fallback ({@link ModelQuantizer#tensorType}) applies
 * afterwards, as in llama.cpp.
 */
public enum QuantMix {
    Q4_0(2, GGMLType.Q4_0), Q4_1(3, GGMLType.Q4_1), Q8_0(7, GGMLType.Q8_0), Q5_0(8, GGMLType.Q5_0), Q5_1(9, GGMLType.Q5_1),
    Q2_K(10, GGMLType.Q2_K), Q3_K_S(11, GGMLType.Q3_K), Q3_K_M(12, GGMLType.Q3_K), Q3_K_L(13, GGMLType.Q3_K),
    Q4_K_S(14, GGMLType.Q4_K), Q4_K_M(15, GGMLType.Q4_K), Q5_K_S(16, GGMLType.Q5_K), Q5_K_M(17, GGMLType.Q5_K),
    Q6_K(18, GGMLType.Q6_K), IQ2_XXS(19, GGMLType.IQ2_XXS), IQ2_XS(20, GGMLType.IQ2_XS), Q2_K_S(21, GGMLType.Q2_K),
    IQ3_XS(22, GGMLType.IQ3_S), IQ3_XXS(23, GGMLType.IQ3_XXS), IQ1_S(24, GGMLType.IQ1_S), IQ4_NL(25, GGMLType.IQ4_NL),
    IQ3_S(26, GGMLType.IQ3_S), IQ3_M(27, GGMLType.IQ3_S), IQ2_S(28, GGMLType.IQ2_XS), IQ2_M(29, GGMLType.IQ2_S),
    IQ4_XS(30, GGMLType.IQ4_XS), IQ1_M(31, GGMLType.IQ1_M), TQ1_0(36, GGMLType.TQ1_0), TQ2_0(37, GGMLType.TQ2_0),
    MXFP4_MOE(38, GGMLType.MXFP4);

    /** The llama_ftype number the file records. */
    public final int fileType;
    /** The type of the weights the mix does not change. */
    public final GGMLType base;

    QuantMix(int fileType, GGMLType base) {
        this.fileType = fileType;
        this.base = base;
    }

    /**
     * llama.cpp's name of a {@code general.file_type}: a mix's, else the one tensor type that file
     * type stands for (F32, F16, BF16, the IQ types), else "ftype N".
     */
    public static String fileTypeName(int fileType) {
        for (QuantMix m : values()) {
            if (m.fileType == fileType) {
                return m.name();
            }
        }
        for (GGMLType t : GGMLType.values()) {
            if (t.isSupported() && ModelQuantizer.fileType(t) == fileType) {
                return t.name();
            }
        }
        return "ftype " + fileType;
    }

    /** What the mix needs of the model: its layer count, GQA ratio, whether the output is the token embedding, 70B. */
    record Shape(int layers, int gqa, boolean tiedOutput, boolean is70B, int attentionLayers) {
        Shape(int layers, int gqa, boolean tiedOutput, boolean is70B) {
            this(layers, gqa, tiedOutput, is70B, layers);
        }

        /**
         * As llama.cpp sees the model it quantizes: the FFN rules count the layers of the model's metadata, the
         * attn_v rules the attn_v tensors present (fewer when --prune-layers left some out).
         */
        static Shape of(GGUFFile f) {
            String a = f.getString("general.architecture") + ".";
            int layers = f.getInt(a + "block_count"), heads = f.getInt(a + "attention.head_count");
            int kvHeads = f.getInt(a + "attention.head_count_kv", heads);
            // llama.cpp's LLM_TYPE_70B: a llama of 80 layers whose heads share KV heads
            boolean is70B = f.getString("general.architecture").equals("llama") && layers == 80 && heads != kvHeads;
            int attention = (int) f.tensors().stream().filter(t -> t.name().endsWith("attn_v.weight")).count();
            return new Shape(layers, heads / kvHeads, !f.hasTensor("output.weight"), is70B, attention > 0 ? attention : layers);
        }
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third in between. */
    private static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /** The tensor's type in this mix without an importance matrix, before the fallback for rows that do not split into its blocks. */
    GGMLType typeOf(String name, long rowLength, Shape s) {
        return typeOf(name, rowLength, s, false);
    }

    /**
     * The tensor's type in this mix, before the fallback for rows that do not split into its
     * blocks; {@code importance}: an importance matrix is given (llama.cpp's has_imatrix), which
     * changes IQ3_XXS's attn_v and ffn_down, IQ4_NL/IQ4_XS's first ffn_down layers and raises
     * Q4_0/Q5_0's first ffn_down layers to Q4_1/Q5_1.
     */
    GGMLType typeOf(String name, long rowLength, Shape s, boolean importance) {
        if (name.equals("output.weight") || s.tiedOutput() && name.equals("token_embd.weight")) {
            if (this == MXFP4_MOE || rowLength % base.blockSize != 0 || base == GGMLType.Q8_0) {
                return GGMLType.Q8_0;
            }
            return lowBit() || this == IQ3_XXS ? GGMLType.Q5_K : GGMLType.Q6_K;
        }
        if (this == MXFP4_MOE) {
            return GGMLType.Q8_0;
        }
        if (name.equals("token_embd.weight")) {
            return switch (this) {
                case IQ2_XXS, IQ2_XS, IQ1_S, IQ1_M -> GGMLType.Q2_K;
                case IQ2_S, IQ2_M, IQ3_XXS -> GGMLType.IQ3_S;
                case TQ1_0, TQ2_0 -> GGMLType.Q4_K;
                default -> base;
            };
        }
        int layer = layerOf(name);
        if (lowBit()) {
            return lowBitTypeOf(name, layer, s);
        }
        boolean early = layer < s.layers() / 8;
        if (name.endsWith("attn_v.weight")) {
            GGMLType t = switch (this) {
                case Q2_K -> s.gqa() >= 4 ? GGMLType.Q4_K : GGMLType.Q3_K;
                case Q2_K_S, IQ3_XS, IQ3_S -> s.gqa() >= 4 ? GGMLType.Q4_K : base;
                case IQ3_XXS -> s.gqa() >= 4 ? GGMLType.Q4_K : importance ? base : GGMLType.IQ3_S;
                case IQ3_M -> GGMLType.Q4_K;
                case Q3_K_M -> layer < 2 ? GGMLType.Q5_K : GGMLType.Q4_K;
                case Q3_K_L -> GGMLType.Q5_K;
                case IQ4_NL, IQ4_XS -> s.gqa() >= 4 ? GGMLType.Q5_K : base;
                case Q4_K_M, Q5_K_M -> moreBits(layer, s.attentionLayers()) ? GGMLType.Q6_K : base;
                case Q4_K_S -> layer < 4 ? GGMLType.Q5_K : base;
                default -> base;
            };
            return s.is70B() && (t == GGMLType.Q3_K || t == GGMLType.Q4_K) ? GGMLType.Q5_K : t;
        }
        if (name.endsWith("attn_q.weight") || name.endsWith("attn_k.weight")) {
            return this == IQ3_XS ? GGMLType.IQ3_XXS : this == IQ3_XXS ? GGMLType.IQ2_S : base;
        }
        if (name.endsWith("ffn_down.weight")) {
            return switch (this) {
                case Q2_K -> GGMLType.Q3_K;
                case Q2_K_S -> early ? GGMLType.Q4_K : base;
                case IQ3_XXS -> importance ? base : early ? GGMLType.Q4_K : GGMLType.Q3_K;
                case Q3_K_M -> layer < s.layers() / 16 ? GGMLType.Q5_K : GGMLType.Q4_K;
                case IQ3_M -> early ? GGMLType.Q4_K : base;
                case Q3_K_L -> GGMLType.Q5_K;
                case Q4_K_M, Q5_K_M -> moreBits(layer, s.layers()) ? GGMLType.Q6_K : base;
                case IQ4_NL, IQ4_XS -> early && !importance ? GGMLType.Q5_K : base;
                case Q4_K_S -> early ? GGMLType.Q5_K : base;
                // with an importance matrix only, so that the plain Q4_0/Q5_0 files stay as they were
                case Q4_0 -> early && importance ? GGMLType.Q4_1 : base;
                case Q5_0 -> early && importance ? GGMLType.Q5_1 : base;
                default -> base;
            };
        }
        if (name.endsWith("attn_output.weight")) {
            return switch (this) {
                case Q2_K -> GGMLType.Q3_K;
                case IQ3_XXS -> GGMLType.IQ3_S;
                case Q3_K_M, IQ3_M -> GGMLType.Q4_K;
                case Q3_K_L -> GGMLType.Q5_K;
                default -> base;
            };
        }
        if (name.endsWith("ffn_gate.weight") || name.endsWith("ffn_up.weight")) {
            return this == IQ3_XS && !early && layer < 7 * s.layers() / 8 ? GGMLType.IQ3_XXS : base;
        }
        return base;
    }

    /** The 1- and 2-bit IQ file types, which llama.cpp mixes by rules of their own. */
    private boolean lowBit() {
        return switch (this) {
            case IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M -> true;
            default -> false;
        };
    }

    private GGMLType lowBitTypeOf(String name, int layer, Shape s) {
        // where the others take Q2_K, IQ2_S and IQ2_M take IQ3_S
        boolean s2 = this == IQ2_S || this == IQ2_M;
        GGMLType raised = s2 ? GGMLType.IQ3_S : GGMLType.Q2_K;
        if (name.endsWith("attn_v.weight")) {
            return s.gqa() >= 4 ? GGMLType.Q4_K : raised;
        }
        if (name.endsWith("ffn_down.weight")) {
            return layer < s.layers() / 8 ? raised : base;
        }
        if (name.endsWith("attn_output.weight")) {
            return this == IQ1_S || this == IQ1_M ? GGMLType.IQ2_XXS : s2 ? GGMLType.IQ3_S : base;
        }
        return base;
    }

    /** {@link #needsImportance(int, String, GGMLType)} for a file of this mix. */
    public boolean needsImportance(String tensorName, GGMLType type) {
        return needsImportance(fileType, tensorName, type);
    }

    /**
     * llama.cpp's tensor_requires_imatrix: whether a tensor written as {@code type} (its final
     * type, after the row-size fallback) in a file of {@code fileType} (a mix's, or
     * {@link ModelQuantizer#fileType} of a --pure type) needs an importance matrix: IQ1_S, IQ1_M,
     * IQ2_XXS, IQ2_XS, IQ2_S and IQ3_XXS do, and Q2_K in a Q2_K_S file, except the token embedding
     * and the output. Without a matrix llama-quantize refuses the whole file if any tensor it may
     * quantize ({@link ModelQuantizer#isQuantizable}) needs one, even a tensor that already has its
     * type and is copied; with one, it refuses to convert such a tensor when the matrix has no entry
     * for it. Exempt or not, ggml's IQ2_XXS, IQ2_XS and IQ1_S quantizers cannot run without
     * importance (llama-quantize aborts when --output-tensor-type or --token-embedding-type asks
     * for them without it).
     */
    public static boolean needsImportance(int fileType, String tensorName, GGMLType type) {
        if (tensorName.equals("token_embd.weight") || tensorName.equals("output.weight")) {
            return false;
        }
        return switch (type) {
            case IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS -> true;
            case Q2_K -> fileType == Q2_K_S.fileType;
            default -> false;
        };
    }

    /** N of blk.N., -1 outside the blocks. */
    private static int layerOf(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        return Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
    }
}
